"""Files of a user, or of the user's sessions, under one directory.

Placeholder values are percent-encoded into one path segment each, so a user id
like ``../x`` or ``*`` is a literal name and never escapes the directory. Links
are never followed: a link named by the pattern is removed as a link, a folder
reached through a link is refused, and nothing outside the directory is touched.
Errors name paths relative to the directory, never the server's own layout.
"""

import contextlib
import os
import stat
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from urllib.parse import quote

from infrastructure.target_config import ConfigError, FilesTargetConfig

_SAFE = "@+-_.,=~"


class UnsafePath(ValueError):
    """A path the pattern names cannot be reached without following a link."""


def path_segment(value: str) -> str:
    encoded = quote(value, safe=_SAFE)
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


class FilePattern:
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

    def path(self, project_id: int, user_id: str, session_id: object = "") -> Path:
        """The path the pattern names, made of real folders below the root.

        Every folder between the root and the last segment is checked not to be a
        link, so the path cannot lead outside the root; the last segment may be
        anything (a link there is removed as a link)."""
        relative = self.pattern.format(
            projectId=path_segment(str(project_id)),
            userId=path_segment(user_id),
            sessionId=path_segment(str(session_id)),
        )
        parts = Path(relative).parts
        if not parts or any(part in ("..", ".") for part in parts) or Path(relative).is_absolute():
            raise UnsafePath(f"{self.name}: {relative!r} leaves its directory")
        folder = self.root
        for part in parts[:-1]:
            folder = folder / part
            try:
                mode = os.lstat(folder).st_mode
            except FileNotFoundError:
                break  # nothing below it exists either
            if not stat.S_ISDIR(mode):
                raise UnsafePath(f"{self.name}: {relative!r} passes through a link or a file")
        return self.root.joinpath(*parts)


def remove(path: Path) -> int:
    """Removes a file or a link (never what it points to); 0 for a folder or nothing."""
    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            return 0
        path.unlink()
        return 1
    except FileNotFoundError:
        return 0


def _entries(folder: Path) -> list[tuple[Path, bool]]:
    """(path, is a real folder) for each entry, links as entries, not followed."""
    try:
        with os.scandir(folder) as scan:
            return [(Path(e.path), e.is_dir(follow_symlinks=False)) for e in scan]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _files_below(folder: Path) -> Iterator[Path]:
    """Every file and link below the folder, found as they are asked for."""
    folders = [folder]
    while folders:
        for path, is_folder in _entries(folders.pop()):
            if is_folder:
                folders.append(path)
            else:
                yield path


def _is_folder(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


class UserFilesTarget:
    """Files or a folder named by the user: deleted ``limit`` files at a time."""

    def __init__(self, pattern: FilePattern) -> None:
        self._pattern = pattern

    @property
    def name(self) -> str:
        return self._pattern.name

    def check(self) -> None:
        self._pattern.check()

    def describe(self) -> list[str]:
        return [self._pattern.describe()]

    def delete_batch(self, project_id: int, user_id: str, limit: int) -> dict[str, int]:
        path = self._pattern.path(project_id, user_id)
        if not _is_folder(path):
            return {self.name: remove(path)}
        deleted = 0
        for file in islice(_files_below(path), limit):
            deleted += remove(file)
        if deleted < limit:
            _remove_empty_folders(path)
        return {self.name: deleted}

    def remaining(self, project_id: int, user_id: str) -> dict[str, int]:
        path = self._pattern.path(project_id, user_id)
        if _is_folder(path):
            return {self.name: sum(1 for _ in _files_below(path))}
        return {self.name: int(os.path.lexists(path))}


def _remove_empty_folders(path: Path) -> None:
    # rmdir, never rmtree: a file that appeared meanwhile is left for the next
    # batch to delete and count, instead of vanishing unrecorded.
    for folder, _, _ in os.walk(path, topdown=False):
        with contextlib.suppress(OSError):
            os.rmdir(folder)
