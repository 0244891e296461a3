"""With privacy.encryption_key set, e-mail addresses and reply tokens lie sealed in the
database too, and are found by keyed hashes (threads.lookup): no address or token of a party
is in the database file after a whole case over SMTP, routing works with the key, after
`mediate db rotate-key` and for rows stored before the key was set, and a lookup is one
indexed query however many participants there are."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from conftest import DOMAIN, MEDIATOR, make_settings
from record_scenario import ANNA, BRAM, CEES, NAMES
from sqlalchemy import event, insert, text
from sqlmodel import Session, select
from support import compose, smtp_send
from test_at_rest import sealed  # noqa: F401 (the fixture: a whole case played with a key)

from mediate.rotate import rotate
from mediate.service import Service, at_rest_key, prepare_database
from threads import db
from threads.addresses import RecipientKind, resolve
from threads.crypto import AtRestKey, new_key
from threads.lookup import Kind, candidates, digest, normalise_address
from threads.models import Case, InboundMail, Message, OutgoingMail, Participant, ParticipantAlias
from threads.sealed import use_key

PARTIES = (ANNA, BRAM, CEES)


def tokens(engine) -> list[str]:
    with Session(engine) as session:
        return [t for p in session.exec(select(Participant))
                for t in (p.token, p.private_token, p.mediator_token) if t]


def database_bytes(url: str) -> bytes:
    path = Path(url.split("///", 1)[1])
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def every_stored_text(engine) -> str:
    """Every value of every table as the database holds it, bypassing the model."""
    with engine.connect() as connection:
        tables = [t.name for t in Participant.metadata.sorted_tables]
        return "\n".join(str(value) for table in tables
                         for row in connection.execute(text(f'SELECT * FROM "{table}"'))
                         for value in row)


async def test_no_address_or_token_is_stored_in_clear_after_a_case_over_smtp(sealed):  # noqa: F811
    service, _, _ = sealed
    secrets = [*PARTIES, MEDIATOR, *tokens(service.engine)]
    assert len(secrets) > 10
    stored = every_stored_text(service.engine).lower()
    assert [s for s in secrets if s.lower() in stored] == []
    if service.settings.database_url.startswith("sqlite"):
        raw = database_bytes(service.settings.database_url).lower()
        assert [s for s in secrets if s.lower().encode() in raw] == []
    with Session(service.engine) as session:  # the program reads them as they were given
        assert {p.email for p in session.exec(select(Participant))} == {*PARTIES, MEDIATOR}
        assert BRAM in {m.rcpt_to for m in session.exec(select(OutgoingMail))}


async def test_routing_works_with_the_key_and_after_rotate_key(sealed, sink):  # noqa: F811
    service, played, old = sealed
    new = new_key()
    both = service.settings.model_copy(update={"privacy": service.settings.privacy.model_copy(
        update={"encryption_key": f"{new},{old}"})})
    rotate(prepare_database(both), at_rest_key(both))
    alone = both.model_copy(update={"privacy": both.privacy.model_copy(
        update={"encryption_key": new})})
    newest = at_rest_key(alone)
    engine = prepare_database(alone)
    with Session(engine) as session:  # every hash is the new key's now
        for person in session.exec(select(Participant)):
            assert person.email_hash == digest(person.email, Kind.ADDRESS, newest)
            assert person.token_hash == digest(person.token, Kind.TOKEN, newest)
        for copy in session.exec(select(OutgoingMail)):
            assert copy.rcpt_hash == digest(copy.rcpt_to, Kind.ADDRESS, newest)
    engine.dispose()
    # a new case, run with the new key alone: mail to a reply address finds its party
    later = Service.build(alone)
    await later.start()
    try:
        with Session(later.engine) as session:
            bram = played.party(session, BRAM)
            assert resolve(session, played.address[BRAM], DOMAIN).participant.id == bram.id
            assert resolve(session, played.private[BRAM], DOMAIN).channel == "private"
        # the closed case answers; what matters is that the reply was recognised as Bram's
        await smtp_send(later.smtp_port, BRAM, [played.address[BRAM]],
                        compose(BRAM, played.address[BRAM], "Is the case really closed?"))
        await later.settle()
        told = [d for d in sink.to(BRAM) if "Is the case really closed?" not in d.text]
        assert told, "Bram, recognised by his address, is told the case is closed"
    finally:
        await later.stop()
        later.engine.dispose()


async def test_a_new_case_routes_over_smtp_with_a_key(tmp_path, database_url, sink):
    settings = make_settings(
        tmp_path, database_url, privacy={"encryption_key": new_key()},
        outbound={"transport": "smtp", "host": "127.0.0.1", "port": sink.port})
    service = Service.build(settings)
    await service.start()
    try:
        from mediate import casework
        opened = casework.open_case(
            settings, title="The fence", mediator_email=MEDIATOR, moderation="open",
            parties=[f"{NAMES[p]} <{p}>" for p in (ANNA, BRAM)], language="en",
            engine=service.engine)
        await service.settle()
        anna = dict(opened.party_addresses)[NAMES[ANNA]]
        # Anna writes from her address in another case of letters: still Anna
        await smtp_send(service.smtp_port, ANNA.upper(), [anna],
                        compose(ANNA.upper(), anna, "The fence may stay where it is."))
        await service.settle()
        assert any("The fence may stay where it is." in d.text for d in sink.to(BRAM))
        # a stranger writing to Anna's address is held, never passed on
        await smtp_send(service.smtp_port, "eve@elsewhere.test", [anna],
                        compose("eve@elsewhere.test", anna, "Let me in."))
        await service.settle()
        assert not any("Let me in." in d.text for d in sink.to(BRAM))
        # a mail from one of our own case addresses is a loop, and its reason names it
        bram = dict(opened.party_addresses)[NAMES[BRAM]]
        await smtp_send(service.smtp_port, bram, [anna], compose(bram, anna, "Echo."))
        await service.settle()
        with Session(service.engine) as session:
            written = {m.text.strip() for m in session.exec(select(Message))}
            reasons = " ".join(r.reason or "" for r in session.exec(select(InboundMail)))
        assert "The fence may stay where it is." in written and bram in reasons
        # the stranger's address, the loop's reason (sealed) and the audit's (redacted): no
        # address or token of the case is in clear anywhere
        stored = every_stored_text(service.engine).lower()
        assert [s for s in ("eve@elsewhere.test", ANNA, BRAM, *tokens(service.engine))
                if s.lower() in stored] == []
    finally:
        await service.stop()
        service.engine.dispose()


def test_addresses_are_compared_in_one_normal_form():
    assert normalise_address(" Anna.Jansen@Bücher.Example ") == "anna.jansen@xn--bcher-kva.example"
    assert normalise_address("anna+house@home.test") == "anna+house@home.test"  # no folding
    key = AtRestKey.from_setting(new_key())
    assert digest("ANNA@Home.Test", Kind.ADDRESS, key) == digest("anna@home.test",
                                                                Kind.ADDRESS, key)
    assert digest("anna@home.test", Kind.ADDRESS, key) != digest("anna@home.test",
                                                                Kind.ADDRESS, None)
    # a lookup matches a row hashed under any configured key, and one hashed before any key
    old, new = new_key(), new_key()
    hashed_old = digest("anna@home.test", Kind.ADDRESS, AtRestKey.from_setting(old))
    both = candidates("anna@home.test", Kind.ADDRESS, AtRestKey.from_setting(f"{new},{old}"))
    assert hashed_old in both and digest("anna@home.test", Kind.ADDRESS, None) in both


def test_rows_stored_before_this_version_are_hashed_by_the_upgrade_and_still_routed(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    db.upgrade(engine, "cockpit_case_locale_and_split")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO \"case\" (id, ref, title, moderation, language, status, intake_form, "
            "created_at, message_seq, hourly_rate, platform_fee, vat_percent) VALUES "
            "(1, '2026-001', 'Old', 'review', 'en', 'open', 'default', '2026-01-05', 0, 0, 0, 0)"))
        connection.execute(text(
            "INSERT INTO participant (case_id, role, name, email, language, token, "
            "private_token, active, created_at, bouncing, link_version) VALUES "
            "(1, 'party', 'Anna', 'anna@home.test', 'en', 'abcdefghijklmnop', "
            "'qrstuvwxyz234567', 1, '2026-01-05', 0, 0)"))
    key = AtRestKey.from_setting(new_key())
    use_key(engine, key)  # 'mediate db upgrade' runs with the configured key
    db.upgrade(engine)
    with Session(engine) as session:
        found = resolve(session, f"2026-001+abcdefghijklmnop@{DOMAIN}", DOMAIN)
        assert found.kind == RecipientKind.PARTICIPANT and found.participant.name == "Anna"
        assert found.participant.email_hash == digest("anna@home.test", Kind.ADDRESS, key)
    rotate(engine, key)  # seals the address and the tokens that were in clear
    stored = every_stored_text(engine)
    assert "anna@home.test" not in stored and "abcdefghijklmnop" not in stored
    with Session(engine) as session:
        assert resolve(session, f"2026-001+qrstuvwxyz234567@{DOMAIN}", DOMAIN).channel \
            == "private"
    engine.dispose()


def token(first: str, n: int) -> str:
    """A reply token's shape (16 of a-z2-7), unique per n."""
    return first + "".join("abcdefghij"[int(d)] for d in f"{n:015d}")


def test_a_lookup_is_one_indexed_query_among_100000_participants(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'many.sqlite3'}")
    db.upgrade(engine)
    key = AtRestKey.from_setting(new_key())
    cases, people = 1_000, 100_000

    def hashed(value: str, kind: Kind, n: int) -> str:
        # the rows looked up get their real hash; the others a stand-in as random (an HMAC
        # for each of 300,000 values would only slow the test down)
        real = n in (7, 99_000)
        return digest(value, kind, key) if real else hashlib.sha256(value.encode()).hexdigest()

    rows = [(n % cases + 1, "party", f"P{n}", f"p{n}@home.test",
             hashed(f"p{n}@home.test", Kind.ADDRESS, n), token("t", n),
             hashed(token("t", n), Kind.TOKEN, n), token("q", n),
             hashed(token("q", n), Kind.TOKEN, n)) for n in range(people)]
    with engine.begin() as connection:  # in bulk, as the model writes them
        # random keys into four indexes: a cache that holds them keeps this a few seconds
        connection.exec_driver_sql("PRAGMA cache_size = -262144")
        connection.exec_driver_sql(
            'INSERT INTO "case" (id, ref, title, moderation, language, status, intake_form, '
            "created_at, message_seq, hourly_rate, platform_fee, vat_percent) VALUES "
            "(?, ?, 'T', 'review', 'en', 'open', 'default', '2026-01-05', 0, 0, 0, 0)",
            [(c, f"2026-{c:04d}") for c in range(1, cases + 1)])
        connection.exec_driver_sql(
            "INSERT INTO participant (case_id, role, name, email, email_hash, token, token_hash, "
            "private_token, private_token_hash, language, active, created_at, bouncing, "
            "link_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'en', 1, '2026-01-05', 0, 0)", rows)
        connection.execute(insert(ParticipantAlias), [
            {"participant_id": 7, "email": "p7@work.test",
             "email_hash": digest("p7@work.test", Kind.ADDRESS, key)}])
    use_key(engine, key)  # the values above stay in clear: sealing 100,000 rows is not tested
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda _c, _k, statement, *_: statements.append(statement))
    with Session(engine) as session:
        target = session.get(Participant, 99_001)
        case = session.get(Case, target.case_id)
        statements.clear()
        started = time.perf_counter()
        found = resolve(session, f"{case.ref}+{token('q', 99_000)}@{DOMAIN}", DOMAIN)
        took = time.perf_counter() - started
        assert found.participant.id == target.id and found.channel == "private"
        # token, then private token: two indexed queries (and the case, by its key)
        assert len(statements) <= 3 and took < 0.5
        from threads.routing import is_known
        seven = session.get(Participant, 7)
        assert is_known(session, seven, candidates("P7@Work.test", Kind.ADDRESS, key))
    with engine.connect() as connection:
        for statement in statements[:2]:
            plan = " ".join(str(r[-1]) for r in connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", ("x", "y")))
            assert "USING INDEX ix_participant_" in plan and "SCAN participant" not in plan
        plan = " ".join(str(r[-1]) for r in connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM participant WHERE role = 'mediator' "
            "AND email_hash IN ('x', 'y')"))
        assert "USING INDEX ix_participant_email_hash" in plan
    engine.dispose()


@pytest.mark.parametrize("address", ["anna@home.test", "Anna@HOME.test"])
def test_the_keyless_hash_is_a_fixed_documented_function(address):
    import hmac

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    fixed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                 info=b"mediate lookup hash v1").derive(b"")
    expected = hmac.new(fixed, b"anna@home.test", hashlib.sha256).hexdigest()
    assert digest(address, Kind.ADDRESS, None) == expected
