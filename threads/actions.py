"""What each mediator command does. Each handler checks its arguments (adding errors to the
context) and returns a plan: a function that carries the command out and says what it did."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from threads import (
    attention,
    audit,
    balance,
    cooling,
    heat,
    night,
    pause,
    proposals,
    quarantine,
    settlement,
    video,
)
from threads.addresses import new_token, normalize_address
from threads.agreement import shows_split, text_changed
from threads.cases import CaseError, mediator_of, parse_party, parties_of
from threads.commands import (
    TAKES_TEXT,
    Command,
    Context,
    Parsed,
    Plan,
    find_party,
    first_words,
    held_messages,
    held_target,
    parse,
    phrase,
    target_message,
)
from threads.costs import costs, split
from threads.links import resend_links, revoke_links
from threads.lookup import is_address
from threads.models import (
    Blob,
    Case,
    InboundMail,
    Message,
    OutgoingMail,
    Participant,
    ParticipantAlias,
    TimeEntry,
    utcnow,
)
from threads.moderation import moderation, open_party, review_party
from threads.names import accept_name
from threads.notices import Notice
from threads.relay import (
    Contribution,
    mediator_message,
    new_message,
    relay_to_parties,
    send_private,
)
from threads.reminders import begun, mark_awaiting, wording
from threads.suggestions import suggest

_DURATION = re.compile(
    r"^(?:(?P<h>\d+(?:[.,]\d+)?)\s*(?:h|u|uur|hours?)\s*(?P<hm>\d+)?\s*(?:m|min)?"
    r"|(?P<hh>\d+):(?P<mm>[0-5]\d)"
    r"|(?P<m>\d+)\s*(?:m|min|minutes?|minuten))(?:\s+(?P<note>.*))?$",
    re.IGNORECASE,
)
# Command arguments are accepted in Dutch and English alike, whatever the mediator's language.
OUTCOMES = {"settled": "settled", "geschikt": "settled", "akkoord": "settled",
            "geregeld": "settled", "opgelost": "settled",
            "not-settled": "not-settled", "niet-geschikt": "not-settled",
            "geen-akkoord": "not-settled", "niet-geregeld": "not-settled",
            "niet-opgelost": "not-settled", "unsettled": "not-settled"}
FORCE = {"force", "forceer", "forceren"}


def approve(session: Session, case: Case, mediator: Participant, command: Command,
            ctx: Context) -> Plan | None:
    if case.status == heat.PAUSED:  # nothing is relayed while paused, not even a release
        ctx.errors.append(phrase("approve-paused"))
        return None
    if settlement.answers_draft(session, case, command, ctx):  # the draft: off to be signed
        return settlement.approve(session, case, mediator, command, ctx)
    message = held_target(session, case, command, ctx, also=_waits(session))
    if message is None:
        return None
    edited = ctx.rest.strip()
    if message.status == "released":  # relayed, its copies waiting for the morning
        if not edited:
            ctx.errors.append(phrase("night-approve-needs-text", line=command.line,
                                     seq=message.seq))
            return None
        return _reword_waiting(session, case, mediator, message, edited, ctx, command.line)

    def run():  # noqa: ANN202
        author = session.get(Participant, message.author_id)
        message.status = "released"
        message.released_text = edited or message.text
        message.decided_at = utcnow()
        session.add(message)
        audit.record(session, case, "released", actor=mediator.name, message=message.seq,
                     edited=bool(edited))
        notices = relay_to_parties(session, case, message, author, exclude=author)
        notices.append(Notice("released", case, author, author=mediator, message=message,
                              context={"edited": bool(edited)}))
        key = "released-edited" if edited else "released"
        return notices, [phrase(key, seq=message.seq, name=author.name)]

    return run


def _waits(session: Session) -> Callable[[Message], bool]:
    """Accepts a released message whose copies still wait for the morning (threads.night):
    until then the mediator may withdraw it or send their own wording instead."""
    return lambda message: message.status == "released" and bool(night.waiting(session, message))


def _reword_waiting(session: Session, case: Case, mediator: Participant, message: Message,
                    edited: str, ctx: Context, line: str) -> Plan:
    """``#approve n`` with text on a message waiting for the morning: the mediator's wording
    goes out instead, to the same people at the same time."""

    def run():  # noqa: ANN202
        author = session.get(Participant, message.author_id)
        copies = night.withdraw(session, message)
        if not copies:  # the morning came while this mail was on its way
            return [], [phrase("already-decided", line=line, seq=message.seq,
                               status=message.status)]
        waiting = {c.participant_id for c in copies}
        message.released_text, message.decided_at = edited, utcnow()
        session.add(message)
        audit.record(session, case, "released", actor=mediator.name, message=message.seq,
                     edited=True, before="morning")
        notices = [n for n in relay_to_parties(session, case, message, author, exclude=author)
                   if n.recipient.id in waiting]
        until = night.aware(copies[0].next_attempt_at)
        for notice in notices:
            notice.not_before = until
        morning = night.local_time(until, case.timezone or ctx.timezone)
        notices.append(Notice("released", case, author, author=mediator, message=message,
                              context={"edited": True, "morning": morning}))
        return notices, [phrase("night-edited", seq=message.seq, name=author.name,
                                morning=morning)]

    return run


def reject(session: Session, case: Case, mediator: Participant, command: Command,
           ctx: Context) -> Plan | None:
    message = held_target(session, case, command, ctx, also=_waits(session))
    first, _, rest = command.args.partition(" ")
    reason = rest.strip() if first.isdigit() else command.args
    if message is None:
        return None
    if not reason:
        ctx.errors.append(phrase("reason-missing", line=command.line))
        return None

    def run():  # noqa: ANN202
        author = session.get(Participant, message.author_id)
        withdrawn = night.withdraw(session, message) if message.status == "released" else []
        message.status = "rejected"
        message.decided_at = utcnow()
        session.add(message)
        audit.record(session, case, "rejected", actor=mediator.name, message=message.seq,
                     reason=reason, withdrawn=len(withdrawn))
        notice = Notice("rejected", case, author, author=mediator, message=message,
                        context={"reason": reason})
        key = "night-withdrawn" if withdrawn else "rejected"
        return [notice], [phrase(key, seq=message.seq, name=author.name)]

    return run


def private(session: Session, case: Case, mediator: Participant, command: Command,
            ctx: Context) -> Plan | None:
    """Write to one party alone: named, or the author of the message being answered."""

    if command.args and not command.args.split()[0].isdigit():
        party = find_party(session, case, command.args, ctx, command.line)
    elif ctx.private_with is not None and not command.args:
        party = ctx.private_with
    else:
        message = target_message(session, case, command, ctx)
        party = session.get(Participant, message.author_id) if message else None
        if party is not None and party.role != "party":
            ctx.errors.append(phrase("private-needs-party", line=command.line))
            return None
    if party is None:
        return None
    if not ctx.rest.strip():
        ctx.errors.append(phrase("private-text-missing", line=command.line))
        return None

    def run():  # noqa: ANN202
        notices = send_private(session, case, mediator, party,
                               (ctx.signed_rest or ctx.rest).strip(), ctx)
        return notices, [phrase("private-sent", name=party.name)]

    return run


def status(session: Session, case: Case, mediator: Participant, command: Command,
           ctx: Context) -> Plan | None:
    def run():  # noqa: ANN202
        context = overview(session, case, case.timezone or ctx.timezone)
        return [Notice("status", case, mediator, author=mediator, context=context)], []

    return run


def add(session: Session, case: Case, mediator: Participant, command: Command,
        ctx: Context) -> Plan | None:

    try:
        spec = parse_party(command.args)
    except CaseError as error:
        ctx.errors.append(phrase("add-malformed", line=command.line, problem=error.phrases[0]))
        return None
    taken = session.exec(select(Participant).where(
        Participant.case_id == case.id,
        is_address(session, Participant.email_hash, spec.email))).first()
    if taken is not None:
        ctx.errors.append(phrase("add-duplicate", line=command.line, email=spec.email))
        return None
    limit = ctx.max_participants
    if len(parties_of(session, case)) >= limit:
        ctx.errors.append(phrase("add-too-many", line=command.line, limit=limit))
        return None

    def run():  # noqa: ANN202
        party = Participant(case_id=case.id, role="party", name=spec.name, email=spec.email,
                            language=case.language, token=new_token(),
                            private_token=new_token(), mediator_token=new_token())
        session.add(party)
        session.flush()
        audit.record(session, case, "participant-added", actor=mediator.name, name=spec.name)
        invitation = Notice("invitation", case, party, author=mediator, automatic=False)
        resign = text_changed(session, case, {"change": "party-added", "name": spec.name},
                              mediator.name)
        return [invitation, *resign], [phrase("added", name=spec.name,
                                               told=[n.recipient.name for n in resign])]

    return run


def remove(session: Session, case: Case, mediator: Participant, command: Command,
           ctx: Context) -> Plan | None:
    party = find_party(session, case, command.args, ctx, command.line)
    if party is None:
        return None

    def run():  # noqa: ANN202

        party.active = False
        session.add(party)
        revoke_links(session, case, party, actor=mediator.name)
        audit.record(session, case, "participant-removed", actor=mediator.name, name=party.name)
        notice = Notice("removed", case, party, author=mediator)
        resign = text_changed(session, case, {"change": "party-removed", "name": party.name},
                              mediator.name)
        return [notice, *resign], [phrase("removed", name=party.name,
                                           told=[n.recipient.name for n in resign])]

    return run


def remind(session: Session, case: Case, mediator: Participant, command: Command,
           ctx: Context) -> Plan | None:
    if command.args:
        party = find_party(session, case, command.args, ctx, command.line)
        if party is None:
            return None
        people = [party]
    else:
        people = waiting_parties(session, case, mediator)
        if not people:
            ctx.errors.append(phrase("nobody-to-remind", line=command.line))
            return None

    def run():  # noqa: ANN202
        # each party's own count of #remind so far, in one query: the next wording in turn
        before = dict(session.exec(
            select(OutgoingMail.participant_id, func.count(col(OutgoingMail.id)))
            .where(col(OutgoingMail.participant_id).in_([p.id for p in people]),
                   OutgoingMail.kind == "reminder")
            .group_by(col(OutgoingMail.participant_id))).all())
        started = begun(session, case)
        notices = [Notice("reminder", case, p, author=mediator,
                          context={"variant": wording(p.id, before.get(p.id, 0)),
                                   "started": started})
                   for p in people]
        for person in people:
            audit.record(session, case, "reminder", actor=mediator.name, name=person.name,
                         manual=True)
        return notices, [phrase("reminded", names=[p.name for p in people])]

    return run


def split_costs(session: Session, case: Case, mediator: Participant, command: Command,
                ctx: Context) -> Plan | None:
    """``#split``; when the case's agreement names each party's share, a new split changes
    its text, so whoever signed is asked to sign again (as for a new party or rate)."""
    plan = split(session, case, mediator, command, ctx)
    if plan is None:
        return None

    def run():  # noqa: ANN202
        before = [p.cost_share for p in parties_of(session, case)]
        notices, lines = plan()
        if shows_split(session, case) and before != [p.cost_share
                                                      for p in parties_of(session, case)]:
            notices = [*notices, *text_changed(session, case, {"change": "split"},
                                               mediator.name)]
        return notices, lines

    return run


def waiting_parties(session: Session, case: Case, mediator: Participant) -> list[Participant]:
    """Parties who have not written since the mediator's last shared message."""
    last = session.exec(
        select(func.max(Message.created_at)).where(
            Message.case_id == case.id, Message.author_id == mediator.id,
            Message.channel == "shared")
    ).one()
    people = parties_of(session, case)
    if last is None:
        return people
    return [p for p in people if p.last_message_at is None or p.last_message_at < last]


def time(session: Session, case: Case, mediator: Participant, command: Command,
         ctx: Context) -> Plan | None:
    match = _DURATION.match(command.args.strip())
    if match is None:
        ctx.errors.append(phrase("time-format", line=command.line))
        return None
    if match["hh"]:
        minutes = int(match["hh"]) * 60 + int(match["mm"])
    elif match["m"]:
        minutes = int(match["m"])
    else:
        minutes = round(float(match["h"].replace(",", ".")) * 60) + int(match["hm"] or 0)
    if not 0 < minutes <= 24 * 60:
        ctx.errors.append(phrase("time-range", line=command.line))
        return None
    note = (match["note"] or "").strip()

    def run():  # noqa: ANN202
        session.add(TimeEntry(case_id=case.id, minutes=minutes, note=note[:500]))
        audit.record(session, case, "time", actor=mediator.name, minutes=minutes, note=note)
        session.flush()
        return [], [phrase("time-logged", minutes=minutes, total=logged_minutes(session, case))]

    return run


def logged_minutes(session: Session, case: Case) -> int:
    return session.exec(
        select(func.coalesce(func.sum(TimeEntry.minutes), 0)).where(TimeEntry.case_id == case.id)
    ).one()


def close(session: Session, case: Case, mediator: Participant, command: Command,
          ctx: Context) -> Plan | None:
    """'#close settled|not-settled [force] [note]': refused while messages are still held,
    unless dismissed first or forced (held messages are then set aside, never relayed)."""
    words = command.args.split()
    outcome = OUTCOMES.get(words[0].lower()) if words else None
    rest = words[1:]
    force = bool(rest) and (rest[0].lower() in FORCE or rest[-1].lower() in FORCE)
    if force:
        rest = rest[1:] if rest[0].lower() in FORCE else rest[:-1]
    note = " ".join(rest)
    if case.status == "closed":
        ctx.errors.append(phrase("already-closed", line=command.line))
        return None
    if outcome is None:
        ctx.errors.append(phrase("close-outcome", line=command.line))
        return None
    held = held_messages(session, case)
    if held and not force:
        names = {p.id: p.name for p in session.exec(
            select(Participant).where(Participant.case_id == case.id))}
        ctx.errors.append(phrase(
            "close-held", line=command.line, outcome=outcome,
            held=[{"seq": m.seq, "name": names.get(m.author_id, "?"),
                   "words": first_words(m.text)} for m in held]))
        return None

    def run():  # noqa: ANN202
        for message in held:
            message.status, message.decided_at = "dismissed", utcnow()
            session.add(message)
            audit.record(session, case, "dismissed", actor=mediator.name, message=message.seq,
                         reason="case closed")
        case.status, case.outcome, case.closed_at = "closed", outcome, utcnow()
        case.close_note = note[:1000] or None
        session.add(case)
        audit.record(session, case, "closed", actor=mediator.name, outcome=outcome)
        notices = [Notice("closed", case, p, author=mediator, automatic=False,
                          context={"outcome": outcome, "note": note})
                   for p in parties_of(session, case)]
        return notices, [phrase("closed", outcome=outcome, dismissed=[m.seq for m in held])]

    return run


def dismiss(session: Session, case: Case, mediator: Participant, command: Command,
            ctx: Context) -> Plan | None:
    """'#dismiss [n] [reason]': a held message is not relayed; its author is told kindly."""
    message = held_target(session, case, command, ctx)
    first, _, rest = command.args.partition(" ")
    reason = rest.strip() if first.isdigit() else command.args.strip()
    if message is None:
        return None

    def run():  # noqa: ANN202
        author = session.get(Participant, message.author_id)
        message.status, message.decided_at = "dismissed", utcnow()
        session.add(message)
        audit.record(session, case, "dismissed", actor=mediator.name, message=message.seq,
                     reason=reason)
        notice = Notice("dismissed", case, author, author=mediator, message=message,
                        context={"reason": reason, "words": first_words(message.text)})
        return [notice], [phrase("dismissed", seq=message.seq, name=author.name)]

    return run


def reopen(session: Session, case: Case, mediator: Participant, command: Command,
           ctx: Context) -> Plan | None:
    if case.status != "closed":
        ctx.errors.append(phrase("not-closed", line=command.line))
        return None

    def run():  # noqa: ANN202
        case.status, case.outcome, case.closed_at, case.close_note = "open", None, None, None
        session.add(case)
        audit.record(session, case, "reopened", actor=mediator.name)
        notices = [Notice("reopened", case, p, author=mediator, automatic=False)
                   for p in parties_of(session, case)]
        return notices, [phrase("reopened")]

    return run


def alias(session: Session, case: Case, mediator: Participant, command: Command,
          ctx: Context) -> Plan | None:
    name, _, address = command.args.rpartition("<")
    party = find_party(session, case, name.strip(), ctx, command.line) if address else None
    if not address:
        ctx.errors.append(phrase("alias-format", line=command.line))
    try:
        email = normalize_address(address.rstrip(">").strip()) if address else ""
    except ValueError:
        ctx.errors.append(phrase("alias-format", line=command.line))
        return None
    if party is None:
        return None

    def run():  # noqa: ANN202
        exists = session.exec(select(ParticipantAlias).where(
            ParticipantAlias.participant_id == party.id,
            is_address(session, ParticipantAlias.email_hash, email))).first()
        if exists is None:
            session.add(ParticipantAlias(participant_id=party.id, email=email))
            audit.record(session, case, "alias", actor=mediator.name, name=party.name)
        return [], [phrase("aliased", name=party.name)]

    return run


def help_(session: Session, case: Case, mediator: Participant, command: Command,
          ctx: Context) -> Plan | None:
    def run():  # noqa: ANN202
        return [Notice("help", case, mediator, author=mediator)], []

    return run


def overview(session: Session, case: Case, zone: str) -> dict:
    """What #status shows: every participant's state, the messages waiting for review and
    those passed on that reach the others in the morning (at the hour of ``zone``)."""
    people = session.exec(
        select(Participant).where(Participant.case_id == case.id).order_by(col(Participant.id))
    ).all()
    held = session.exec(
        select(Message).where(Message.case_id == case.id, Message.status == "held")
        .order_by(col(Message.seq))
    ).all()
    names = {p.id: p.name for p in people}
    mediator = mediator_of(session, case)
    waiting = {p.id for p in waiting_parties(session, case, mediator)}
    return {
        "first": attention.first(session, case),
        "people": [p for p in people if p.role == "party"],
        "waiting": waiting,
        "held": [{"seq": m.seq, "author": names.get(m.author_id, "?"),
                  "wrong_sender": bool(m.hold_reason) and m.hold_reason not in heat.HOLD_REASONS,
                  "suggested": bool(m.suggested_text), "reason": m.hold_reason,
                  "release_at": m.release_at} for m in held],
        "morning": [{"seq": m.seq, "author": names.get(m.author_id, "?"),
                     "at": night.local_time(min(c.next_attempt_at for c in copies), zone)}
                    for m in night.waiting_messages(session, case)
                    if (copies := night.waiting(session, m))],
        "alerts": [{"seq": m.seq, "author": names.get(m.author_id, "?"),
                    "private": m.channel == "private"}
                   for m in heat.open_alerts(session, case)],
        "balance": balance.of(session, case),
        "proposals": proposals.matrix(session, case),
        "minutes": logged_minutes(session, case),
        "quarantined_count": quarantine.count(session, case),
        "quarantined": [
            {"at": row.received_at, "reason": (row.reason or "")[:160]}
            for row in session.exec(
                select(InboundMail).where(InboundMail.case_id == case.id,
                                          InboundMail.status == "quarantined")
                .order_by(col(InboundMail.id).desc()).limit(5))
        ],
    }


def link(session: Session, case: Case, mediator: Participant, command: Command,
         ctx: Context) -> Plan | None:

    party = find_party(session, case, command.args, ctx, command.line)
    if party is None:
        return None

    def run():  # noqa: ANN202
        return resend_links(session, case, party), [phrase("links-sent", name=party.name)]

    return run


def parse_date(text: str, now: datetime, zone: str = "Europe/Amsterdam") -> datetime | None:
    """'2026-12-01', '1-12-2026', '1/12', 'tomorrow'/'morgen', '3d' -> the end of that day."""
    text = text.strip().lower()
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    day = None
    relative = re.fullmatch(r"(\d{1,2})\s*(d|dagen|days?)", text)
    if text in ("tomorrow", "morgen"):
        day = today + timedelta(days=1)
    elif relative:
        day = today + timedelta(days=int(relative[1]))
    else:
        for pattern in ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d-%m", "%d/%m"):
            try:
                parsed = datetime.strptime(text, pattern)
            except ValueError:
                continue
            day = parsed.date().replace(year=parsed.year if "%Y" in pattern else today.year)
            if "%Y" not in pattern and day < today:
                day = day.replace(year=today.year + 1)
            break
    if day is None or day < today:
        return None
    return datetime.combine(day, datetime.max.time().replace(microsecond=0), tzinfo=tz)


def awaiting(session: Session, case: Case, mediator: Participant, command: Command,
             ctx: Context) -> Plan | None:
    """'#awaiting Name [date]': the mediator waits for this party's answer."""

    name, by = command.args, None
    words = command.args.rsplit(maxsplit=1)
    if len(words) == 2 and re.search(r"\d|tomorrow|morgen", words[1].lower()):
        by = parse_date(words[1], utcnow())
        if by is None:
            ctx.errors.append(phrase("date-format", line=command.line))
            return None
        name = words[0]
    party = find_party(session, case, name, ctx, command.line)
    if party is None:
        return None

    def run():  # noqa: ANN202
        mark_awaiting(session, case, party, by, actor=mediator.name)
        return [], [phrase("awaiting", name=party.name, by=by.date().isoformat() if by else "")]

    return run


def reply_by(session: Session, case: Case, mediator: Participant, command: Command,
             ctx: Context) -> Plan | None:
    """'#reply-by <date>' above a message: it goes to every party, who are reminded after."""

    by = parse_date(command.args, utcnow())
    if by is None:
        ctx.errors.append(phrase("date-format", line=command.line))
        return None
    if not ctx.rest.strip():
        ctx.errors.append(phrase("reply-by-text-missing", line=command.line))
        return None

    def run():  # noqa: ANN202
        contribution = Contribution(text=(ctx.signed_rest or ctx.rest).strip(),
                                    dedupe_key=ctx.message_key(),
                                    inbound_id=ctx.inbound_id)
        message = new_message(session, case, mediator, contribution, "released")
        message.released_text, message.decided_at = message.text, utcnow()
        audit.record(session, case, "mediator-message", actor=mediator.name, message=message.seq)
        people = parties_of(session, case)
        for party in people:
            mark_awaiting(session, case, party, by, actor=mediator.name)
        notices = relay_to_parties(session, case, message, mediator, exclude=None)
        return notices, [phrase("reply-by-sent", by=by.date().isoformat(),
                                names=[p.name for p in people])]

    return run


def export(session: Session, case: Case, mediator: Participant, command: Command,
           ctx: Context) -> Plan | None:
    """The case file goes to the mediator (built by the application when the mail is composed)."""
    def run():  # noqa: ANN202
        return [Notice("export", case, mediator, author=mediator)], []

    return run


def original(session: Session, case: Case, mediator: Participant, command: Command,
             ctx: Context) -> Plan | None:
    """The mail a message came from, as it arrived (quotes, signature, headers and all)."""
    message = target_message(session, case, command, ctx)
    if message is None:
        return None
    inbound = session.get(InboundMail, message.inbound_id) if message.inbound_id else None
    if inbound is None:
        ctx.errors.append(phrase("no-original", line=command.line, seq=message.seq))
        return None

    def run():  # noqa: ANN202
        if session.get(Blob, inbound.sha256) is None:
            # The raw mail is already sealed as the blob store expects: keep it as it is.
            session.add(Blob(sha256=inbound.sha256, size=inbound.size, data=inbound.raw))
            session.flush()
        author = session.get(Participant, message.author_id)
        file = {"sha256": inbound.sha256, "filename": f"message-{message.seq}.eml",
                "content_type": "message/rfc822"}
        notice = Notice("original", case, mediator, author=mediator, message=message,
                        context={"original": file, "from_name": author.name})
        return [notice], []

    return run


HANDLERS = {
    "approve": approve, "reject": reject, "private": private, "status": status, "add": add,
    "remove": remove, "moderation": moderation, "remind": remind, "time": time, "costs": costs,
    "split": split_costs,
    "close": close, "dismiss": dismiss, "reopen": reopen, "alias": alias, "help": help_,
    "link": link, "awaiting": awaiting, "reply-by": reply_by, "export": export,
    "original": original, "suggest": suggest, "review": review_party, "open": open_party,
    "accept-name": accept_name,
    "ack": heat.ack, "video": video.video, "pause": pause.pause, "resume": pause.resume,
    "cooling-off": cooling.setting, "hold": cooling.hold,
    "propose": proposals.propose, "proposals": proposals.proposals,
    "withdraw": proposals.withdraw, "settlement": settlement.draft,
    "countersign": settlement.countersign,
}


def execute(
    session: Session, case: Case, mediator: Participant, parsed: Parsed, ctx: Context
) -> list[Notice]:
    """Check every command first, then carry them all out, then answer the mediator once."""
    ctx.errors.extend(parsed.errors)
    plans: list[Plan] = []
    if not ctx.errors:
        for command in parsed.commands:
            plan = HANDLERS[command.name](session, case, mediator, command, ctx)
            if plan is not None:
                plans.append(plan)
    notices: list[Notice] = []
    lines: list[dict[str, Any]] = []
    if not ctx.errors:
        for plan in plans:
            produced, said = plan()
            notices += produced
            lines += said
        uses_text = any(c.name in TAKES_TEXT for c in parsed.commands)
        if parsed.rest and not uses_text:
            lines.append(phrase("text-not-sent"))
    for command in parsed.commands:
        audit.record(
            session, case, "command", actor=mediator.name, command=command.line[:200],
            accepted=not ctx.errors,
        )
    if ctx.errors or lines or not notices:
        notices.append(
            Notice(
                "command-reply", case, mediator, author=mediator, answers=ctx.answers,
                context={"lines": lines, "errors": ctx.errors},
            )
        )
    return notices


def from_mediator(
    session: Session, case: Case, mediator: Participant, contribution: Contribution
) -> list[Notice]:
    """The mediator's mail: its command lines carried out (all or none), or, without any,
    their message passed on (threads.relay.mediator_message)."""
    parsed = parse(contribution.text)
    if not (parsed.commands or parsed.errors):
        return mediator_message(session, case, mediator, contribution)
    private_with = contribution.counterpart if contribution.channel == "private" else None
    ctx = Context(
        refs=contribution.refs, rest=parsed.rest, answers=contribution.message_id,
        private_with=private_with, max_participants=contribution.max_participants,
        mail_key=contribution.dedupe_key, inbound_id=contribution.inbound_id,
        signed_rest=parse(contribution.signed_text).rest
        if contribution.signed_text else parsed.rest,
        video_url_template=contribution.video_url_template, timezone=contribution.timezone,
        night_hold=contribution.night_hold,
        files=contribution.files, templates_dir=contribution.templates_dir,
    )
    return execute(session, case, mediator, parsed, ctx)
