"""API keys and lookups as text: making a key, reading one from a header, and a small
memo of lookups that would otherwise hit the database on every request.

Keys are long random strings, so a fast hash (SHA-256) is enough to make a stolen
table useless; comparisons run in constant time where they are made."""

import hashlib
import secrets
import string
import time
from collections.abc import Callable
from typing import Any

ALPHABET = string.ascii_letters + string.digits
KEY_PREFIX = "jt"


def random_token(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


FOREIGN_KEY_LENGTHS = range(16, 257)
"""Keys made elsewhere (an OpenReplay tenant's api_key) that may be registered."""


def foreign_key_id(key: str) -> str:
    """The id a key made elsewhere is stored under: derived from its hash, since
    such a key carries no id of ours (and the hash is stored anyway)."""
    return "x" + sha256_hex(key)[:15]


def is_foreign_key(key: str) -> bool:
    return (
        len(key) in FOREIGN_KEY_LENGTHS and is_token(key) and not key.startswith(f"{KEY_PREFIX}_")
    )


def parse_authorization(header: str) -> tuple[str, str] | None:
    """(key id, secret) from a raw key or ``Bearer <key>``; None if it is not one.
    A key of another format (imported from OpenReplay) is its own secret."""
    value = header.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    parts = value.split("_")
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return (foreign_key_id(value), value) if is_foreign_key(value) else None
    if not all(is_token(part) for part in parts[1:]):
        return None  # never sent to the database: it could not be one of ours
    return parts[1], parts[2]


def is_token(text: str) -> bool:
    """Printable ASCII without spaces: what key ids, secrets and project keys are made
    of. Anything else (a NUL, a control character) cannot name one."""
    return text.isascii() and text.isprintable() and " " not in text


class TtlCache:
    """A small time-bounded memo of lookups that hit the database on every request."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, Any]] = {}

    def get(self, key: str, load: Callable[[str], Any]) -> Any:
        now = self._clock()
        found = self._entries.get(key)
        if found is not None and found[0] > now:
            return found[1]
        value = load(key)
        # Misses are remembered too: a lookup then costs the same whether the key or
        # project exists or not, so timing does not tell which do. Keys and project
        # keys are random, so nobody asks for one before it exists.
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key] = (now + self._seconds, value)
        return value

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)
