"""Schema management: migrations match the models; PostgreSQL refuses an out-of-date schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from mediate.service import prepare_database
from threads import db


def test_migrations_create_exactly_the_schema_the_models_describe(database_url):
    engine = db.make_engine(database_url)
    db.upgrade(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == []
    assert db.current_revision(engine) == db.head_revision()
    engine.dispose()


@pytest.mark.pg_empty
def test_serve_upgrades_sqlite_itself_but_refuses_an_old_postgresql_schema(settings):
    if settings.database_url.startswith("sqlite"):
        engine = prepare_database(settings)
        assert db.current_revision(engine) == db.head_revision()
        return
    with pytest.raises(db.SchemaOutOfDate, match="run 'mediate db upgrade' first"):
        prepare_database(settings)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    prepare_database(settings)  # now it starts


def test_a_sender_waiting_to_store_mail_goes_ahead_of_other_waiting_writers():
    """SQLite writers of one process queue on db.WriterLock; the SMTP server's store (first)
    must not wait behind the pipeline's and the outbox's queued transactions."""
    import threading
    import time

    lock = db.WriterLock()
    order: list[str] = []
    holding = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with lock.hold():
            holding.set()
            release.wait(5)

    def writer(name: str, first: bool) -> None:
        with lock.hold(first), lock.hold(first):  # re-entrant for the thread holding it
            order.append(name)

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    assert holding.wait(5)
    for name in ("pipeline", "outbox"):
        threads.append(threading.Thread(target=writer, args=(name, False)))
        threads[-1].start()
    threads.append(threading.Thread(target=writer, args=("smtp", True)))
    threads[-1].start()
    deadline = time.monotonic() + 5
    while lock._first_waiting == 0 and time.monotonic() < deadline:  # smtp is queued
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(5)
    assert order[0] == "smtp" and sorted(order[1:]) == ["outbox", "pipeline"]
