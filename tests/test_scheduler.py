"""The scheduler inside `mediate serve`: APScheduler triggers sweeps on the service's loop, the
reminders travel over real SMTP, /healthz can read its state, and `mediate reminders preview`
lists what would be sent without sending."""

from __future__ import annotations

import asyncio
import importlib.util
from datetime import UTC, datetime, timedelta

import pytest
from conftest import make_settings
from reminder_world import World, days, local
from support import DKIM_KEY

from mediate.cli import main
from mediate.service import Service


@pytest.fixture
async def running(tmp_path, database_url, sink):
    World.make(tmp_path, database_url)  # the schema, as `mediate db upgrade` leaves it
    settings = make_settings(
        tmp_path, database_url,
        outbound={"transport": "smtp", "host": "127.0.0.1", "port": sink.port},
        reminders={"quiet_hours": "off"},
    )
    service = Service.build(settings, dkim_dns=DKIM_KEY.dns)
    await service.start()
    yield service
    await service.stop()
    service.engine.dispose()


async def test_serve_runs_the_scheduler_and_reports_its_state(running):
    scheduler = running.scheduler
    assert scheduler.running
    state = scheduler.state()
    assert state["running"] and state["next_sweep"] and state["last_error"] is None
    await running.stop()
    assert not scheduler.running


async def test_a_sweep_sends_reminders_over_smtp_from_the_partys_reply_address(running, sink):
    world = World(running.settings, running.engine)
    await asyncio.to_thread(world.open_case, "Anna", "Bram")
    await running.settle()
    sink.delivered.clear()
    report = await running.scheduler.sweep_now(datetime.now(UTC) + days(3) + timedelta(hours=1))
    assert report.sent["register"] == 2
    await running.settle()
    await sink.wait_for(2)
    [to_anna] = sink.to("anna@home.test")
    assert "registered" in to_anna.text and "Maria de Vries" in to_anna.text
    if importlib.util.find_spec("threads.links"):  # the signed-link pages (issue 4)
        assert f"{running.settings.service.base_url}/register/" in to_anna.text
    assert to_anna.message["From"].startswith("Maria de Vries <")
    assert running.scheduler.state()["last_sent"] == {"register": 2}


async def test_apscheduler_triggers_the_sweep_on_its_own(running):
    await running.scheduler.stop()
    from mediate.scheduler import Scheduler

    scheduler = Scheduler(running.engine, running.composer, running.settings)
    scheduler.start(first_after=timedelta(0))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while scheduler.sweeps == 0 and loop.time() < deadline:
        await asyncio.sleep(0.02)
    await scheduler.stop()
    assert scheduler.sweeps >= 1 and scheduler.last_error is None


def test_preview_lists_what_would_be_sent_and_why_without_sending(tmp_path, database_url,
                                                                   capsys):
    import time_machine

    world = World.make(tmp_path, database_url)
    with time_machine.travel(local(2026, 3, 2, 22, 0), tick=False):
        world.open_case("Anna", "Bram")
    config = tmp_path / "config.toml"
    config.write_text(
        '[service]\ndomain = "mediation.test"\n'
        'secret_key = "test-secret-key-0123456789-abcdefghij"\n'
        f'[database]\nurl = "{database_url}"\n'
        '[[mediators]]\nemail = "mediator@office.test"\nname = "Maria de Vries"\n'
    )
    assert main(["--config", str(config), "reminders", "preview", "--at", "2026-03-05T22:30"]) == 0
    out = capsys.readouterr().out
    assert "register to Anna (after quiet hours (2026-03-06T08:00+01:00))" in out
    assert "has not registered since the invitation" in out
    assert world.count("reminder-register") == 0
    main(["--config", str(config), "reminders", "preview", "--at", "2026-03-03T09:00"])
    assert "nothing is due" in capsys.readouterr().out
