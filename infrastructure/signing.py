"""The installation's Ed25519 signing key, kept in a file outside the database.

Someone who can write to the database can rewrite the log, its chain and its tree, but
cannot sign a checkpoint without this file; an auditor holds only the public key
(`cryptography`'s Ed25519, ADR 27). The public key's fingerprint is the SHA-256 of its
32 raw bytes, in hex.
"""

import base64
import binascii
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class KeyFileError(Exception):
    """A key file that is missing, unreadable, of the wrong kind or too open."""


@dataclass(frozen=True)
class PublicKey:
    key: Ed25519PublicKey

    @property
    def fingerprint(self) -> str:
        raw = self.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()

    def verifies(self, signature: str, message: bytes) -> bool:
        try:
            self.key.verify(base64.b64decode(signature, validate=True), message)
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True

    def pem(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @classmethod
    def from_pem(cls, data: bytes, name: str) -> "PublicKey":
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as error:
            raise KeyFileError(f"{name} is not a PEM public key") from error
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFileError(f"{name} is not an Ed25519 public key")
        return cls(key)

    @classmethod
    def load(cls, path: Path) -> "PublicKey":
        return cls.from_pem(_read(path), str(path))


@dataclass(frozen=True)
class SigningKey:
    key: Ed25519PrivateKey

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.key.public_key())

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.key.sign(message)).decode("ascii")

    @classmethod
    def load(cls, path: Path) -> "SigningKey":
        data = _read(path)
        if b"PUBLIC KEY-----" in data:
            raise KeyFileError(f"{path} is a public key: name the private key beside it")
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as error:
            raise KeyFileError(f"{path} is not an unencrypted PEM private key") from error
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"{path} is not an Ed25519 private key")
        if os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(
                f"{path} can be read by other users of this machine: chmod 600 {path}"
            )
        return cls(key)


def generate_key_pair(private_path: Path) -> tuple[SigningKey, Path]:
    """Writes a new private key (mode 600) and its public key beside it, as
    ``<name>.pub``; refuses to overwrite either."""
    public_path = private_path.with_name(private_path.name + ".pub")
    for path in (private_path, public_path):
        if path.exists():
            raise KeyFileError(f"{path} exists: a key is never overwritten")
    signing = SigningKey(Ed25519PrivateKey.generate())
    private_pem = signing.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_new(private_path, private_pem, 0o600)
    _write_new(public_path, signing.public.pem(), 0o644)
    return signing, public_path


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as error:
        raise KeyFileError(f"{path} does not exist") from error
    except OSError as error:
        raise KeyFileError(f"{path} cannot be read: {error.strerror}") from error


def _write_new(path: Path, data: bytes, mode: int) -> None:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as error:
        raise KeyFileError(f"{path} cannot be written: {error.strerror}") from error
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
