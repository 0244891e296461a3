"""Database engines and schema upgrades (Alembic) for SQLite and PostgreSQL.

SQLite is the embedded default: WAL journal so readers never wait for the writer, a busy timeout
so concurrent writers queue instead of failing with 'database is locked'. PostgreSQL is chosen
by giving a ``postgresql+psycopg://`` URL.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine

from threads.writer_queue import WriterQueue

MIGRATIONS = Path(__file__).parent / "migrations"
_READ_ONLY = "mediate_read_only"
_WRITER_LOCKS: dict[object, WriterLock] = {}
# Queue writers across processes too (threads.writer_queue); False only to measure without it.
CROSS_PROCESS_QUEUE = True


class WriterLock:
    """SQLite's one writer at a time, queued inside this process: re-entrant for the thread
    that holds it, and a writer marked ``first`` (the SMTP server storing mail it has not yet
    answered) goes ahead of every other waiting writer, so a sender never waits behind more
    than the one transaction that is running. ``queue``: the same across the processes that
    share the file, taken by the thread that holds this lock."""

    def __init__(self, queue: WriterQueue | None = None) -> None:
        self.queue = queue
        self._condition = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._first_waiting = 0

    @contextmanager
    def hold(self, first: bool = False) -> Iterator[None]:
        me = threading.get_ident()
        with self._condition:
            outer = self._owner != me
            if outer:
                self._first_waiting += first
                try:
                    while self._owner is not None or (not first and self._first_waiting):
                        self._condition.wait()
                finally:
                    self._first_waiting -= first
                self._owner = me
            self._depth += 1
        try:
            if outer and self.queue is not None:
                with self.queue.hold(first):
                    yield
            else:
                yield
        finally:
            with self._condition:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._condition.notify_all()


class SchemaOutOfDate(RuntimeError):
    """The database schema is behind the code; the administrator must run the upgrade."""


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _ensure_sqlite_folder(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            # Let SQLAlchemy's "begin" below open the transaction itself.
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection) -> None:  # type: ignore[no-untyped-def]
            # Take the write lock up front: a deferred transaction that reads and then writes
            # fails at once with 'database is locked' when another writer got in between,
            # instead of waiting for the busy timeout. Read-only work (read_scope) begins
            # deferred: under WAL it reads a snapshot and never waits for the writer.
            if connection.get_execution_options().get(_READ_ONLY):
                connection.exec_driver_sql("BEGIN")
            else:
                connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _ensure_sqlite_folder(url: str) -> None:
    path = url.split("///", 1)[-1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


@contextmanager
def session_scope(engine: Engine, first: bool = False) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error. ``first``:
    on SQLite this writer goes ahead of the others waiting in this process (see WriterLock)."""
    with _writers(engine, first):
        session = Session(engine, expire_on_commit=False)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def _writers(engine: Engine, first: bool = False) -> contextlib.AbstractContextManager:
    """SQLite has one writer at a time. Writers of this process queue on a lock that wakes the
    next at once, instead of meeting a busy database, whose handler sleeps (1, 2, 5 ... 100 ms)
    before trying again; and the processes sharing the file queue on ``WriterQueue``."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    lock = _WRITER_LOCKS.get(engine.url)
    if lock is None:
        database = engine.url.database
        queue = WriterQueue(Path(database)) \
            if CROSS_PROCESS_QUEUE and database and database != ":memory:" else None
        lock = _WRITER_LOCKS.setdefault(engine.url, WriterLock(queue))
    return lock.hold(first)


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A session for reads only (e.g. the RCPT check): on SQLite it never takes the write lock."""
    session = Session(engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def _alembic_config(engine: Engine) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str | None:
    script = ScriptDirectory.from_config(_alembic_config_without_engine())
    return script.get_current_head()


def _alembic_config_without_engine() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(_alembic_config(engine), revision)


def check_schema(engine: Engine) -> None:
    """Raise SchemaOutOfDate unless the database is at the newest migration."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"the database schema is at {current or 'nothing (empty database)'}, "
            f"the code needs {head}: run 'mediate db upgrade' first"
        )
