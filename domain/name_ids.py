"""Ids derived from names: RFC 4122 version 5, as ``uuid.uuid5`` makes them, in half
its time (scheduling derives three for each new user, and the standard library's
spent 3% of a request there, most of it checking arguments it has no need to)."""

from hashlib import sha1
from uuid import UUID

_VARIANT_AND_VERSION = ~((0xC000 << 48) | (0xF000 << 64))
_RFC_4122_VERSION_5 = (0x8000 << 48) | (5 << 76)


class NameIds:
    """The ids of names in one namespace."""

    def __init__(self, namespace: UUID) -> None:
        self._namespace = namespace.bytes

    def id_of(self, name: str) -> UUID:
        # SHA-1 because RFC 4122's version 5 says so: a name's id, not a secret's hash.
        name_hash = sha1(self._namespace + name.encode(), usedforsecurity=False)
        digest = int.from_bytes(name_hash.digest()[:16])
        return UUID(int=digest & _VARIANT_AND_VERSION | _RFC_4122_VERSION_5)
