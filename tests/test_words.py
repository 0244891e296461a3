"""Words a mediator would write (issue 18, point 5): the form of address a case chose in every
mail a party reads, reminders that never read the same twice in a row and claim only what is
true, no record-keeping jargon in a party's mail, and footers that say how a message travelled.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from test_cockpit import office  # noqa: F401, F811  (the fixture: a running office per language)

from mailgate.compose import Composer

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
MAIL = TEMPLATES / "mail"


def kinds(lang: str) -> set[str]:
    return {p.stem for p in (MAIL / lang).glob("*.txt") if not p.stem.startswith("_")}


# Dutch mail nobody of the case reads as a party: the mediator's own mail (the service speaks
# to the mediator with "u"), and mail to someone we cannot yet call a party (a stranger, an
# unregistered address, a postmaster), who is not on first names with the mediator.
NOT_TO_A_PARTY = {
    # to the mediator
    "case-opened", "command-reply", "copy-to-mediator", "costs", "delivery-failed", "digest",
    "export", "help", "intake-to-mediator", "mail-quarantined", "mediator-unverified",
    "name-proposed", "not-responding", "open-problems", "original", "private-to-mediator",
    "purge-warning", "quarantined", "ready", "reminder-review", "review-held", "review",
    "safety-alert", "signed-to-mediator", "status", "suggestion-accepted", "tone-alert",
    "cooling-released", "withdrawn", "video-reply",
    "evaluation-to-mediator", "follow-up-answer", "proposal-answered", "proposal-sent",
    "proposals", "settlement-draft", "settlement-progress",
    # to whoever wrote from an address the case does not know, or to a domain's postmaster
    "unknown-sender", "wrong-sender", "open-refused", "postmaster",
}
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_U = re.compile(r"\b(u|uw|uzelf|hebt u|kunt u|wilt u)\b", re.I)


def words_of(path: Path) -> str:
    """A template's own prose, without its Jinja (names, conditions, variables)."""
    return _JINJA.sub(" ", path.read_text())


def test_every_dutch_mail_a_party_reads_has_its_je_version():
    missing = sorted(kinds("nl") - NOT_TO_A_PARTY - kinds("nl-je"))
    assert missing == [], f"a party in a je case would read 'u' in: {missing}"
    assert NOT_TO_A_PARTY <= kinds("nl")  # the list names real templates


def test_the_mail_not_to_a_party_is_not_to_a_party():
    """What is listed as not for a party never speaks to one: it greets the mediator (or
    nobody by name) and has no je version that would never be used."""
    for kind in NOT_TO_A_PARTY:
        assert not (MAIL / "nl-je" / f"{kind}.txt").exists(), kind


def test_the_je_versions_never_say_u():
    for path in sorted((MAIL / "nl-je").glob("*.txt")):
        found = _U.findall(words_of(path))
        assert found == [], f"{path.name} says {found}"


def test_the_je_versions_use_no_variable_their_u_versions_do_not_have():
    """A je version says the same as its u version: the variables it uses all exist in the u
    version, so it cannot ask the code for something the code never gives."""
    names = re.compile(r"\b(?:links|phone|sign_off|dear|case|message|recipient|mediator|"
                       r"author|reason|change|signature|text|video_\w+|files|words|note|"
                       r"outcome|old|had_signed|mode|personal|since|by|link|last|share)\b")
    for path in sorted((MAIL / "nl-je").glob("*.txt")):
        formal = (MAIL / "nl" / path.name).read_text()
        used = set(names.findall(" ".join(_JINJA.findall(path.read_text()))))
        known = set(names.findall(" ".join(_JINJA.findall(formal))))
        assert used <= known | {"phone", "variant", "started"}, (path.name, used - known)


# -- reminders: their words vary, and they claim only what is true -------------------------

REMINDERS = ("reminder", "reminder-register", "reminder-intake", "reminder-sign",
             "reminder-reply")


def _render(kind: str, lang: str, **context) -> str:
    composer = Composer(domain="mediation.test", templates_dir=TEMPLATES)
    case = SimpleNamespace(title="Het huis", ref="2026-001", moderation="review",
                           address="je" if lang == "nl-je" else "u", timezone=None)
    party = SimpleNamespace(name="Anna Jansen", role="party", email="a@x.test", moderation=None)
    mediator = SimpleNamespace(name="Maria de Vries", role="mediator", email="m@x.test")
    base = {"case": case, "recipient": party, "mediator": mediator, "author": mediator,
            "since": datetime(2026, 3, 2, 9, tzinfo=UTC), "by": None, "last": False,
            "link": "https://mediation.test/l/x"}
    return composer.render(kind, "nl" if lang == "nl-je" else lang, {**base, **context})[1]


def test_each_reminder_has_three_wordings_and_two_in_a_row_never_read_the_same():
    from threads.reminders import WORDINGS, wording

    for kind in REMINDERS:
        for lang in ("nl", "nl-je", "en"):
            bodies = [_render(kind, lang, variant=v) for v in range(WORDINGS)]
            assert len(set(bodies)) == WORDINGS, (kind, lang)
            if kind == "reminder":  # its subject is the case title: the words say what it is
                for started in (True, False):
                    for v in range(WORDINGS):
                        body = _render(kind, lang, variant=v, started=started).lower()
                        assert "herinnering" in body or "reminder" in body, (lang, v)
    for participant in range(1, 40):
        for count in range(1, 8):
            assert wording(participant, count) != wording(participant, count + 1)
            assert wording(participant, count) == wording(participant, count)  # fixed


def test_a_reminder_says_the_mediation_starts_once_all_are_done_only_before_it_has():
    starts = {"nl": "begin", "nl-je": "begin", "en": ("start", "begin")}
    for kind in ("reminder-register", "reminder-intake", "reminder-sign"):
        for lang, word in starts.items():
            words = (word,) if isinstance(word, str) else word
            before = [_render(kind, lang, variant=v, started=False) for v in range(3)]
            after = [_render(kind, lang, variant=v, started=True) for v in range(3)]
            assert any(w in b for b in before for w in words), (kind, lang)
            assert not any(w in a for a in after for w in words), (kind, lang, after)


def test_a_reply_reminder_does_not_say_the_others_wait_for_an_answer_they_may_never_see():
    """#awaiting may be about a private question: only the mediator is known to be waiting."""
    for lang in ("nl", "nl-je", "en"):
        for v in range(3):
            body = _render("reminder-reply", lang, variant=v)
            assert "anderen" not in body and "others" not in body, (lang, v)


def test_a_manual_reminder_before_the_conversation_asks_for_no_reply_to_a_message():
    for lang in ("nl", "nl-je", "en"):
        for v in range(3):
            body = _render("reminder", lang, variant=v, started=False)
            assert "laatste bericht" not in body and "latest message" not in body


def test_reminders_in_a_row_from_the_sweep_read_differently(tmp_path, database_url):
    import email
    import email.policy

    import time_machine
    from reminder_world import World, days, local

    world = World.make(tmp_path, database_url)
    monday = local(2026, 3, 2, 10, 0)
    with time_machine.travel(monday, tick=False) as clock:
        world.open_case("Anna", "Bram")
        for moment in (3, 7, 11):
            clock.move_to(monday + days(moment))
            world.sweep()
    for party in ("anna@home.test", "bram@home.test"):
        mails = world.mails("reminder-register", to=party)
        bodies = [email.message_from_bytes(m.raw, policy=email.policy.default)
                  .get_body().get_content() for m in mails]
        assert len(bodies) == 3
        assert bodies[0] != bodies[1] != bodies[2] != bodies[0]
        assert "last reminder" in bodies[2] and "last reminder" not in bodies[0] + bodies[1]
        assert any("cannot start" in b or "starts once" in b for b in bodies)


# -- the model agreement --------------------------------------------------------------------

# The first model agreement, word for word: cases opened before versions were kept are signed
# under exactly this text, so it must never change (its SHA-256 is under their signatures).
FIRST_MODEL = {
    "nl": "f033cf60eaa378306896c31855d1620a2ebac0c1056d8ca4a3b421e3f1bd2196",
    "en": "80a6dbe8ac93a3f3e08d08168f8374795731506fb9d007c93bd93a2a354d5cb3",
}


def test_the_first_model_agreement_is_kept_word_for_word():
    import hashlib

    for lang, digest in FIRST_MODEL.items():
        data = (TEMPLATES / "agreements" / "v1" / f"{lang}.txt").read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, lang


def _agreement_world(tmp_path, database_url, *parties: str, intake: str | None = None):
    from reminder_world import World
    from sqlmodel import Session, select

    from mediate import casework
    from threads.models import Case

    world = World.make(tmp_path, database_url)
    opened = casework.open_case(world.settings, title="Sharing the house",
                                mediator_email="mediator@office.test", parties=list(parties),
                                language="en", engine=world.engine, intake=intake)
    with Session(world.engine) as session:
        case_id = session.exec(select(Case.id).where(Case.ref == opened.ref)).one()
    return world, case_id


def test_a_case_opened_before_keeps_its_agreement_and_its_signatures_still_count(
    tmp_path, database_url
):
    from sqlmodel import Session

    from threads.agreement import Agreements, sha256
    from threads.cases import parties_of
    from threads.db import session_scope
    from threads.models import Case, Signature

    world, case_id = _agreement_world(tmp_path, database_url, "Anna <anna@home.test>",
                                      "Bram <bram@home.test>")
    agreements = Agreements(TEMPLATES)
    with session_scope(world.engine) as session:
        case = session.get(Case, case_id)
        assert case.agreement_version == 2  # a new case: the current model
        anna = parties_of(session, case)[0]
        assert "MfN Mediation Rules" in agreements.render(session, case, anna)
        case.agreement_version = None  # as the upgrade leaves a case opened before it
        session.add(case)
        session.flush()
        text = agreements.render(session, case, anna)
        assert "MfN" not in text and "shared equally between the parties" in text
        session.add(Signature(case_id=case.id, participant_id=anna.id, sha256=sha256(text),
                              text=text, typed_name="Anna", language="en"))
    with Session(world.engine) as session:
        case = session.get(Case, case_id)
        anna = parties_of(session, case)[0]
        assert agreements.current(session, case, anna) is not None  # still signed


def test_the_agreement_names_the_split_and_a_grandparent_pays_only_when_agreed(
    tmp_path, database_url
):
    from sqlmodel import Session

    from threads.agreement import Agreements
    from threads.cases import parties_of
    from threads.models import Case

    world, case_id = _agreement_world(
        tmp_path, database_url, "Anna <anna@home.test>", "Bram <bram@home.test>",
        "Greta <greta@home.test> role: grandparent", intake="family")
    with Session(world.engine) as session:
        case = session.get(Case, case_id)
        anna = parties_of(session, case)[0]
        text = Agreements(TEMPLATES).render(session, case, anna)
    assert "- Anna: 50%\n- Bram: 50%\n- Greta: does not contribute\n" in text
    assert "meldcode huiselijk geweld en kindermishandeling" in text
    assert "complaints procedure" in text and "disciplinary law" in text
    assert "We will not call the mediator as a witness" in text  # the parties' own word
    assert text.rstrip().endswith("Maria de Vries, mediator")
    assert "MODEL" not in text  # the note to the mediator stays in the template
    world.update(case_id, "Greta", cost_share=20.0)
    world.update(case_id, "Anna", cost_share=40.0)
    world.update(case_id, "Bram", cost_share=40.0)
    with Session(world.engine) as session:
        case = session.get(Case, case_id)
        text = Agreements(TEMPLATES).render(session, case, parties_of(session, case)[0])
    assert "- Anna: 40%\n- Bram: 40%\n- Greta: 20%\n" in text


async def test_a_new_split_asks_whoever_signed_to_sign_the_agreement_again(office, sink):  # noqa: F811
    """Real mail over loopback SMTP: the mediator's #split changes the agreement's text."""
    from conftest import MEDIATOR
    from sqlmodel import Session
    from test_cockpit import last_to, open_case, person
    from test_walking_skeleton import ANNA, BRAM, reply
    from web_world import client, path

    from threads.agreement import Agreements, sha256
    from threads.db import session_scope
    from threads.models import Case, Participant, Signature, utcnow

    lang = office.lang
    opened, address = await open_case(office, lang, parties=(ANNA, BRAM))
    anna = person(office, ANNA)
    with session_scope(office.engine) as session:
        case, party = session.get(Case, anna.case_id), session.get(Participant, anna.id)
        text = Agreements(TEMPLATES).render(session, case, party)
        session.add(Signature(case_id=case.id, participant_id=party.id, sha256=sha256(text),
                              text=text, typed_name=party.name, language=lang))
        party.registered_at = party.signed_at = utcnow()
        session.add(party)
    sink.delivered.clear()
    await reply(office, MEDIATOR, address[MEDIATOR], "#verdeling Anna 70 Bram 30")
    asked = last_to(sink, ANNA)
    assert ("de verdeling van de kosten is veranderd" if lang == "nl"
            else "the way the costs are shared has changed") in asked
    assert sink.to(BRAM) == []  # Bram had not signed: nothing to sign again yet
    with Session(office.engine) as session:
        case = session.get(Case, anna.case_id)
        party = session.get(Participant, anna.id)
        assert party.signed_at is None
        assert "70%" in Agreements(TEMPLATES).render(session, case, party)
    async with client(office) as http:  # the page she signs again on says the text changed
        page = await http.get(path(office, ANNA, "agreement"))
    assert page.status_code == 200 and "70%" in page.text
    assert ("opnieuw" if lang == "nl" else "sign again") in page.text
    sink.delivered.clear()
    await reply(office, MEDIATOR, address[MEDIATOR], "#verdeling Anna 70 Bram 30")
    assert sink.to(ANNA) == []  # the same split again changes no text: no new request


# -- a whole case, read as its readers read it ----------------------------------------------

JARGON = re.compile(r"SHA-256|Vingerafdruk \(|Fingerprint \(|Moderatie|Moderation:|\breview\b|"
                    r"\btoken\b|\{\{|\{%|\bNone\b|notice|relay", re.I)
SELF_IN_THIRD_PERSON = re.compile(r"Maria de Vries,? (heeft|leest|wil|laat|neemt|is |has |"
                                  r"will |reads |wants |lets )")


async def _whole_case(office, sink, lang: str):  # noqa: F811
    from conftest import MEDIATOR
    from test_cockpit import ready_case
    from test_walking_skeleton import ANNA, BRAM, reply

    opened, address = await ready_case(office, sink, lang, safety=False)
    words = {"nl": ["Welkom allebei. Wat is voor jullie het belangrijkste?",
                    "Ik wil vooral rust voor de kinderen.", "Dat zeg je altijd maar.",
                    "Zullen we even apart bellen?"],
             "en": ["Welcome to you both. What matters most to you?",
                    "Above all I want calm for the children.", "You always say that.",
                    "Shall we talk on the phone, just the two of us?"]}[lang]
    await reply(office, MEDIATOR, address[MEDIATOR], words[0])
    await reply(office, ANNA, address[ANNA], words[1])
    await reply(office, MEDIATOR, address[MEDIATOR], "#approve")
    await reply(office, BRAM, address[BRAM], words[2])
    await reply(office, MEDIATOR, address[MEDIATOR],
                "#reject " + ("wil je zeggen wat je nodig hebt?" if lang == "nl"
                              else "could you say what you need?"))
    await reply(office, MEDIATOR, address[MEDIATOR], f"#private Bram\n\n{words[3]}")
    await reply(office, MEDIATOR, address[MEDIATOR], "#remind Bram")
    await reply(office, MEDIATOR, address[MEDIATOR], "#remind Bram")
    await reply(office, MEDIATOR, address[MEDIATOR], "#pause")
    await reply(office, MEDIATOR, address[MEDIATOR], "#resume")
    await reply(office, MEDIATOR, address[MEDIATOR], "#close settled")
    return {party: [d for d in sink.to(party)] for party in (ANNA, BRAM, MEDIATOR)}


async def test_a_whole_case_reads_as_a_mediator_writes(office, sink):  # noqa: F811
    """Every mail of a case, from invitation to close, as its reader sees it: Dutch on first
    names with je (English as written), no record-keeping words in a party's mail, every
    mail in the mediator's name signed with her own closing, never speaking of herself in the
    third person, and two reminders in a row that do not read the same."""
    from email.utils import parseaddr

    from test_cockpit import text_of
    from test_walking_skeleton import ANNA, BRAM

    lang = office.lang
    if lang == "nl":  # a Dutch case on first names
        from mediate import casework
        real = casework.open_case

        def on_first_names(*args, **kwargs):
            return real(*args, **{**kwargs, "address": "je"})
        casework.open_case = on_first_names
    try:
        mails = await _whole_case(office, sink, lang)
    finally:
        if lang == "nl":
            casework.open_case = real
    closing = "Maria de Vries\n" + ("Familiemediator" if lang == "nl" else "Family mediator")
    reminders = []
    for party in (ANNA, BRAM):
        assert len(mails[party]) >= 8
        for mail in mails[party]:
            # the signed agreement, quoted whole in the copy of a signature, is a contract and
            # speaks of "the mediator" as contracts do
            text = re.sub(r"-{70}\n.*?\n-{70}\n", "", text_of(mail), flags=re.S)
            subject = mail.message["Subject"]
            sender = parseaddr(mail.message["From"])[0]
            assert not JARGON.search(text), (subject, JARGON.search(text))
            # the questions of the intake form, quoted in the copy of one's answers, are the
            # form's own words (intake_forms/), not the mail's
            own = re.sub(r"https?://\S+", "", re.sub(
                r"(Hieronder vind je een kopie|Below is a copy).*?(Wil je iets aanvullen|If you "
                r"would like to add)", "", text, flags=re.S))
            if lang == "nl":
                assert not _U.search(own), (subject, _U.findall(own))
                assert text.startswith(("Beste Anna,", "Beste Bram,")) or sender != \
                    "Maria de Vries" or text.split("\n")[0] in (
                        "Welkom allebei. Wat is voor jullie het belangrijkste?",
                        "Zullen we even apart bellen?"), (subject, text[:40])
            if sender == "Maria de Vries":
                assert text.count(closing) == 1, (subject, text)
                head = "Hartelijke groet,\n" if lang == "nl" else "Kind regards,\n"
                assert "\n\n" + head in text, (subject, text)  # a blank line above it
                assert not re.search(r"\b(de|je|the|your) mediator\b(?! in \")", own), \
                    (subject, own)  # "I", never "the mediator", under her own name
                assert not SELF_IN_THIRD_PERSON.search(text), (subject, text)
        reminders += [text_of(m) for m in mails[party]
                      if any(w in text_of(m) for w in ("Houdt iets je tegen",
                                                        "If something is holding you back"))]
    assert len(reminders) == 2 and reminders[0] != reminders[1]


def test_a_party_added_after_the_conversation_began_is_not_told_it_waits_for_them(
    tmp_path, database_url
):
    """Reminders check what they claim against the case: once the mediator has written to
    the parties, a registration reminder no longer says the mediation cannot start."""
    import email
    import email.policy

    import time_machine
    from reminder_world import World, days, local
    from sqlmodel import select

    from threads.db import session_scope
    from threads.models import Case, Message, Participant

    world = World.make(tmp_path, database_url)
    monday = local(2026, 3, 2, 10, 0)
    with time_machine.travel(monday, tick=False) as clock:
        case_id = world.open_case("Anna", "Bram")
        with session_scope(world.engine) as session:
            case = session.get(Case, case_id)
            mediator = session.exec(select(Participant).where(
                Participant.case_id == case_id, Participant.role == "mediator")).one()
            case.message_seq += 1
            session.add_all([case, Message(case_id=case_id, seq=case.message_seq,
                                           author_id=mediator.id, dedupe_key="first",
                                           status="released", text="Welcome.")])
        for moment in (3, 7, 11):
            clock.move_to(monday + days(moment))
            world.sweep()
    bodies = [email.message_from_bytes(m.raw, policy=email.policy.default)
              .get_body().get_content() for m in world.mails("reminder-register")]
    assert len(bodies) == 6
    for body in bodies:
        assert "cannot start" not in body and "starts once" not in body, body


def test_a_party_who_signed_an_older_text_is_asked_to_sign_the_new_one_not_told_they_never_did(
    tmp_path, database_url
):
    import email
    import email.policy

    import time_machine
    from reminder_world import World, days, local

    from threads.db import session_scope
    from threads.models import Signature

    world = World.make(tmp_path, database_url)
    monday = local(2026, 3, 2, 10, 0)
    with time_machine.travel(monday, tick=False) as clock:
        case_id = world.open_case("Anna", "Bram")
        for name in ("Anna", "Bram"):
            world.update(case_id, name, registered_at=monday, intake_submitted_at=monday)
        anna = world.party(case_id, "Anna")
        with session_scope(world.engine) as session:  # Anna signed the text before a change
            session.add(Signature(case_id=case_id, participant_id=anna.id, sha256="0" * 64,
                                  text="the older text", typed_name="Anna", language="en"))
        for moment in (3, 7, 11):
            clock.move_to(monday + days(moment))
            world.sweep()

    def bodies(to: str) -> list[str]:
        return [email.message_from_bytes(m.raw, policy=email.policy.default)
                .get_body().get_content() for m in world.mails("reminder-sign", to=to)]
    to_anna, to_bram = bodies("anna@home.test"), bodies("bram@home.test")
    assert len(to_anna) == len(to_bram) == 3
    assert all("new text" in b and "not been signed by you" not in b for b in to_anna)
    assert not any("new text" in b for b in to_bram)


async def test_a_party_who_pays_nothing_gets_no_statement(office, sink):  # noqa: F811
    from conftest import MEDIATOR
    from test_cockpit import CEES, last_to, open_case
    from test_walking_skeleton import ANNA, BRAM, reply

    opened, address = await open_case(office, office.lang)
    await reply(office, MEDIATOR, address[MEDIATOR], "#tijd 1u intake")
    await reply(office, MEDIATOR, address[MEDIATOR], "#verdeling Anna 60 Bram 40")
    sink.delivered.clear()
    await reply(office, MEDIATOR, address[MEDIATOR], "#kosten stuur")
    assert len(sink.to(ANNA)) == len(sink.to(BRAM)) == 1 and sink.to(CEES) == []
    assert ("die meebetaalt" if office.lang == "nl" else "who pays a share") in \
        last_to(sink, MEDIATOR)
