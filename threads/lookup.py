"""Keyed hashes that e-mail addresses and reply tokens are looked up by.

An address or a reply token is stored twice: sealed in its own column (``threads.sealed``), so
it can be read back to send mail or write a reply address, and as an HMAC-SHA256 of its
normalised form in a ``*_hash`` column, which is what every lookup, join and uniqueness
constraint uses. The HMAC key is derived from ``privacy.encryption_key`` (``crypto.lookup_key``,
HKDF with its own label), so someone holding only the database cannot test guessed addresses
against it. Without an encryption key the HMAC key is the same derivation of the empty string:
a fixed, public function. The hash then protects nothing (the value sits in clear beside it),
but the lookup path is one and the same with and without a key, and setting a key later needs
only ``mediate db rotate-key``.

A lookup asks for every hash the value may have been stored under: one per configured key
(newest first) and the keyless one, in one ``IN (...)`` on an indexed column. So routing keeps
working while ``mediate db rotate-key`` rewrites the rows, after an interrupted rotation, and
for rows stored before a key was set.

Normalising (what counts as the same address): the domain is lower-cased and written in IDNA
(``bücher.example`` and ``xn--bcher-kva.example`` are one domain); the local part is NFC and
lower-cased, as Mediate has always compared addresses (``Anna@`` and ``anna@`` are one person;
RFC 5321 lets a server tell them apart, but none a party uses does). Nothing else is folded:
no ``+tag`` or dot removal, which is one provider's habit and elsewhere would let a different
mailbox pass for a party's.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from enum import StrEnum
from functools import lru_cache
from typing import Any

import idna
from sqlalchemy import ColumnElement
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlmodel import col

from threads.crypto import AtRestKey, lookup_key
from threads.sealed import engine_key

UNKEYED = lookup_key(b"")


class Kind(StrEnum):
    ADDRESS = "address"
    TOKEN = "token"


@lru_cache(maxsize=4096)  # mail comes from few domains; IDNA is the slow part of a lookup
def _domain(domain: str) -> str:
    domain = domain.strip().rstrip(".").lower()
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return domain  # not a domain IDNA can write: compared as it came, lower-cased


def normalise_address(address: str) -> str:
    local, _, domain = address.strip().strip("<>").rpartition("@")
    return f"{unicodedata.normalize('NFC', local).lower()}@{_domain(domain)}"


def normalise(value: str, kind: Kind) -> str:
    return normalise_address(value) if kind == Kind.ADDRESS else value.strip().lower()


def _keys(key: AtRestKey | None) -> tuple[bytes, ...]:
    return (*key.lookup, UNKEYED) if key is not None else (UNKEYED,)


def _hmac(secret: bytes, value: str) -> str:
    return hmac.new(secret, value.encode("utf-8"), hashlib.sha256).hexdigest()


def digest(value: str, kind: Kind, key: AtRestKey | None) -> str:
    """The hash a value is stored under: with the newest key (the keyless one without)."""
    return _hmac(_keys(key)[0], normalise(value, kind))


def candidates(value: str, kind: Kind, key: AtRestKey | None) -> list[str]:
    """Every hash a stored value may carry: newest key first, the keyless one last."""
    plain = normalise(value, kind)
    return [_hmac(secret, plain) for secret in _keys(key)]


def session_key(session: Session) -> AtRestKey | None:
    return engine_key(session.get_bind().dialect)


def address_hashes(session: Session, address: str) -> list[str]:
    return candidates(address, Kind.ADDRESS, session_key(session))


def token_hashes(session: Session, token: str) -> list[str]:
    return candidates(token, Kind.TOKEN, session_key(session))


def stored_digest(dialect: Dialect, value: str, kind: Kind) -> str:
    return digest(value, kind, engine_key(dialect))


def is_address(session: Session, hash_column: Any, address: str) -> ColumnElement[bool]:
    """A WHERE clause: this hash column holds ``address`` (under any configured key)."""
    return col(hash_column).in_(address_hashes(session, address))
