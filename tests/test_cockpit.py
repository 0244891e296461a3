"""The mediator's cockpit (issue 18): every mail in the reader's own time, money and words.

A Dutch and an English office each run a real case over loopback SMTP; the tests read the
mail as its reader would: local times and dates as their language writes them, amounts as
their locale writes them, subjects that say what a mail is.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DOMAIN, MEDIATOR
from sqlmodel import Session, select
from support import DKIM_KEY, Sink
from test_walking_skeleton import ANNA, BRAM, CEES, reply

from mediate import casework
from mediate.config import from_mapping
from mediate.service import Service
from threads.locales import date_and_time, long_date
from threads.models import Case, Participant, utcnow

NAMES = {ANNA: "Anna Jansen", BRAM: "Bram de Boer", CEES: "Cees Ünal"}
TITLE = {"nl": "Omgang met Lotte en Daan", "en": "Sharing the house"}


def office_settings(tmp_path: Path, database_url: str, sink: Sink, lang: str, **sections):
    data = {
        "service": {"domain": DOMAIN, "secret_key": "test-secret-key-0123456789-abcdefghij"},
        "database": {"url": database_url},
        "inbound": {"smtp": {"host": "127.0.0.1", "port": 0}},
        "web": {"host": "127.0.0.1", "port": 0},
        "outbound": {"transport": "smtp", "host": "127.0.0.1", "port": sink.port},
        "fees": {"platform_fee": 95.0, "vat_percent": 21},
        "mediators": [{
            "email": MEDIATOR, "name": "Maria de Vries", "language": lang,
            "hourly_rate": 120,
            "signature": ("Hartelijke groet,\nMaria de Vries\nFamiliemediator" if lang == "nl"
                          else "Kind regards,\nMaria de Vries\nFamily mediator"),
            "phone": "06 12 34 56 78",
        }],
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return from_mapping(data, tmp_path, environ={})


@pytest.fixture(params=["nl", "en"])
async def office(request, tmp_path: Path, database_url: str, sink: Sink):
    """A running Mediate whose mediator (and cases) speak ``office.lang``."""
    settings = office_settings(tmp_path, database_url, sink, request.param)
    running = Service.build(settings, dkim_dns=DKIM_KEY.dns)
    running.lang = request.param
    await running.start()
    yield running
    await running.stop()
    running.engine.dispose()


async def open_case(service, lang: str, **options):
    opened = casework.open_case(
        service.settings, title=TITLE[lang], mediator_email=MEDIATOR,
        parties=[f"{NAMES[p]} <{p}>" for p in (ANNA, BRAM, CEES)], language=lang,
        engine=service.engine, **options,
    )
    await service.settle()
    addresses = dict(opened.party_addresses)
    return opened, {ANNA: addresses[NAMES[ANNA]], BRAM: addresses[NAMES[BRAM]],
                    CEES: addresses[NAMES[CEES]], MEDIATOR: opened.mediator_address}


def person(service, email: str) -> Participant:
    with Session(service.engine) as session:
        return session.exec(select(Participant).where(Participant.email == email)).one()


def last_to(sink: Sink, address: str) -> str:
    return sink.to(address)[-1].text


# -- 2. local time and dates ----------------------------------------------------------------

async def test_status_shows_times_in_the_cases_zone_as_the_mediators_language_writes_them(
    office, sink
):
    lang = office.lang
    opened, address = await open_case(office, lang, timezone="America/New_York")
    await reply(office, ANNA, address[ANNA], "Ik wil graag beginnen." if lang == "nl"
                else "I would like to start.")
    await reply(office, MEDIATOR, address[MEDIATOR], "#status")
    status = last_to(sink, MEDIATOR)
    written = person(office, ANNA).last_message_at
    assert date_and_time(written, lang, "America/New_York") in status
    assert date_and_time(written, lang, "Europe/Amsterdam") not in status  # not the service's
    assert "UTC" not in status


async def test_a_time_entry_is_dated_as_the_readers_language_writes_dates(office, sink):
    lang = office.lang
    opened, address = await open_case(office, lang)
    await reply(office, MEDIATOR, address[MEDIATOR], "#time 1h30 intake")
    await reply(office, MEDIATOR, address[MEDIATOR], "#costs")
    costs = last_to(sink, MEDIATOR)
    today = long_date(utcnow(), lang, "Europe/Amsterdam")
    assert today in costs  # "4 december 2026" / "4 December 2026"
    month = today.split()[1]
    assert month == month.lower() if lang == "nl" else month[0].isupper()


def test_a_case_opened_with_an_unknown_time_zone_is_refused(settings):
    with pytest.raises(casework.cases.CaseError) as refused:
        casework.open_case(settings, title="x", mediator_email=MEDIATOR,
                           parties=[f"Anna <{ANNA}>", f"Bram <{BRAM}>"],
                           timezone="Europe/Atlantis")
    assert "--timezone" in str(refused.value)


def test_the_case_keeps_its_zone_and_form_of_address(settings):
    opened = casework.open_case(settings, title="x", mediator_email=MEDIATOR,
                                parties=[f"Anna <{ANNA}>", f"Bram <{BRAM}>"],
                                timezone="Europe/Brussels", address="je")
    engine = casework.prepare_database(settings)
    with Session(engine) as session:
        case = session.exec(select(Case).where(Case.ref == opened.ref)).one()
        assert (case.timezone, case.address) == ("Europe/Brussels", "je")
    engine.dispose()
