"""How a pattern turns a person's ids into a name (an object key, a file path), and
the rules that keep two people's names apart.

Each placeholder's value is percent-encoded into one path segment
(:func:`path_segment`): ASCII letters and digits, ``@+-_.,=~`` and ``%`` (which
starts every encoding) are all an encoded value can hold. A *separator* is any
other character: ``/`` first, also ``:``, ``;``, ``!``, ``#``, ``|``, a space…; never
``-``, ``_`` or ``.``, which a user id keeps as they are, nor a letter or a digit.

Two placeholders need a separator between them: in ``{projectId}{userId}/``, user
``23`` of project 1 and user ``3`` of project 12 are both ``123/``. With a
separator, a name reads back as one set of ids, whatever the ids. (``-`` would
happen to do after a project id, which is a number, but not between a user id and
a session id that is not one: one rule, the one that holds for every id.)

A target's several patterns (a prefix and exact keys) can still overlap:
``{userId}`` and ``{userId}.json`` name user ``bob``'s second object and user
``bob.json``'s first alike. :class:`KeyReader` reads a name back through every
pattern of its target: a name that reads as someone else's ids is never deleted.
Targets that share a bucket are kept apart the same way (:func:`bucket_problem`):
``{sessionId}/`` beside ``{projectId}/{userId}/`` names, for session 1, every user's
objects of project 1; and so are files targets whose directories are one, or one
inside the other (:func:`directory_problem`).
"""

import re
import string
from collections.abc import Callable, Collection, Mapping, Sequence
from urllib.parse import quote

PLACEHOLDERS = frozenset({"projectId", "userId", "sessionId"})
SAFE = "@+-_.,=~"
_VALUE = "[A-Za-z0-9%" + re.escape(SAFE) + "]+"
"""Every encoded value: a user id, or a session id that is not a number."""
_NUMBER = "-?[0-9]+"


def path_segment(value: str) -> str:
    encoded = quote(value, safe=SAFE)
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


def is_separator(character: str) -> bool:
    """Whether the character can never be part of an encoded value."""
    return character != "%" and quote(character, safe=SAFE) != character


def placeholders(pattern: str) -> set[str]:
    """ValueError for a malformed pattern."""
    return {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}


def pattern_problem(
    pattern: str, sessions_from: str | None, session_targets: Collection[str]
) -> str | None:
    """Why a target's pattern (a files pattern, an s3 prefix or key) cannot be used,
    in a few words, or None."""
    try:
        used = placeholders(pattern)
    except ValueError as error:
        return f"bad pattern {pattern!r}: {error}"
    if not used <= PLACEHOLDERS:
        return f"unknown placeholders {used - PLACEHOLDERS}."
    if "userId" not in used and "sessionId" not in used:
        return "the pattern must name {userId} or {sessionId}."
    if "sessionId" in used and sessions_from not in session_targets:
        return "a {sessionId} pattern needs sessions_from naming a sql target."
    if "sessionId" not in used and sessions_from is not None:
        return "sessions_from goes with a {sessionId} pattern (this one names no session)."
    if "sessionId" not in used and "projectId" not in used:
        # A user id is only unique within a project: without the project, one
        # project's request would delete another's data of a same-named user.
        return "a {userId} pattern must also name {projectId}."
    return _unseparated(pattern)


def names_problem(prefix: str | None, keys: Sequence[str]) -> str | None:
    """Why an s3 target's prefix and exact keys cannot be used together, or None."""
    if prefix is None and not keys:
        return "name a prefix, exact keys, or both."
    if prefix is not None and not prefix.endswith("/"):
        return (
            "the prefix must end with '/' (otherwise {sessionId} 12 would also name "
            "session 120's objects); name an object that has no '/' as an exact key."
        )
    if len(set(keys)) != len(keys) or "" in keys:
        return "name each exact key once."
    overlap = KeyReader(prefix, keys).overlap()
    if overlap is not None:
        return f"{overlap[0]!r} and {overlap[1]!r} can name one object for two people."
    return None


def bucket_problem(
    bucket: str, targets: Sequence[tuple[str, str | None, Sequence[str]]]
) -> str | None:
    """Why s3 targets that share one bucket (each a name, a prefix and exact keys)
    cannot be used together, or None: a pattern of one names an object that a
    pattern of another reads as someone else's (for session 1, ``{sessionId}/`` is
    ``{projectId}/{userId}/`` of every user of project 1)."""
    readers = [(name, KeyReader(prefix, keys)) for name, prefix, keys in targets]
    return _shared_problem(f"share bucket {bucket}", "object", readers, str)


def directory_problem(directory: str, targets: Sequence[tuple[str, str]]) -> str | None:
    """Why files targets whose paths are in one directory (each a name and its
    pattern below ``directory``, a target's own directory inside it leading the
    pattern, braces doubled) cannot be used together, or None. A pattern names a
    file, or a folder and everything in it: the same as an s3 prefix and exact key."""
    readers = [(name, KeyReader(pattern + "/", [pattern])) for name, pattern in targets]
    return _shared_problem(
        f"share directory {directory}", "file", readers, lambda read: read.removesuffix("/")
    )


def _shared_problem(
    shared: str,
    thing: str,
    readers: Sequence[tuple[str, "KeyReader"]],
    shown: Callable[[str], str],
) -> str | None:
    for first, (name, reader) in enumerate(readers):
        for second, (other, theirs) in enumerate(readers):
            overlap = reader.overlap(theirs) if first != second else None
            if overlap is not None:
                (_, of_one), (_, of_two) = sorted(
                    [(first, (name, overlap[0])), (second, (other, overlap[1]))]
                )
                return (
                    f"Targets {of_one[0]} and {of_two[0]} {shared}: "
                    f"{shown(of_one[1])!r} and {shown(of_two[1])!r} can name one {thing} "
                    "for two people."
                )
    return None


def _unseparated(pattern: str) -> str | None:
    previous: str | None = None  # the last placeholder, until a separator follows it
    for literal, name, spec, conversion in string.Formatter().parse(pattern):
        if any(is_separator(character) for character in literal):
            previous = None
        if name is None:
            continue
        if spec or conversion:
            return f"{{{name}}} takes no format or conversion."
        if previous is not None:
            return (
                f"{{{previous}}} and {{{name}}} need a separator between them, such as '/' "
                "('-', '_' and '.' can be part of an id: {projectId}{userId} names user 23 "
                "of project 1 and user 3 of project 12 alike)."
            )
        previous = name
    return None


class KeyReader:
    """Reads a name back into the ids of each of a target's patterns that could
    have made it."""

    def __init__(self, prefix: str | None, keys: Sequence[str]) -> None:
        self._patterns = [(prefix, False)] if prefix else []
        self._patterns += [(key, True) for key in keys]
        self._regexes: dict[bool, list[tuple[str, re.Pattern[str], bool]]] = {}

    def someone_else(self, name: str, ids: Mapping[str, str], numbers: bool) -> str | None:
        """The pattern through which ``name`` reads as ids other than ``ids`` (the
        encoded ids of the person it was made for), or None. ``numbers``: session ids
        are integers (the same column holds everyone's: so are theirs)."""
        for pattern, regex, exact in self._compiled(numbers):
            found = regex.fullmatch(name) if exact else regex.match(name)
            if found and any(found[key] != ids.get(key) for key in found.groupdict()):
                return pattern
        return None

    def overlap(self, reading: "KeyReader | None" = None) -> tuple[str, str] | None:
        """Two patterns, one of these and one of ``reading``'s (by default these
        again), that can name one object for two people, tried with sample ids (a
        number for a session, as OpenReplay's): None if none is found."""
        ids = {"projectId": "1", "userId": "u", "sessionId": "23"}
        for pattern, exact in self._patterns:
            name = pattern.format(**ids) + ("" if exact else "x")
            other = (reading or self).someone_else(name, ids, numbers=True)
            if other is not None:
                return pattern, other
        return None

    def _compiled(self, numbers: bool) -> list[tuple[str, re.Pattern[str], bool]]:
        if numbers not in self._regexes:
            self._regexes[numbers] = [
                (pattern, _regex(pattern, numbers), exact) for pattern, exact in self._patterns
            ]
        return self._regexes[numbers]


def _regex(pattern: str, numbers: bool) -> re.Pattern[str]:
    classes = {"projectId": "[0-9]+", "userId": _VALUE, "sessionId": _NUMBER if numbers else _VALUE}
    pieces: list[str] = []
    named: set[str] = set()
    for literal, name, _, _ in string.Formatter().parse(pattern):
        pieces.append(re.escape(literal))
        if name is not None:  # a placeholder met again holds the same value again
            pieces.append(f"(?P={name})" if name in named else f"(?P<{name}>{classes[name]})")
            named.add(name)
    return re.compile("".join(pieces))
