"""Personal data that can be forgotten: sealed with a key per subject, which is destroyed.

A subject is a keyed hash (HMAC-SHA256 under a secret of the installation) of a
project and a user id: the log, its ledgers and the lookups name users only by it,
so an id cannot be recovered from them by hashing guesses without the secret. The
user id itself is stored only sealed (AES-256-GCM, from `cryptography`) with the
subject's data key, which lives in ``personal_data_keys``, outside the log.
Destroying that row forgets the id in every event, copy and export of the log
at once, while the log's bytes, and so its hash chain, stay as they were.
"""

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import RecordConflictError
from sqlalchemy import select

from infrastructure.data_key_table import DataKeyTable, KeyRef
from infrastructure.database import Database
from infrastructure.tables import service_secrets

SUBJECT_SECRET = "subjects"  # noqa: S105 - the name of the secret, not its value
SEALED_FROM = "sealed-from"
_NONCE_BYTES = 12
FORGETTING_HEARD_WITHIN = 1.0
"""Seconds within which every process stops using a data key that another process
destroyed (``jobtrail forget``, a worker's round): a process using a cached key
first looks, at most this often, whether any key was destroyed since it last
looked (one small query), and then drops its cached keys. Scheduling keeps its
cache meanwhile: a short key lifetime instead would read a re-requested user's
key again for every request more than that far apart."""


NewKey = tuple[str, int, bytes, int]
"""A key made for the events being appended: (subject, generation, key, created ms)."""

_with_next_append: ContextVar[dict[KeyRef, tuple[NewKey, AESGCM]] | None] = ContextVar(
    "jobtrail_new_keys", default=None
)
"""The keys made for the append under way, by ref, each with its cipher made once (None:
no append is under way): each event's seal finds its key without a scan of the batch's."""


def keys_to_store() -> tuple[NewKey, ...]:
    """The keys the events being appended (by this thread) are sealed with, made for
    them: the recorder stores them in the append's own transaction, so a key exists
    exactly when the events it seals do. A key made meanwhile by another writer
    makes the insert fail, and the append with it: a conflict, retried."""
    return tuple(made for made, _ in (_with_next_append.get() or {}).values())


def _made_for_this_append(ref: KeyRef) -> AESGCM | None:
    made = (_with_next_append.get() or {}).get(ref)
    return None if made is None else made[1]


class KeyGoneMeanwhile(RecordConflictError):
    """A conflict: the events being appended were prepared with a key since destroyed."""


class SealBroken(ValueError):
    """A sealed field that its key does not open: edited, or moved from another event."""


class PersonalDataVault:
    """Subjects, data keys and sealing, on the database's ``personal_data_keys``.

    Keys are cached for ``cache_seconds``; a key another process destroys is heard of
    within FORGETTING_HEARD_WITHIN (the log's forgetting events apply at once)."""

    def __init__(
        self, database: Database, cache_seconds: float = 60.0, cache_size: int = 20_000
    ) -> None:
        self._db = database
        self._table = DataKeyTable(database)
        self._cache_seconds = cache_seconds
        self._cache_size = cache_size
        self._keys: OrderedDict[KeyRef, tuple[float, AESGCM]] = OrderedDict()
        self._lock = threading.Lock()
        self._secret: bytes | None = None
        self._sealed_from: int | None = None
        self._collisions: set[KeyRef] = set()
        self._destroyed_mark: object = _NOT_LOOKED
        self._next_look = 0.0
        self._looking = threading.Lock()
        self._forgetting_seen = 0

    # Subjects

    def subject(self, project_id: int, user_id: str) -> str:
        message = f"{project_id}\x00{user_id}".encode()
        return hmac.new(self._subject_secret(), message, hashlib.sha256).hexdigest()

    def _subject_secret(self) -> bytes:
        if self._secret is None:
            value = self._service_secret(SUBJECT_SECRET)
            if value is None:
                raise LookupError(
                    "This database predates sealed personal data: start `jobtrail serve` "
                    "or `jobtrail worker` on it once to upgrade it."
                )
            self._secret = bytes.fromhex(value)
        return self._secret

    def sealed_from(self) -> int:
        """The first log position whose personal data is sealed (1 for a log that
        began sealed): events before it were written in the clear. Set once, when
        the database is first prepared by a version that seals."""
        if self._sealed_from is None:
            value = self._service_secret(SEALED_FROM)
            if value is None:
                return 1
            self._sealed_from = int(value)
        return self._sealed_from

    def _service_secret(self, name: str) -> str | None:
        with self._db.reader() as conn:
            value: str | None = conn.execute(
                select(service_secrets.c.value).where(service_secrets.c.name == name)
            ).scalar()
        return value

    # Keys

    def provide(self, refs: Collection[KeyRef]) -> None:
        """Makes sure each key exists, making the missing ones; concurrent makers of
        one key agree on the first one stored. One transaction for all of them."""
        missing = sorted({ref for ref in refs if self._cached(ref) is None})
        if not missing:
            return
        now_ms = int(time.time() * 1000)
        rows = [
            {
                "subject": s,
                "generation": g,
                "data_key": AESGCM.generate_key(256),
                "created_at": now_ms,
            }
            for s, g in missing
        ]
        self._table.add_missing(rows)
        stored = self._table.keys_of(missing)
        for ref in missing:
            self._remember(ref, stored[ref])

    def propose(self, refs: Iterable[KeyRef]) -> list[NewKey]:
        """New keys for these refs, for the next append to seal with and store: they
        join the cache only once it has stored them (``stored_with_next_append``), so
        no other reader ever meets a key that was not stored."""
        now_ms = int(time.time() * 1000)
        return [
            (subject, generation, AESGCM.generate_key(256), now_ms) for subject, generation in refs
        ]

    @contextmanager
    def stored_with_next_append(self, made: list[NewKey]) -> Iterator[None]:
        """Within it, sealing uses these keys, and the recorder stores them with the
        events; they are cached once the append succeeded. An append that failed may
        have met a key another writer made for the same ref: that ref is looked up
        before the next one makes a key for it again."""
        token = _with_next_append.set({(new[0], new[1]): (new, AESGCM(new[2])) for new in made})
        try:
            yield
        except BaseException:
            with self._lock:
                self._collisions.update((subject, generation) for subject, generation, _, _ in made)
                if len(self._collisions) > 10_000:
                    self._collisions.clear()
            raise
        finally:
            _with_next_append.reset(token)
        for subject, generation, data_key, _ in made:
            self._remember((subject, generation), data_key)

    def collided(self, ref: KeyRef) -> bool:
        """Whether an append that made this key failed: it may exist after all."""
        return ref in self._collisions

    def is_cached(self, ref: KeyRef) -> bool:
        return self._cached(ref) is not None

    def forget_cached(self, refs: Iterable[KeyRef]) -> None:
        with self._lock:
            for ref in refs:
                self._keys.pop(ref, None)

    def prefetch(self, refs: Iterable[KeyRef]) -> None:
        """Brings these keys into the cache in one query (those that still exist)."""
        missing = list({ref for ref in refs if self._cached(ref) is None})
        if not missing:
            return
        for ref, data_key in self._table.keys_of(missing).items():
            self._remember(ref, data_key)

    @property
    def forgetting_seen(self) -> int:
        """How many times this vault has destroyed keys or heard that keys were: a
        reader elsewhere notes it before it reads keys, and hands it to ``heard``."""
        return self._forgetting_seen

    def heard(self, destroyed_mark: str | None, found: Mapping[KeyRef, bytes], seen: int) -> None:
        """Keys another reader read (scheduling's, on the event loop) in one snapshot
        with the destroyed mark, after it noted ``forgetting_seen``: taken as this
        vault's own look, unless keys were destroyed or heard of since (its read may
        hold a key that no longer exists: the vault looks again instead)."""
        with self._lock:
            if seen != self._forgetting_seen:
                return
            if destroyed_mark != self._destroyed_mark:
                self._keys.clear()
                self._destroyed_mark = destroyed_mark
                self._forgetting_seen += 1
            self._next_look = time.monotonic() + FORGETTING_HEARD_WITHIN
        for ref, data_key in found.items():
            self._remember(ref, data_key)

    def destroy(self, refs: Collection[KeyRef]) -> int:
        """Destroys the keys; returns how many existed. What they sealed is forgotten."""
        destroyed = self._table.delete(refs)
        with self._lock:
            for ref in refs:
                self._keys.pop(ref, None)
            self._forgetting_seen += 1
        return destroyed

    def keys_created_before(self, cutoff_ms: int, limit: int) -> list[KeyRef]:
        return self._table.created_before(cutoff_ms, limit)

    def scrub(self) -> None:
        """Leaves no copy of destroyed keys in the database's own files."""
        self._table.scrub()

    # Sealing

    def seal(self, ref: KeyRef, aad: bytes, plaintext: bytes) -> str:
        key = _made_for_this_append(ref) or self._key(ref)
        if key is None and _with_next_append.get() is not None:
            # The append's keys were decided with a key that is gone now (destroyed
            # meanwhile): made here, it would be stored outside the append, and stay
            # when the append is refused. The append is decided again instead.
            raise KeyGoneMeanwhile(f"the data key of {ref[0][:8]}… was destroyed meanwhile")
        if key is None:
            self.provide([ref])
            key = self._key(ref)
            assert key is not None
        nonce = os.urandom(_NONCE_BYTES)
        return base64.b64encode(nonce + key.encrypt(nonce, plaintext, aad)).decode()

    def open(self, ref: KeyRef, aad: bytes, sealed: str) -> bytes | None:
        """The sealed bytes, or None when the key is destroyed (the data is forgotten)."""
        key = self._key(ref)
        if key is None:
            return None
        data = base64.b64decode(sealed)
        try:
            return key.decrypt(data[:_NONCE_BYTES], data[_NONCE_BYTES:], aad)
        except InvalidTag as error:
            raise SealBroken("sealed personal data does not open with its key") from error

    def _key(self, ref: KeyRef) -> AESGCM | None:
        cached = self._cached(ref)
        if cached is not None:
            return cached
        found = self._table.keys_of([ref]).get(ref)
        return None if found is None else self._remember(ref, found)

    def _cached(self, ref: KeyRef) -> AESGCM | None:
        self._hear_of_destroyed_keys()
        with self._lock:
            entry = self._keys.get(ref)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                del self._keys[ref]
                return None
            self._keys.move_to_end(ref)
            return entry[1]

    def _hear_of_destroyed_keys(self) -> None:
        """Drops every cached key once any key was destroyed anywhere since the last
        look; looks at most every FORGETTING_HEARD_WITHIN seconds, one thread at a
        time (the others use the cache meanwhile: the look is under way)."""
        started = time.monotonic()
        if started < self._next_look or not self._looking.acquire(blocking=False):
            return
        try:
            mark = self._table.destroyed_mark()
            if mark != self._destroyed_mark:
                # A key read from the database before this look may have been
                # destroyed since: dropped with the rest, and read again if it exists.
                with self._lock:
                    self._keys.clear()
                    self._forgetting_seen += 1
                self._destroyed_mark = mark
            self._next_look = started + FORGETTING_HEARD_WITHIN
        finally:
            self._looking.release()

    def _remember(self, ref: KeyRef, data_key: bytes) -> AESGCM:
        key = AESGCM(data_key)
        with self._lock:
            self._keys[ref] = (time.monotonic() + self._cache_seconds, key)
            self._keys.move_to_end(ref)
            while len(self._keys) > self._cache_size:
                self._keys.popitem(last=False)
        return key


_NOT_LOOKED = object()


def new_subject_secret() -> str:
    return secrets.token_hex(32)
