"""Encryption at rest for raw mail and attachments (``privacy.encryption_key``).

Stored bytes are sealed with Fernet (AES-128-CBC plus HMAC-SHA256, from the ``cryptography``
package) and carry a short marker so that reading works across the switch: bytes written
before a key was set have no marker and pass through unchanged, sealed bytes are opened with
the key. Several keys may be given, comma-separated, for rotation: the first seals, every one
opens (Fernet's ``MultiFernet``).

A missing or wrong key is an error, never silent plaintext: unsealing sealed bytes without
the key that sealed them raises ``SealError``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MARKER = b"MEDIATE-SEALED-1:"


class SealError(ValueError):
    """Sealed bytes could not be opened: no key, or not the key they were sealed with."""


def new_key() -> str:
    """A fresh key for ``privacy.encryption_key`` (url-safe base64 of 32 random bytes)."""
    return Fernet.generate_key().decode()


def check_key(setting: str) -> None:
    """Raise ValueError naming what is wrong with a ``privacy.encryption_key`` value."""
    for part in (p.strip() for p in setting.split(",")):
        try:
            Fernet(part.encode())
        except (ValueError, TypeError):
            raise ValueError(
                "must be a Fernet key (44 characters of url-safe base64); "
                "config.example.toml shows how to make one"
            ) from None


LOOKUP_INFO = b"mediate lookup hash v1"


def lookup_key(secret: bytes) -> bytes:
    """The HMAC key that addresses and tokens are looked up by (threads.lookup): HKDF-SHA256
    of a Fernet key's 32 bytes with its own ``info``, so it is independent of the sealing key.
    Without an encryption key the secret is empty and the result a fixed, public value."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=LOOKUP_INFO).derive(secret)


@dataclass(frozen=True)
class AtRestKey:
    """The key (or keys, newest first) that seal stored mail, and the lookup-hash keys derived
    from them in the same order."""

    fernet: MultiFernet
    lookup: tuple[bytes, ...] = ()

    @classmethod
    def from_setting(cls, setting: str) -> AtRestKey | None:
        """None when no key is configured: mail is then stored as it came."""
        parts = [p.strip() for p in setting.split(",") if p.strip()]
        if not parts:
            return None
        check_key(setting)
        return cls(MultiFernet([Fernet(p.encode()) for p in parts]),
                   tuple(lookup_key(base64.urlsafe_b64decode(p)) for p in parts))


def is_sealed(data: bytes) -> bool:
    return data.startswith(MARKER)


def seal(data: bytes | bytearray, key: AtRestKey | None) -> bytes | bytearray:
    """Encrypt for storage; without a key the bytes are stored as they are (a received mail's
    buffer, mailgate.receive, is bound as it is: no copy)."""
    if key is None:
        return data
    return MARKER + key.fernet.encrypt(bytes(data))


def unseal(data: bytes, key: AtRestKey | None) -> bytes:
    """The original bytes: opened when sealed, unchanged when stored before a key was set."""
    if not is_sealed(data):
        return data
    if key is None:
        raise SealError("stored mail is encrypted but privacy.encryption_key is not set")
    try:
        return key.fernet.decrypt(data[len(MARKER):])
    except InvalidToken:
        raise SealError("stored mail was encrypted with another privacy.encryption_key") from None
