"""Large values (a mail, a file) written to SQLite without SQLite keeping a copy of them.

Bound as a parameter, a 25 MB file is copied by SQLite (pysqlite binds with
SQLITE_TRANSIENT) and that copy stays with the cached prepared statement until the statement
is next used, since pysqlite never clears bindings: memory held after the transaction, in
the pipeline beside the next steps of the same decision. On SQLite a large value is
therefore inserted as ``zeroblob(n)`` and written into its row in pieces through incremental
blob I/O (sqlite3_blob_write, Python's ``Connection.blobopen``), in the same transaction:
committed together with the row, or not at all. PostgreSQL takes it as a parameter.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, text
from sqlmodel import Session

LARGE_BYTES = 1 << 20  # smaller values are bound as they are
PIECE_BYTES = 1 << 20


def is_large(session: Session, data: bytes | bytearray) -> bool:
    """Whether ``data`` goes in as ``zeroblob`` and then ``fill``."""
    return len(data) >= LARGE_BYTES and session.get_bind().dialect.name == "sqlite"


def placeholder(data: bytes | bytearray) -> Any:
    """The column's value in the INSERT: room for ``data``, filled by ``fill``."""
    return func.zeroblob(len(data))


def fill(session: Session, table: str, column: str, rowid: int,
         data: bytes | bytearray) -> None:
    """Write ``data`` into the row's ``zeroblob``, a piece at a time, in the session's
    transaction."""
    connection = session.connection().connection.dbapi_connection
    view = memoryview(data)
    with connection.blobopen(table, column, rowid) as blob:  # type: ignore[union-attr]
        for start in range(0, len(view), PIECE_BYTES):
            blob.write(view[start:start + PIECE_BYTES])


def rowid(session: Session, table: str, key: str, value: str) -> int:
    """SQLite's rowid of the row whose ``key`` is ``value`` (a table keyed by text)."""
    return session.execute(text(f"SELECT rowid FROM {table} WHERE {key} = :value"),
                           {"value": value}).scalar_one()
