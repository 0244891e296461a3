"""The settlement over real SMTP: drafted from the proposals every party agreed to, in their
order, from the kind's template or the mediator's own; reviewed by the mediator first, then
sent to the parties to sign."""

from __future__ import annotations

import email.policy
import email.utils
from email.message import EmailMessage

from conftest import MEDIATOR
from sqlmodel import Session, select
from support import DKIM_KEY, smtp_send
from test_proposals import open_in
from test_walking_skeleton import ANNA, BRAM, CEES, reply

from threads.models import Settlement

PROPOSALS = ("Anna keeps the house and pays Bram and Cees € 40.000,- each.",
             "The piano goes to Cees.",
             "Bram takes the garden furniture.")


async def agree(service, sink, address, texts=PROPOSALS, refuse=(2,),
                word=("agreed", "not agreed")):
    """Put each text as a proposal; every party agrees, except Bram to the numbers in refuse."""
    for number, text in enumerate(texts, start=1):
        sink.delivered.clear()
        await reply(service, MEDIATOR, address[MEDIATOR], f"#propose\n{text}")
        for party in (ANNA, BRAM, CEES):
            [mail] = [d for d in sink.to(party) if text in d.text]
            answer = word[1] if party == BRAM and number in refuse else word[0]
            await reply(service, party, address[party], answer,
                        in_reply_to=mail.message["Message-ID"])


async def send_with_file(service, to: str, text: str, filename: str, content: str) -> None:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = MEDIATOR, to, "Re: [case]"
    mail["Date"] = email.utils.format_datetime(email.utils.localtime())
    mail["Message-ID"] = email.utils.make_msgid(domain="client.example")
    mail.set_content(text)
    mail.add_attachment(content.encode(), maintype="text", subtype="plain", filename=filename)
    raw = DKIM_KEY.sign(mail.as_bytes(policy=email.policy.SMTP), "office.test")
    await smtp_send(service.smtp_port, MEDIATOR, [to], raw)
    await service.settle()


async def test_the_draft_holds_what_everyone_agreed_and_goes_to_the_mediator_first(service, sink):
    address = await open_in(service, "en")
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#settlement")
    [refused] = sink.to(MEDIATOR)
    assert "no proposal has been agreed by every party yet" in refused.text

    await agree(service, sink, address)
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#settlement")
    assert sink.to(ANNA) == [] and sink.to(BRAM) == [] and sink.to(CEES) == []
    [draft] = sink.to(MEDIATOR)
    assert draft.message["Subject"].endswith("Draft settlement: Sharing the house")
    text = draft.text
    assert "SETTLEMENT AGREEMENT" in text and "Anna Jansen" in text and "Cees Ünal" in text
    assert PROPOSALS[1] not in text  # Bram did not agree to it
    first, third = text.index(PROPOSALS[0]), text.index(PROPOSALS[2])
    assert first < third
    assert "Article 1\r\n" + PROPOSALS[0] in text and "Article 2\r\n" + PROPOSALS[2] in text

    # the mediator's own template, attached
    sink.delivered.clear()
    await send_with_file(service, address[MEDIATOR], "#settlement", "ours.txt",
                         "OUR AGREEMENT {{ case.ref }}\n{% for p in proposals %}"
                         "- {{ p.text }}\n{% endfor %}Signed by {{ parties|join(' and ') }}.\n")
    [draft] = sink.to(MEDIATOR)
    assert "OUR AGREEMENT" in draft.text and f"- {PROPOSALS[2]}" in draft.text
    with Session(service.engine) as session:
        settlement = session.exec(select(Settlement)).one()
        assert settlement.status == "draft" and settlement.text.startswith("OUR AGREEMENT")

    # #approve on the draft sends each party their signing link
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#approve",
                in_reply_to=draft.message["Message-ID"])
    for party in (ANNA, BRAM, CEES):
        [invite] = sink.to(party)
        assert "/settlement/" in invite.text and "sign it here" in invite.text
    [told] = sink.to(MEDIATOR)
    assert "Each party has been sent a link" in told.text


async def test_a_family_case_in_dutch_drafts_a_parenting_plan(service, sink):
    address = await open_in(service, "nl", intake="family")
    await agree(service, sink, address, refuse=(), word=("akkoord", "niet akkoord"),
                texts=("De kinderen wonen om de week bij elk van beide ouders.",))
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#vaststellingsovereenkomst")
    [draft] = sink.to(MEDIATOR)
    assert "OUDERSCHAPSPLAN" in draft.text and "Afspraak 1" in draft.text
    assert "De kinderen wonen om de week" in draft.text
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#vaststellingsovereenkomst vso")
    [draft] = sink.to(MEDIATOR)
    assert "VASTSTELLINGSOVEREENKOMST" in draft.text and "7:900" in draft.text
