"""What each mediator command does. Each handler checks its arguments (adding errors to the
context) and returns a plan: a function that carries the command out and says what it did."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from threads import audit, balance, heat, pause, video
from threads.addresses import new_token, normalize_address
from threads.cases import mediator_of, parties_of
from threads.commands import Command, Context, Plan, find_party, phrase, target_message
from threads.models import (
    Blob,
    Case,
    InboundMail,
    Message,
    Participant,
    ParticipantAlias,
    TimeEntry,
    utcnow,
)
from threads.notices import Notice

_DURATION = re.compile(
    r"^(?:(?P<h>\d+(?:[.,]\d+)?)\s*(?:h|u|uur|hours?)\s*(?P<hm>\d+)?\s*(?:m|min)?"
    r"|(?P<hh>\d+):(?P<mm>[0-5]\d)"
    r"|(?P<m>\d+)\s*(?:m|min|minutes?|minuten))(?:\s+(?P<note>.*))?$",
    re.IGNORECASE,
)
OUTCOMES = {"settled": "settled", "geschikt": "settled", "akkoord": "settled",
            "not-settled": "not-settled", "niet-geschikt": "not-settled",
            "geen-akkoord": "not-settled"}


def approve(session: Session, case: Case, mediator: Participant, command: Command,
            ctx: Context) -> Plan | None:
    from threads.relay import relay_to_parties

    message = target_message(session, case, command, ctx)
    if message is None:
        return None
    if message.status != "held":
        ctx.errors.append(phrase("already-decided", line=command.line, seq=message.seq,
                                 status=message.status))
        return None
    edited = ctx.rest.strip()

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


def reject(session: Session, case: Case, mediator: Participant, command: Command,
           ctx: Context) -> Plan | None:
    message = target_message(session, case, command, ctx)
    first, _, rest = command.args.partition(" ")
    reason = rest.strip() if first.isdigit() else command.args
    if message is None:
        return None
    if message.status != "held":
        ctx.errors.append(phrase("already-decided", line=command.line, seq=message.seq,
                                 status=message.status))
        return None
    if not reason:
        ctx.errors.append(phrase("reason-missing", line=command.line))
        return None

    def run():  # noqa: ANN202
        author = session.get(Participant, message.author_id)
        message.status = "rejected"
        message.decided_at = utcnow()
        session.add(message)
        audit.record(session, case, "rejected", actor=mediator.name, message=message.seq,
                     reason=reason)
        notice = Notice("rejected", case, author, author=mediator, message=message,
                        context={"reason": reason})
        return [notice], [phrase("rejected", seq=message.seq, name=author.name)]

    return run


def private(session: Session, case: Case, mediator: Participant, command: Command,
            ctx: Context) -> Plan | None:
    """Write to one party alone: named, or the author of the message being answered."""
    from threads.relay import send_private

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
        notices = send_private(session, case, mediator, party, ctx.rest.strip(), ctx)
        return notices, [phrase("private-sent", name=party.name)]

    return run


def status(session: Session, case: Case, mediator: Participant, command: Command,
           ctx: Context) -> Plan | None:
    def run():  # noqa: ANN202
        context = overview(session, case)
        return [Notice("status", case, mediator, author=mediator, context=context)], []

    return run


def add(session: Session, case: Case, mediator: Participant, command: Command,
        ctx: Context) -> Plan | None:
    from threads.cases import CaseError, parse_party

    try:
        spec = parse_party(command.args)
    except CaseError as error:
        ctx.errors.append(phrase("add-malformed", line=command.line, problem=error.phrases[0]))
        return None
    taken = session.exec(select(Participant).where(
        Participant.case_id == case.id, Participant.email == spec.email)).first()
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
                            private_token=new_token())
        session.add(party)
        session.flush()
        audit.record(session, case, "participant-added", actor=mediator.name, name=spec.name)
        invitation = Notice("invitation", case, party, author=mediator, automatic=False)
        return [invitation], [phrase("added", name=spec.name)]

    return run


def remove(session: Session, case: Case, mediator: Participant, command: Command,
           ctx: Context) -> Plan | None:
    party = find_party(session, case, command.args, ctx, command.line)
    if party is None:
        return None

    def run():  # noqa: ANN202
        from threads.links import revoke_links

        party.active = False
        session.add(party)
        revoke_links(session, case, party, actor=mediator.name)
        audit.record(session, case, "participant-removed", actor=mediator.name, name=party.name)
        notice = Notice("removed", case, party, author=mediator)
        return [notice], [phrase("removed", name=party.name)]

    return run


def moderation(session: Session, case: Case, mediator: Participant, command: Command,
               ctx: Context) -> Plan | None:
    mode = {"open": "open", "review": "review", "controle": "review",
            "beoordelen": "review"}.get(command.args.lower().strip(), "")
    if not mode:
        ctx.errors.append(phrase("moderation-value", line=command.line))
        return None

    def run():  # noqa: ANN202
        case.moderation = mode
        session.add(case)
        audit.record(session, case, "moderation", actor=mediator.name, mode=mode)
        return [], [phrase("moderation-set", mode=mode)]

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
        notices = [Notice("reminder", case, p, author=mediator) for p in people]
        for person in people:
            audit.record(session, case, "reminder", actor=mediator.name, name=person.name,
                         manual=True)
        return notices, [phrase("reminded", names=[p.name for p in people])]

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


def costs(session: Session, case: Case, mediator: Participant, command: Command,
          ctx: Context) -> Plan | None:
    def run():  # noqa: ANN202
        return [Notice("costs", case, mediator, author=mediator,
                       context=cost_overview(session, case))], []

    return run


def cost_overview(session: Session, case: Case) -> dict:
    entries = session.exec(
        select(TimeEntry).where(TimeEntry.case_id == case.id).order_by(col(TimeEntry.id))
    ).all()
    minutes = sum(e.minutes for e in entries)
    fee = round(minutes * case.hourly_rate / 60, 2)
    return {"entries": entries, "minutes": minutes, "rate": case.hourly_rate, "hours_fee": fee,
            "platform_fee": case.platform_fee, "total": round(fee + case.platform_fee, 2)}


def close(session: Session, case: Case, mediator: Participant, command: Command,
          ctx: Context) -> Plan | None:
    word, _, note = command.args.partition(" ")
    outcome = OUTCOMES.get(word.lower().strip())
    if case.status == "closed":
        ctx.errors.append(phrase("already-closed", line=command.line))
        return None
    if outcome is None:
        ctx.errors.append(phrase("close-outcome", line=command.line))
        return None

    def run():  # noqa: ANN202
        case.status, case.outcome, case.closed_at = "closed", outcome, utcnow()
        case.close_note = note.strip()[:1000] or None
        session.add(case)
        audit.record(session, case, "closed", actor=mediator.name, outcome=outcome)
        notices = [Notice("closed", case, p, author=mediator, automatic=False,
                          context={"outcome": outcome, "note": note.strip()})
                   for p in parties_of(session, case)]
        return notices, [phrase("closed", outcome=outcome)]

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
            ParticipantAlias.participant_id == party.id, ParticipantAlias.email == email)).first()
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


def overview(session: Session, case: Case) -> dict:
    """What #status shows: every participant's state and the messages waiting for review."""
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
        "people": [p for p in people if p.role == "party"],
        "waiting": waiting,
        "held": [{"seq": m.seq, "author": names.get(m.author_id, "?"),
                  "wrong_sender": bool(m.hold_reason) and m.hold_reason not in heat.HOLD_REASONS,
                  "reason": m.hold_reason} for m in held],
        "alerts": [{"seq": m.seq, "author": names.get(m.author_id, "?")}
                   for m in heat.open_alerts(session, case)],
        "balance": balance.of(session, case),
        "minutes": logged_minutes(session, case),
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
    from threads.links import resend_links

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
    from threads.reminders import mark_awaiting

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
    from threads.relay import Contribution, new_message, relay_to_parties
    from threads.reminders import mark_awaiting

    by = parse_date(command.args, utcnow())
    if by is None:
        ctx.errors.append(phrase("date-format", line=command.line))
        return None
    if not ctx.rest.strip():
        ctx.errors.append(phrase("reply-by-text-missing", line=command.line))
        return None

    def run():  # noqa: ANN202
        message = new_message(session, case, mediator, Contribution(text=ctx.rest.strip()),
                              "released")
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
    "close": close, "reopen": reopen, "alias": alias, "help": help_, "link": link,
    "awaiting": awaiting, "reply-by": reply_by, "export": export, "original": original,
    "ack": heat.ack, "video": video.video, "pause": pause.pause, "resume": pause.resume,
}
