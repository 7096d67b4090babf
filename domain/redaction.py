"""A user's id out of a text, in whatever encoding a library wrote it in (ADR 18).

A failed job's error text is kept for good (its ``Failed`` event, the read model,
the log), and forgetting a user does not reach it: it must never hold the id. The
targets build their messages from their configuration; this is the net behind
them. A library may write the id as it is, percent-encoded once or more (with any
safe characters, either case of hex, ``+`` for a space; botocore's URLs encode
an already encoded prefix again), as JSON or Python escapes (``\\u00eb``,
``\\xad``, ``\\\\``, ``\\'``), or as a bytes value's repr (its UTF-8, a byte
at a time: ``zo\\xc3\\xab``), and any nesting of these.

The text is read as a chart: for every position, every character that the text
from there can be read as (itself, or an escape of it, whose own ``%`` or ``\\``
may be escaped in turn), and where that reading ends. The id is found as a path
through the chart, so its exact span in the text is known, and replaced there.
No encoder escapes a letter or a digit, so an escape's hex digits and its ``u``
or ``x`` are read only as they are; that keeps the chart small.
"""

import re
import unicodedata
from collections.abc import Callable, Collection, Iterator

REDACTED = "[user]"
_HEX = frozenset("0123456789abcdefABCDEF")
_ESCAPED_AS_ITSELF = frozenset("\\\"'/")  # \\ \" \' \/
_LONGEST_READING = 256
"""The most text one character is read from: a backslash escaped in JSON eight times
over (256 backslashes), a ``%`` encoded 127 times. Deeper is no text a library
writes, and the bound keeps the chart linear in the text's length."""
_UTF8_WIDTH = [1] * 0x80 + [0] * 0x42 + [2] * 0x1E + [3] * 0x10 + [4] * 0x05 + [0] * 0x0B


def _is_word(character: str) -> bool:
    """A letter or digit of any script (``josé`` is one word), or a mark that
    combines with the one before it (``zoe\\u0308`` is ``zoë``): an id next to one
    is part of a longer word."""
    return character.isalnum() or unicodedata.category(character).startswith("M")


Reading = tuple[int, str]
"""One way to read the text from a position: (where the reading ends, the character)."""


def without_user_id(text: str, user_id: str) -> str:
    """``text`` with every occurrence of the user's id, in any encoding, replaced by
    ``[user]``. Whole occurrences only: user ``a`` must not garble ``failed``, so a
    letter or digit of the text next to an occurrence leaves it as it is."""
    return replaced(text, [user_id], REDACTED)


def replaced(
    text: str, ids: Collection[str], marker: str, joined_by: frozenset[str] = frozenset()
) -> str:
    """``text`` with every whole occurrence of each id, in any encoding, replaced by
    ``marker``. ``joined_by``: characters that join the words of one identifier
    (``alice@example.com``, ``alice.smith``): next to an occurrence, one of them
    followed by a letter or digit makes it part of a longer identifier, not the id."""
    spans = _occurrences(text, ids, joined_by, marker)
    if not spans:
        return text
    kept, last = [], 0
    for start, end in _merged(spans):
        kept += [text[last:start], marker]
        last = end
    kept.append(text[last:])
    return "".join(kept)


def names_any(
    text: str, ids: Collection[str], marker: str, joined_by: frozenset[str] = frozenset()
) -> bool:
    """Whether ``replaced`` would change anything in ``text``."""
    return bool(_occurrences(text, ids, joined_by, marker))


def _occurrences(
    text: str, ids: Collection[str], joined_by: frozenset[str], marker: str
) -> list[tuple[int, int]]:
    """The spans of the ids, but none inside a marker already written: user
    ``forgotten`` is not in ``[forgotten]``, or each pass would wrap it again and
    always find it."""
    wanted = [one for one in ids if one]
    if not wanted or not text:
        return []
    chart = _Chart(text)
    markers = [(m.start(), m.end()) for m in re.finditer(re.escape(marker), text)]
    return [
        (start, end)
        for one in wanted
        for start, end in chart.occurrences(one, joined_by)
        if not any(first <= start and end <= last for first, last in markers)
    ]


def _merged(spans: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    current: tuple[int, int] | None = None
    for start, end in sorted(spans):
        if current is not None and start < current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None:
            yield current
        current = (start, end)
    if current is not None:
        yield current


class _Chart:
    def __init__(self, text: str) -> None:
        self._text = text
        size = len(text)
        # _readings[k][character] = the ends of the readings of that character from k
        self._readings: list[dict[str, set[int]]] = [{} for _ in range(size + 1)]
        # _ending[k][character] = the starts of the readings of that character ending at k
        self._ending: list[dict[str, set[int]]] = [{} for _ in range(size + 1)]
        for position in range(size - 1, -1, -1):
            self._read_from(position)

    def occurrences(self, user_id: str, joined_by: frozenset[str]) -> list[tuple[int, int]]:
        spans = []
        first = user_id[0]
        for start, readings in enumerate(self._readings):
            if first not in readings or not self._clear_before(start, joined_by):
                continue
            positions = {start}
            for character in user_id:
                positions = {
                    end for at in positions for end in self._readings[at].get(character, ())
                }
                if not positions:
                    break
            spans += [(start, end) for end in positions if self._clear_after(end, joined_by)]
        return spans

    def _clear_before(self, position: int, joined_by: frozenset[str]) -> bool:
        """Whether something other than a letter or digit can be read just before
        (nor a joining character with a letter or digit before it)."""
        return position == 0 or any(
            not _is_word(c) and (c not in joined_by or not all(map(self._word_ends, starts)))
            for c, starts in self._ending[position].items()
        )

    def _clear_after(self, position: int, joined_by: frozenset[str]) -> bool:
        """As ``_clear_before``; but where an escape begins, what it escapes is what
        follows, not its ``%`` or backslash: ``alice%40example.com`` is the encoded
        ``alice@example.com``, someone else's id, and ``josé`` is not ``jos``."""
        if position == len(self._text):
            return True
        readings = dict(self._readings[position])
        if len(readings) > 1 and self._text[position] in "%\\":
            del readings[self._text[position]]
        return any(
            not _is_word(c) and (c not in joined_by or not all(map(self._word_starts, ends)))
            for c, ends in readings.items()
        )

    def _word_ends(self, position: int) -> bool:
        return any(map(_is_word, self._ending[position]))

    def _word_starts(self, position: int) -> bool:
        return any(map(_is_word, self._readings[position]))

    def _read_from(self, position: int) -> None:
        """Every reading from ``position``; those of later positions are known. A
        reading from here may need another from here (``%25`` is a ``%``, so
        ``%2541`` is an ``A``): new readings are worked through until none is new."""
        readings = self._readings[position]
        pending: list[Reading] = [(position + 1, self._text[position])]
        while pending:
            end, character = pending.pop()
            ends = readings.setdefault(character, set())
            if end in ends or end - position > _LONGEST_READING:
                continue
            ends.add(end)
            self._ending[end].setdefault(character, set()).add(position)
            if character == "+":
                pending.append((end, " "))
            elif character == "%":
                pending += self._percent_encoded(end)
            elif character == "\\":
                pending += self._backslash_escaped(position, end)

    # Escaped bytes: %XX (percent-encoding) or \\xXX (a bytes value's repr) for each
    # UTF-8 byte, each % or backslash perhaps itself escaped.

    def _hex(self, position: int, digits: int) -> int | None:
        found = self._text[position : position + digits]
        if len(found) == digits and all(c in _HEX for c in found):
            return int(found, 16)
        return None

    def _percent_byte(self, position: int) -> Iterator[tuple[int, int]]:
        for end in self._readings[position].get("%", ()):
            byte = self._hex(end, 2)
            if byte is not None:
                yield end + 2, byte

    def _backslash_byte(self, position: int) -> Iterator[tuple[int, int]]:
        for end in self._readings[position].get("\\", ()):
            byte = self._hex(end + 1, 2) if self._text[end : end + 1] == "x" else None
            if byte is not None:
                yield end + 3, byte

    def _utf8(
        self, first: int, after_first: int, next_byte: Callable[[int], Iterator[tuple[int, int]]]
    ) -> Iterator[Reading]:
        """The characters whose UTF-8 begins with byte ``first`` and goes on with the
        bytes ``next_byte`` reads, escaped alike."""
        sequences = [(after_first, bytes([first]))]
        for _ in range(_UTF8_WIDTH[first] - 1):
            sequences = [
                (end, read + bytes([byte]))
                for position, read in sequences
                for end, byte in next_byte(position)
                if 0x80 <= byte <= 0xBF
            ]
        for end, read in sequences:
            try:
                yield end, read.decode()
            except UnicodeDecodeError:
                continue  # not UTF-8 (an overlong form, a lone byte): read as it is

    def _percent_encoded(self, after_percent: int) -> Iterator[Reading]:
        first = self._hex(after_percent, 2)
        if first is not None:
            yield from self._utf8(first, after_percent + 2, self._percent_byte)

    # Backslash escapes: JSON's and Python's.

    def _backslash_escaped(self, position: int, after_backslash: int) -> Iterator[Reading]:
        text = self._text
        kind = text[after_backslash : after_backslash + 1]
        backslash = text[position:after_backslash]
        for escaped, ends in self._readings[after_backslash].items():
            if escaped not in _ESCAPED_AS_ITSELF:
                continue
            if escaped != "\\":
                yield from ((end, escaped) for end in ends)
            elif text.startswith(backslash, after_backslash):
                # An escaped backslash is two backslashes encoded alike by every later
                # layer (an encoder treats a character the same wherever it is): so
                # a run of n backslashes reads as one in log n ways, not n.
                yield after_backslash + len(backslash), escaped
        digits = {"u": 4, "x": 2, "U": 8}.get(kind)
        if digits is None:
            return
        code = self._hex(after_backslash + 1, digits)
        end = after_backslash + 1 + digits
        if code is None or code > 0x10FFFF:
            return
        if 0xD800 <= code <= 0xDBFF and kind == "u":
            yield from self._surrogate_pair(code, end)
        elif not 0xD800 <= code <= 0xDFFF:
            yield end, chr(code)
        if kind == "x" and code >= 0x80:  # or a byte of UTF-8, as bytes' repr writes it
            yield from self._utf8(code, end, self._backslash_byte)

    def _surrogate_pair(self, high: int, after_high: int) -> Iterator[Reading]:
        """JSON writes a character beyond U+FFFF as two escapes: ``\\ud83d\\ude00``."""
        for backslash_end in self._readings[after_high].get("\\", ()):
            if self._text[backslash_end : backslash_end + 1] != "u":
                continue
            low = self._hex(backslash_end + 1, 4)
            if low is not None and 0xDC00 <= low <= 0xDFFF:
                code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                yield backslash_end + 5, chr(code)
