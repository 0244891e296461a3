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
