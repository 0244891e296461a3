"""Shared fixtures: each test runs on SQLite and, when MEDIATE_TEST_DATABASE_URL is set, on
PostgreSQL (a fresh schema per test), against a real SMTP server and a real SMTP sink."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy
from support import DKIM_KEY, Sink

from mediate.config import Settings, from_mapping
from mediate.service import Service
from threads import db

PG_URL = os.environ.get("MEDIATE_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
DOMAIN = "mediation.test"
MEDIATOR = "mediator@office.test"


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path: Path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mediate.sqlite3'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(PG_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    if "pg_empty" not in request.keywords:
        engine = db.make_engine(url)
        db.upgrade(engine)  # as the administrator would with 'mediate db upgrade'
        engine.dispose()
    yield url
    with admin.begin() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


def make_settings(tmp_path: Path, database_url: str, **sections) -> Settings:
    data = {
        "service": {"domain": DOMAIN, "secret_key": "test-secret-key-0123456789-abcdefghij"},
        "database": {"url": database_url},
        "inbound": {"smtp": {"host": "127.0.0.1", "port": 0}},
        "web": {"host": "127.0.0.1", "port": 0},
        "outbound": {"transport": "maildir", "maildir": "outbox"},
        "mediators": [
            {"email": MEDIATOR, "name": "Maria de Vries", "language": "en", "hourly_rate": 100}
        ],
        # Tests run on the real clock, at any hour: open-mode copies would wait for the
        # morning when run at night. tests/test_night_hold.py turns it on, on a fake clock.
        "relay": {"night_hold": False},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return from_mapping(data, tmp_path, environ={})


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
async def sink():
    server = await Sink().start()
    yield server
    await server.stop()


@pytest.fixture
async def service(tmp_path: Path, database_url: str, sink: Sink, request):
    """A running Mediate (SMTP in, pipeline, outbox) delivering over SMTP into ``sink``.
    ``@pytest.mark.smtp(key=value, ...)`` sets keys of its ``[inbound.smtp]``."""
    marker = request.node.get_closest_marker("smtp")
    settings = make_settings(
        tmp_path, database_url,
        inbound={"smtp": {"host": "127.0.0.1", "port": 0, **(marker.kwargs if marker else {})}},
        outbound={"transport": "smtp", "host": "127.0.0.1", "port": sink.port},
    )
    running = Service.build(settings, dkim_dns=DKIM_KEY.dns)
    await running.start()
    yield running
    await running.stop()
    running.engine.dispose()
