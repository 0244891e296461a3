"""What a case costs and who pays what: ``#costs``, ``#costs send`` and ``#split``.

The mediator's logged time at the case's hourly rate plus the one-off platform fee, VAT on
both on its own line (``fees.vat_percent`` as it was when the case opened; 0 shows none), and
each party's share: equal unless the mediator set one with ``#split Anna 50 Bram 30 Cees 20``.
Amounts are Decimal cents, rounded half up as an invoice is; an equal split hands the odd
cents to the first parties, so the shares always add up to the total to the cent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlmodel import Session, col, select

from threads import audit
from threads.cases import parties_of
from threads.commands import Command, Context, Plan, find_party, phrase
from threads.models import Case, Participant, TimeEntry
from threads.notices import Notice

CENT = Decimal("0.01")
SEND = {"send", "stuur", "versturen", "verstuur", "verzenden"}
EQUAL = {"equal", "gelijk", "evenly", "reset"}
_PERCENT = re.compile(r"^(\d+(?:[.,]\d+)?)%?$")


def plain(value: Decimal) -> str:
    """'50', '33.3': a percentage without Decimal's exponent ('5E+1')."""
    return format(value.normalize(), "f")


def cents(value: Decimal | float) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Share:
    party: Participant
    percent: Decimal
    amount: Decimal  # VAT included


def overview(session: Session, case: Case) -> dict[str, Any]:
    """The case's costs so far, with each active party's share (a template context)."""
    entries = session.exec(
        select(TimeEntry).where(TimeEntry.case_id == case.id).order_by(col(TimeEntry.id))
    ).all()
    minutes = sum(e.minutes for e in entries)
    hours_fee = cents(Decimal(minutes) * Decimal(str(case.hourly_rate)) / 60)
    platform_fee = cents(case.platform_fee)
    subtotal = hours_fee + platform_fee
    vat = cents(subtotal * Decimal(str(case.vat_percent)) / 100)
    total = subtotal + vat
    return {"entries": entries, "minutes": minutes, "rate": cents(case.hourly_rate),
            "hours_fee": hours_fee, "platform_fee": platform_fee, "subtotal": subtotal,
            "vat_percent": Decimal(str(case.vat_percent)).normalize(), "vat": vat,
            "total": total, "shares": shares(parties_of(session, case), total),
            "split_set": any(p.cost_share is not None for p in parties_of(session, case))}


def shares(parties: list[Participant], total: Decimal) -> list[Share]:
    """Each party's share: as ``#split`` set it, else equal among the parties themselves. A
    party opened with a role (a grandparent or other relative taking part in a family case)
    pays nothing unless a split says so; when every party has a role, all share alike."""
    if not parties:
        return []
    if any(p.cost_share is not None for p in parties):
        return [Share(p, Decimal(str(p.cost_share or 0)).normalize(),
                      cents(total * Decimal(str(p.cost_share or 0)) / 100)) for p in parties]
    pays = [p.relation is None for p in parties]
    if not any(pays):
        pays = [True] * len(parties)
    count = sum(pays)
    each = (total / count).quantize(CENT, rounding="ROUND_DOWN")
    odd = int((total - each * count) / CENT)  # cents left over: one each to the first
    percent = (Decimal(100) / count).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    found, payer = [], 0
    for party, paying in zip(parties, pays, strict=True):
        if not paying:
            found.append(Share(party, Decimal(0), Decimal(0)))
            continue
        found.append(Share(party, percent.normalize(), each + (CENT if payer < odd else 0)))
        payer += 1
    return found


def costs(session: Session, case: Case, mediator: Participant, command: Command,
          ctx: Context) -> Plan | None:
    """``#costs``: the overview for the mediator; ``#costs send``: also each paying party's own
    statement (their share), from their private line so a question about it stays private."""
    send = command.args.strip().lower() in SEND
    if command.args.strip() and not send:
        ctx.errors.append(phrase("costs-args", line=command.line))
        return None

    def run():  # noqa: ANN202
        context = overview(session, case)
        notices = [Notice("costs", case, mediator, author=mediator,
                          context={**context, "sent": send})]
        if send:
            for share in context["shares"]:
                if not share.percent:  # a party who pays nothing gets no bill of nothing
                    continue
                notices.append(Notice("costs-statement", case, share.party, author=mediator,
                                      context={**context, "share": share}))
            audit.record(session, case, "costs-sent", actor=mediator.name,
                         total=str(context["total"]))
        return notices, []

    return run


def split(session: Session, case: Case, mediator: Participant, command: Command,
          ctx: Context) -> Plan | None:
    """``#split Anna 50 Bram 30 Cees 20`` (percentages adding up to 100; a party left out
    pays nothing), or ``#split equal`` to share alike again."""
    words = command.args.split()
    if len(words) == 1 and words[0].lower() in EQUAL:
        wanted: dict[int, Decimal] = {}
    else:
        wanted, name = {}, []
        for word in words:
            number = _PERCENT.match(word)
            if number is None:
                name.append(word)
                continue
            party = find_party(session, case, " ".join(name), ctx, command.line)
            if party is None:
                return None
            wanted[party.id] = Decimal(number[1].replace(",", "."))
            name = []
        if name or not wanted:
            ctx.errors.append(phrase("split-format", line=command.line))
            return None
        if sum(wanted.values()) != 100:
            ctx.errors.append(phrase("split-sum", line=command.line,
                                     total=plain(sum(wanted.values()))))
            return None

    def run():  # noqa: ANN202
        for party in parties_of(session, case):
            party.cost_share = float(wanted.get(party.id, 0)) if wanted else None
            session.add(party)
        audit.record(session, case, "split", actor=mediator.name,
                     shares={str(k): plain(v) for k, v in wanted.items()} or "equal")
        session.flush()
        done = overview(session, case)["shares"]
        return [], [phrase("split-set", shares=[{"name": s.party.name, "percent": plain(s.percent)}
                                                for s in done], equal=not wanted)]

    return run
