"""The mediator's cockpit (issue 18): every mail in the reader's own time, money and words.

A Dutch and an English office each run a real case over loopback SMTP; the tests read the
mail as its reader would: local times and dates as their language writes them, amounts as
their locale writes them, subjects that say what a mail is.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from conftest import DOMAIN, MEDIATOR
from sqlmodel import Session, select
from support import DKIM_KEY, Sink
from test_thread_views import linked, views
from test_walking_skeleton import ANNA, BRAM, CEES, reply
from web_world import DEFAULT_PAGES, client, fill_intake, register, sign

from mailgate.compose import PRIVATE_LABEL
from mediate import casework
from mediate.config import from_mapping
from mediate.service import Service
from threads.i18n import translate
from threads.locales import date_and_time, long_date
from threads.lookup import is_address
from threads.models import Case, Participant, SafetyAlert, utcnow

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
        "relay": {"night_hold": False},  # on the real clock, at any hour (tests/conftest.py)
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


async def open_case(service, lang: str, parties=(ANNA, BRAM, CEES), **options):
    opened = casework.open_case(
        service.settings, title=TITLE[lang], mediator_email=MEDIATOR,
        parties=[f"{NAMES[p]} <{p}>" for p in parties], language=lang,
        engine=service.engine, **options,
    )
    await service.settle()
    addresses = dict(opened.party_addresses)
    return opened, {**{p: addresses[NAMES[p]] for p in parties},
                    MEDIATOR: opened.mediator_address}


def person(service, email: str) -> Participant:
    with Session(service.engine) as session:
        return session.exec(select(Participant).where(
            is_address(session, Participant.email_hash, email))).one()


def last_to(sink: Sink, address: str) -> str:
    return text_of(sink.to(address)[-1])


def text_of(delivered) -> str:
    """The body as read: Babel keeps "€" and the amount together with a no-break space."""
    return delivered.text.replace("\xa0", " ").replace("\r\n", "\n")


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


# -- 3. money ------------------------------------------------------------------------------

AMOUNTS = {  # 1h30 at 120 = 180, + 95 platform = 275, + 21% VAT 57.75 = 332.75
    "nl": ["€ 120,00", "€ 180,00", "€ 95,00", "€ 57,75", "€ 332,75", "Btw 21%"],
    "en": ["€120.00", "€180.00", "€95.00", "€57.75", "€332.75", "VAT 21%"],
}


async def test_costs_are_written_as_the_readers_locale_writes_money_with_vat_apart(
    office, sink
):
    lang = office.lang
    opened, address = await open_case(office, lang)
    await reply(office, MEDIATOR, address[MEDIATOR], "#tijd 1u30 intake")
    await reply(office, MEDIATOR, address[MEDIATOR], "#kosten")
    costs = last_to(sink, MEDIATOR)
    for amount in AMOUNTS[lang]:
        assert amount in costs
    assert "EUR" not in costs and "332.75" not in costs.replace("€332.75", "")


async def test_a_split_in_dutch_words_shares_the_costs_and_each_party_gets_only_their_own(
    office, sink
):
    lang = office.lang
    opened, address = await open_case(office, lang)
    await reply(office, MEDIATOR, address[MEDIATOR], "#tijd 1u30 intake")
    await reply(office, MEDIATOR, address[MEDIATOR], "#verdeling Anna 50 Bram 30 Cees 20")
    confirmation = last_to(sink, MEDIATOR)
    assert "Anna Jansen 50%" in confirmation and "Cees Ünal 20%" in confirmation
    sink.delivered.clear()
    await reply(office, MEDIATOR, address[MEDIATOR], "#kosten stuur")
    expected = {ANNA: "166,38" if lang == "nl" else "166.38",  # 50% of 332.75, half up
                BRAM: "99,83" if lang == "nl" else "99.83",
                CEES: "66,55" if lang == "nl" else "66.55"}
    for party, amount in expected.items():
        [statement] = sink.to(party)
        assert amount in text_of(statement)
        others = set(expected.values()) - {amount}
        assert not any(other in text_of(statement) for other in others)  # nobody else's share
        assert NAMES[BRAM if party != BRAM else ANNA] not in text_of(statement)
    overview = last_to(sink, MEDIATOR)
    assert all(amount in overview for amount in expected.values())


async def test_a_split_that_does_not_add_up_is_refused_and_changes_nothing(office, sink):
    opened, address = await open_case(office, office.lang)
    await reply(office, MEDIATOR, address[MEDIATOR], "#split Anna 50 Bram 30")
    answer = last_to(sink, MEDIATOR)
    assert "80" in answer and "100" in answer
    assert person(office, ANNA).cost_share is None


def test_an_equal_split_adds_up_to_the_cent():
    from decimal import Decimal
    from types import SimpleNamespace

    from threads.costs import shares

    parties = [SimpleNamespace(cost_share=None, relation=None, name=n) for n in "ABC"]
    found = shares(parties, Decimal("100.00"))
    assert [s.amount for s in found] == [Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]


# -- 1. subjects that sort -------------------------------------------------------------------

SUBJECTS = {
    "nl": {"review": "Ter beoordeling: bericht {seq} van Anna Jansen – Ik wil de kinderen "
                     "om het weekend zien, …",
           "safety": "DRINGEND – Veiligheid:", "ready": "Klaar om te beginnen:",
           "status": "Stand van zaken:", "answer": "Uw opdracht: uitgevoerd"},
    "en": {"review": "For review: message {seq} from Anna Jansen – Ik wil de kinderen om "
                     "het weekend zien, …",
           "safety": "URGENT – Safety:", "ready": "Ready to start:", "status": "Status:",
           "answer": "Your command: done"},
}
SAFETY_PAGES = [*DEFAULT_PAGES[:-1], {"safety_concern": "yes", "writing_ok": "yes"}]


async def ready_case(service, sink, lang: str, safety: bool = True):
    """Two parties registered, through the intake (Anna worried about safety) and signed."""
    opened, address = await open_case(service, lang, parties=(ANNA, BRAM))
    async with client(service) as http:
        for email in (ANNA, BRAM):
            await register(http, service, email, language=lang)
            pages = SAFETY_PAGES if email == ANNA and safety else DEFAULT_PAGES
            await fill_intake(http, service, email, pages=pages)
            await sign(http, service, email)
            await service.settle()
    return opened, address


async def test_each_kind_of_mail_to_the_mediator_says_what_it_is_and_threads_on_its_own(
    office, sink
):
    lang = office.lang
    words = SUBJECTS[lang]
    opened, address = await ready_case(office, sink, lang)
    await reply(office, ANNA, address[ANNA],
                "Ik wil de kinderen om het weekend zien, en de vakanties delen.")
    await reply(office, MEDIATOR, address[MEDIATOR], "#status")
    await reply(office, MEDIATOR, address[MEDIATOR], "#tijd 0:30 telefoon")
    box = [d.message for d in sink.to(MEDIATOR)]
    tag = f"[{opened.ref}] "
    assert all(m["Subject"].startswith(tag) for m in box)
    kinds = {kind: [m for m in box if m["Subject"].startswith(tag + words[kind].split("{")[0])]
             for kind in words}
    assert all(len(found) == 1 for found in kinds.values()), {k: len(v) for k, v in kinds.items()}
    seq = kinds["review"][0]["Subject"].split()[4]
    assert kinds["review"][0]["Subject"] == tag + words["review"].format(seq=seq)
    # Each kind is a thread of its own in every client; the safety alert stands alone.
    threads_of = {client: thread_groups(box, client) for client in ("thunderbird", "outlook")}
    for client_name, group in threads_of.items():
        apart = {group[id(kinds[kind][0])] for kind in ("review", "safety", "ready", "status")}
        assert len(apart) == 4, client_name
        alone = [m for m in box if group[id(m)] == group[id(kinds["safety"][0])]]
        assert alone == kinds["safety"], client_name
    # The answers to commands share one thread: #status and #time.
    assert threads_of["thunderbird"][id(kinds["status"][0])] == \
        threads_of["thunderbird"][id(kinds["answer"][0])]
    # The parties still read one conversation per case in every client.
    for party in (ANNA, BRAM):
        shared = [d.message for d in sink.to(party)
                  if translate(lang, PRIVATE_LABEL) not in d.message["Subject"]]
        assert views(shared) == {"gmail": 1, "outlook": 1, "thunderbird": 1}, party


def thread_groups(box, client_name: str) -> dict[int, object]:
    """Which thread each mail is in, for a client that threads on References (Thunderbird)
    or on Thread-Topic and the root part of Thread-Index (Outlook)."""
    if client_name == "outlook":
        return {id(m): (m["Thread-Topic"], base64.b64decode(m["Thread-Index"])[:22])
                for m in box}
    groups = linked(box, lambda a, b: True)
    return {id(m): groups.find(i) for i, m in enumerate(box)}


# -- 6. what needs the mediator first --------------------------------------------------------

FIRST = {"nl": ("EERST DIT", "Veiligheid: Anna Jansen", "Wacht op uw beoordeling: bericht"),
         "en": ("FIRST", "Safety: Anna Jansen", "Waiting for your review: message")}


async def test_the_readiness_mail_and_status_open_with_the_safety_alert_and_held_messages(
    office, sink
):
    lang = office.lang
    heading, alert, held = FIRST[lang]
    opened, address = await ready_case(office, sink, lang)
    [ready] = [d for d in sink.to(MEDIATOR) if SUBJECTS[lang]["ready"] in d.message["Subject"]]
    top = text_of(ready).strip().splitlines()
    assert top[0] == heading and top[1].startswith(f"- {alert}")
    await reply(office, BRAM, address[BRAM], "Ik zie het anders.")
    await reply(office, MEDIATOR, address[MEDIATOR], "#status")
    status = text_of(sink.to(MEDIATOR)[-1]).strip().splitlines()
    assert status[0] == heading and status[1].startswith(f"- {alert}")
    assert status[2].startswith(f"- {held}") and "Bram de Boer" in status[2]
    with Session(office.engine) as session:
        raised = session.exec(select(SafetyAlert.at)).first()
    assert date_and_time(raised, lang, "Europe/Amsterdam") in status[1]  # in local time


async def test_a_case_with_nothing_waiting_has_no_first_block(office, sink):
    lang = office.lang
    opened, address = await ready_case(office, sink, lang, safety=False)
    await reply(office, MEDIATOR, address[MEDIATOR], "#status")
    status = text_of(sink.to(MEDIATOR)[-1])
    assert FIRST[lang][0] not in status and str(opened.ref) in status.splitlines()[0]


# -- 5. words a mediator would write ---------------------------------------------------------

async def test_a_case_on_first_names_says_je_and_every_mail_is_signed_as_the_mediator_signs(
    office, sink
):
    lang = office.lang
    opened, address = await open_case(office, lang, parties=(ANNA, BRAM), address="je",
                                       moderation="open")
    closing = "Hartelijke groet," if lang == "nl" else "Kind regards,"
    invitation = text_of(sink.to(ANNA)[0])
    assert invitation.startswith("Beste Anna,\n" if lang == "nl" else "Dear Anna,\n")
    assert f"{closing}\nMaria de Vries\n" in invitation and "06 12 34 56 78" in invitation
    assert invitation.count(closing) == 1 and "Met vriendelijke groet" not in invitation
    if lang == "nl":
        assert " je " in invitation and " u " not in invitation and "uw " not in invitation
    assert "Maria de Vries is " not in invitation  # no third person under her own name
    sink.delivered.clear()
    await reply(office, MEDIATOR, address[MEDIATOR], "Welkom allebei. Zullen we beginnen?")
    welcome = text_of(sink.to(ANNA)[-1])
    assert f"Zullen we beginnen?\n\n{closing}\nMaria de Vries" in welcome
    await reply(office, ANNA, address[ANNA], "Graag, ik begin met de vakanties.")
    passed = text_of(sink.to(BRAM)[-1])
    footer = passed.split("---", 1)[1]
    assert ("meteen aan iedereen doorgestuurd" if lang == "nl"
            else "passed on to everyone at once") in footer  # open mode, truthfully


async def test_a_removed_party_is_given_the_mediators_phone_in_their_own_words(office, sink):
    lang = office.lang
    opened, address = await open_case(office, lang, parties=(ANNA, BRAM, CEES))
    await reply(office, MEDIATOR, address[MEDIATOR], "#remove Cees")
    told = text_of(sink.to(CEES)[-1])
    assert "06 12 34 56 78" in told
    assert ("contact met mij op" if lang == "nl" else "contact me directly") in told


def test_every_familiar_dutch_template_has_a_formal_twin():
    root = Path(__file__).resolve().parent.parent / "templates" / "mail"
    familiar = {p.name for p in (root / "nl-je").glob("*.txt")}
    assert familiar and familiar <= {p.name for p in (root / "nl").glob("*.txt")}
