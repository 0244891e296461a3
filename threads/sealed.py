"""Personal text sealed column by column in the database (``privacy.encryption_key``).

What a person wrote or is (message text and subject, intake answers, names, what a signature
recorded: the text, the typed name, IP address and browser) is stored sealed with the same
Fernet keys as raw mail (``threads.crypto``), by column types that seal on the way in and open
on the way out: the code above them reads and writes plain values. Values written before a key
was set have no marker and are read as they are; ``mediate db rotate-key`` seals them, and
re-seals everything with the newest key.

The key belongs to the engine (``use_key``), not to the process, so that two services in one
process (tests, the demo) each have their own. Sealed columns cannot be searched or compared in
SQL: e-mail addresses and reply tokens, which mail is routed by, are sealed too and looked up
by a keyed hash kept beside them (``threads.lookup``).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import JSON, Engine, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from threads.crypto import MARKER, AtRestKey, seal, unseal

_TEXT_MARKER = MARKER.decode()
_ATTRIBUTE = "mediate_at_rest"


def use_key(engine: Engine, key: AtRestKey | None) -> None:
    """Seal this engine's personal columns with ``key``; None stores them as written."""
    setattr(engine.dialect, _ATTRIBUTE, key)


def engine_key(dialect: Dialect) -> AtRestKey | None:
    return dialect.__dict__.get(_ATTRIBUTE)  # an engine nobody gave a key: none


def seal_text(value: str, key: AtRestKey | None) -> str:
    return seal(value.encode("utf-8"), key).decode("ascii") if key is not None else value


def open_text(value: str, key: AtRestKey | None) -> str:
    if not value.startswith(_TEXT_MARKER):
        return value
    return unseal(value.encode("ascii"), key).decode("utf-8")


class SealedText(TypeDecorator):
    """A text column stored sealed when the engine has a key (VARCHAR without a length: a
    sealed value is about twice as long as the text)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else seal_text(value, engine_key(dialect))

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else open_text(value, engine_key(dialect))


class SealedJSON(TypeDecorator):
    """A JSON column whose value is stored as one sealed JSON string when the engine has a key;
    the column stays JSON, so rows written before a key was set read as they are."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        key = engine_key(dialect)
        return value if key is None else seal_text(json.dumps(value), key)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, str) and value.startswith(_TEXT_MARKER):
            return json.loads(open_text(value, engine_key(dialect)))
        return value
