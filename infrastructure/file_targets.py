"""Files of a user, or of the user's sessions, under one directory.

Placeholder values are percent-encoded into one path segment each, so a user id
like ``../x`` or ``*`` is a literal name and never escapes the directory. Links
are never followed: every folder is opened relative to the one above it with
``O_NOFOLLOW``, and everything in it is listed, removed and counted through that
open folder. A folder swapped for a link while a batch runs is therefore never
entered (there is no moment between checking a path and using it), a link named
by the pattern is removed as a link, and nothing outside the directory is touched.
Errors name paths relative to the directory, never the server's own layout, and
name no user's or session's id: those segments are shown as their placeholders.
"""

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from application.ports import BatchInterrupted
from infrastructure.key_patterns import path_segment
from infrastructure.target_config import ConfigError, FilesTargetConfig
from infrastructure.until_gone import removed_until_gone

_SESSION_STEP = 10_000
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
# A name the file system cannot hold (too long) names nothing that could be deleted.
_NOTHING_THERE = (errno.ENOENT, errno.ENAMETOOLONG, errno.ENOTDIR)
# A folder that could not go because it changed since it was emptied: the next batch decides.
_CHANGED_SINCE = (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT, errno.ENOTDIR)


class UnsafePath(ValueError):
    """A path the pattern names cannot be reached without following a link."""


class TargetFileError(OSError):
    """A file could not be removed; the message names it relative to its directory."""


class FilePattern:
    counts_exactly = True  # a file counts only when this process removed it

    def __init__(self, config: FilesTargetConfig) -> None:
        self.name = config.name
        self.root = Path(config.directory)
        self.pattern = config.pattern

    def check(self) -> None:
        if not self.root.is_dir():
            raise ConfigError(f"Target {self.name}: directory {self.root} does not exist.")
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise ConfigError(f"Target {self.name}: directory {self.root} is not writable.")

    def describe(self) -> str:
        return f"{self.name}: files {self.root / self.pattern}"

    def parts(self, project_id: int, user_id: str, session_id: object = "") -> list[str]:
        """The pattern's path below the directory, one literal name per segment."""
        relative = self.pattern.format(
            projectId=path_segment(str(project_id)),
            userId=path_segment(user_id),
            sessionId=path_segment(str(session_id)),
        )
        parts = relative.split("/")
        if not all(parts) or any(part in ("..", ".") for part in parts):
            raise UnsafePath(f"{self.name}: {self.shown(parts)!r} leaves its directory")
        return parts

    @contextmanager
    def parent_of(self, parts: list[str]) -> Iterator[int | None]:
        """The folder holding the last segment, opened without following any link;
        None when some folder on the way does not exist (then neither does the file)."""
        fd = os.open(self.root, _FOLDER)
        try:
            for part in parts[:-1]:
                try:
                    below = os.open(part, _FOLDER, dir_fd=fd)
                except OSError as error:
                    mode = _kind(fd, part) if error.errno in (errno.ELOOP, errno.ENOTDIR) else None
                    if mode is not None and stat.S_ISLNK(mode):
                        raise UnsafePath(
                            f"{self.name}: {self.shown(parts)!r} passes through a link"
                        ) from None
                    if error.errno in _NOTHING_THERE:
                        yield None  # a file where a folder should be: nothing below it
                        return
                    raise self.error(parts, error) from None
                os.close(fd)
                fd = below
            yield fd
        finally:
            os.close(fd)

    def error(self, parts: list[str], error: OSError) -> TargetFileError:
        return TargetFileError(f"{self.name}: {self.shown(parts)}: {error.strerror}")

    def shown(self, parts: list[str]) -> str:
        """The path for a message: a segment naming the user or a session stays as its
        pattern (``{userId}``, ``{sessionId}``), because the message is kept in the
        job's record, which must not hold the user's id, nor her sessions' ids (her
        rows may outlive a failed job and name her); only the project's is shown."""
        template = self.pattern.split("/")
        return "/".join(
            pattern if "{userId}" in pattern or "{sessionId}" in pattern else part
            for pattern, part in zip(template, parts, strict=False)
        )

    def remove(self, project_id: int, user_id: str, session_id: object, limit: int) -> int:
        """Removes what the pattern names: a file or a link, or every file of a folder
        (``limit`` at a time, the folder itself once empty). Returns how many files."""
        parts = self.parts(project_id, user_id, session_id)
        with self.parent_of(parts) as parent:
            if parent is None:
                return 0
            tally = _Tally()
            try:
                _remove_entry(parent, parts[-1], limit, tally)
            except Exception as error:
                # Whatever stopped the walk (a file that stays, a folder nested deeper
                # than it can recurse), what it removed is gone for good: counted.
                failure = self.error(parts, error) if isinstance(error, OSError) else error
                if tally.removed:
                    raise BatchInterrupted({self.name: tally.removed}, failure) from None
                raise failure from None
            return tally.removed

    def remove_user_objects(self, project_id: int, user_id: str, limit: int) -> int:
        """At most ``limit`` of the files the pattern names for the user (no session)."""
        return self.remove(project_id, user_id, "", limit)

    def remove_sessions(self, project_id: int, user_id: str, session_ids: list[object]) -> int:
        """Everything of these sessions; a failure part way still counts what went."""
        removed = 0
        for session_id in session_ids:
            try:
                removed += self.remove_all(project_id, user_id, session_id)
            except BatchInterrupted as interrupted:  # this session's files went part way
                gone = removed + interrupted.deleted.get(self.name, 0)
                raise BatchInterrupted({self.name: gone}, interrupted.cause) from interrupted
            except Exception as error:
                if removed:
                    raise BatchInterrupted({self.name: removed}, error) from error
                raise
        return removed

    def remove_all(self, project_id: int, user_id: str, session_id: object) -> int:
        """Removes everything the pattern names for one session: its row is about to
        go, and with it the only way to find these files again. So the session is
        counted again after its files went, and what landed meanwhile (a recorder's
        last chunk, written after the listing) goes too, until a count finds nothing;
        files still appearing after ``PASSES`` fail the batch, transiently (the rows
        stay), what went counted."""

        def remove() -> Iterator[int]:
            while (step := self.remove(project_id, user_id, session_id, _SESSION_STEP)) > 0:
                yield step
                if step < _SESSION_STEP:
                    break

        def left() -> bool:
            return self.count(project_id, user_id, session_id) > 0

        return removed_until_gone(self.name, "files of a session", remove, left)

    def count(self, project_id: int, user_id: str, session_id: object = "") -> int:
        """How many files (links included) the pattern names now."""
        parts = self.parts(project_id, user_id, session_id)
        with self.parent_of(parts) as parent:
            if parent is None:
                return 0
            try:
                return _count_entry(parent, parts[-1])
            except OSError as error:
                raise self.error(parts, error) from None


def _kind(parent: int, name: str) -> int | None:
    """The entry's type (links not followed), None if there is none."""
    try:
        return os.lstat(name, dir_fd=parent).st_mode
    except OSError as error:
        if error.errno in _NOTHING_THERE:
            return None
        raise


def _open_folder(parent: int, name: str) -> int | None:
    """The entry opened as a folder, None if it is not one (a file, a link, gone)."""
    try:
        return os.open(name, _FOLDER, dir_fd=parent)
    except OSError as error:
        if error.errno in (*_NOTHING_THERE, errno.ELOOP):
            return None
        raise


class _Tally:
    """Files removed so far: kept when a later one fails, for they are gone."""

    def __init__(self) -> None:
        self.removed = 0


def _remove_entry(parent: int, name: str, limit: int, tally: _Tally) -> int:
    folder = _open_folder(parent, name)
    if folder is None:
        mode = _kind(parent, name)
        if mode is None:
            return 0
        try:
            os.unlink(name, dir_fd=parent)  # a file, or a link: never what it points to
        except IsADirectoryError:
            # It became a folder since it was looked at: the next batch empties it.
            return 0
        tally.removed += 1
        return 1
    try:
        removed = _empty(folder, limit, tally)
    finally:
        os.close(folder)
    if removed < limit:
        # rmdir, never a recursive delete: a file that appeared meanwhile is left for
        # the next batch to delete and count, instead of vanishing unrecorded. Any other
        # refusal fails the batch: the folder's name (a user's id) is the person's too,
        # and no count would ever see an empty folder stay.
        try:
            os.rmdir(name, dir_fd=parent)
        except OSError as error:
            if error.errno not in _CHANGED_SINCE:
                raise
    return removed


def _empty(folder: int, limit: int, tally: _Tally) -> int:
    """Removes up to ``limit`` files below the open folder, and its emptied folders."""
    removed = 0
    with os.scandir(folder) as entries:
        for entry in entries:  # lazily: a batch lists no more of a big folder than it needs
            if removed >= limit:
                break
            if entry.is_dir(follow_symlinks=False):
                removed += _remove_entry(folder, entry.name, limit - removed, tally)
            else:
                # Gone, or become a folder, since it was listed: the next batch decides.
                with suppress(FileNotFoundError, IsADirectoryError):
                    os.unlink(entry.name, dir_fd=folder)
                    removed += 1
                    tally.removed += 1
    return removed


def _count_entry(parent: int, name: str) -> int:
    folder = _open_folder(parent, name)
    if folder is None:
        return 0 if _kind(parent, name) is None else 1
    try:
        with os.scandir(folder) as entries:
            found = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
        return sum(_count_entry(folder, n) if is_folder else 1 for n, is_folder in found)
    finally:
        os.close(folder)
