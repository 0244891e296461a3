"""classify: the stages in order, each marker they recognise, and what they must not flag."""

from __future__ import annotations

import pytest

from mailgate.classify import (
    STAGES,
    ClassifyContext,
    Verdict,
    autoreply,
    bounce,
    calendar,
    classify,
    loop,
    malformed,
)
from mailgate.parse import parse_mail

CTX = ClassifyContext()


def _classify(headers: str, body: str = "Akkoord.\n") -> Verdict:
    raw = (headers.strip("\n") + "\n\n" + body).encode("utf-8")
    return classify(parse_mail(raw), raw, CTX)


PERSON = "From: Jan Jansen <jan@example.nl>\nSubject: Re: [2026-014] Voorstel\n" \
         "In-Reply-To: <1@mediation.example.org>"


def test_stages_run_in_documented_order() -> None:
    assert STAGES == (malformed.check, loop.check, bounce.check, calendar.check,
                      autoreply.check)


def test_only_a_reply_is_relayable() -> None:
    assert Verdict("reply", "x").relayable
    for kind in ("auto-reply", "bounce", "feedback-report", "delivery-report", "loop",
                 "malformed", "calendar-reply"):
        assert not Verdict(kind, "x").relayable


def test_a_person_writing_is_a_reply() -> None:
    assert _classify(PERSON).kind == "reply"


def test_unparseable_bytes_are_malformed() -> None:
    verdict = classify(None, b"\x00\x01 not mail", CTX)
    assert verdict.kind == "malformed" and verdict.reason


def test_missing_from_is_malformed() -> None:
    assert _classify("Subject: hallo").kind == "malformed"


@pytest.mark.parametrize("header", [
    "X-Loop: mediate@mediation.example.org",
    "Message-ID: <20260305.1@mediation.example.org>",
])
def test_our_own_mail_is_a_loop(header: str) -> None:
    assert _classify(PERSON + "\n" + header).kind == "loop"


def test_mail_from_one_of_our_case_addresses_is_a_loop() -> None:
    assert _classify("From: <2026-014+tok@mediation.example.org>").kind == "loop"


def test_too_many_received_headers_is_a_loop() -> None:
    hops = "\n".join(f"Received: from h{i} by h{i + 1}; Thu, 5 Mar 2026" for i in range(45))
    assert _classify(PERSON + "\n" + hops).kind == "loop"


def test_own_domain_comes_from_the_context() -> None:
    raw = b"From: a@example.nl\nX-Loop: mediate@other.example\n\nx"
    assert classify(parse_mail(raw), raw, ClassifyContext("other.example")).kind == "loop"
    assert classify(parse_mail(raw), raw, CTX).kind == "reply"


@pytest.mark.parametrize(("header", "reason"), [
    ("Auto-Submitted: auto-replied", "Auto-Submitted"),
    ("Auto-Submitted: auto-generated", "Auto-Submitted"),
    ("X-Autoreply: yes", "X-Autoreply"),
    ("X-Autorespond: Ik ben afwezig", "X-Autorespond"),
    ("X-MS-Exchange-Inbox-Rules-Loop: jan@example.nl", "X-MS-Exchange-Inbox-Rules-Loop"),
    ("Precedence: bulk", "Precedence"),
    ("Precedence: junk", "Precedence"),
    ("Precedence: list", "Precedence"),
    ("Return-Path: <>", "Return-Path"),
])
def test_automatic_reply_markers(header: str, reason: str) -> None:
    verdict = _classify(PERSON + "\n" + header)
    assert verdict.kind == "auto-reply"
    assert reason in verdict.reason


@pytest.mark.parametrize("value", ["All", "OOF, AutoReply", "DR, RN, NRN, OOF, AutoReply"])
def test_x_auto_response_suppress_is_a_request_not_a_sign_of_an_auto_reply(value: str) -> None:
    # Outlook asks others not to answer its mail automatically; a person wrote it.
    assert _classify(PERSON + f"\nX-Auto-Response-Suppress: {value}").kind == "reply"


def test_auto_submitted_no_means_a_person() -> None:
    assert _classify(PERSON + "\nAuto-Submitted: no").kind == "reply"


@pytest.mark.parametrize("subject", [
    "Afwezig: [2026-014] Voorstel", "Automatisch antwoord: Re: [2026-014] Voorstel",
    "Out of Office: Re: [2026-014]", "Automatic reply: [2026-014] Proposal",
    "Autoreply: Voorstel", "AUTO-REPLY", "Abwesenheitsnotiz: Vorschlag",
])
def test_out_of_office_subjects(subject: str) -> None:
    assert _classify(f"From: jan@example.nl\nSubject: {subject}").kind == "auto-reply"


@pytest.mark.parametrize("subject", [
    "Re: [2026-014] Afwezig tijdens de zitting?", "Vakantie kinderen 2026",
    "Re: Vacation schedule for the children", "Absent father's rights",
])
def test_people_may_write_about_absence(subject: str) -> None:
    assert _classify(f"From: jan@example.nl\nSubject: {subject}").kind == "reply"


def test_classic_bounce_by_mailer_daemon_sender() -> None:
    verdict = _classify(
        "From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail Returned to Sender",
        "<piet@example.org>: host mx.example.org said: 550 5.1.1 User unknown\n")
    assert verdict.kind == "bounce"
    assert [(b.address, b.permanent) for b in verdict.bounced] == [("piet@example.org", True)]


def test_a_person_quoting_a_bounce_subject_in_a_reply_is_not_a_bounce() -> None:
    assert _classify("From: jan@example.nl\nSubject: Re: Undeliverable: voorstel").kind == "reply"


def test_forwarded_bounce_with_transcript_is_a_bounce() -> None:
    verdict = _classify(
        "From: Jan <jan@example.nl>\nSubject: Fwd: Returned mail: see transcript for details",
        "----- The following addresses had permanent fatal errors -----\n<oud@example.org>\n"
        "    (reason: 550 5.1.1 User unknown)\n")
    assert verdict.kind == "bounce"


def test_amazon_ses_bounce_notification() -> None:
    body = ('{"notificationType":"Bounce","bounce":{"bounceType":"Permanent",'
            '"bouncedRecipients":[{"emailAddress":"x@example.org","status":"5.1.1"}]}}\n')
    verdict = _classify("From: SES <ses@sns.example.com>\nSubject: AWS Notification Message",
                        body)
    assert verdict.kind == "bounce"
    assert [(b.address, b.permanent) for b in verdict.bounced] == [("x@example.org", True)]


def test_hotmail_style_complaint_is_a_feedback_report() -> None:
    verdict = _classify("From: staff@hotmail.example.com\n"
                        "Subject: complaint about message from 192.0.2.1")
    assert verdict.kind == "feedback-report"


def test_a_delivery_report_is_recognised_by_its_wording_and_status_code() -> None:
    verdict = _classify("From: Mail Service <mailservice@contoso.example.com>\n"
                        "Return-Path: <mailservice@contoso.example.com>\nSubject: RE: Voorstel",
                        "Delivery has failed to these recipients or groups:\n\n"
                        "b.willems@contoso.example.com\n#550 5.1.1 RESOLVER.ADR.RecipNotFound\n")
    assert verdict.kind == "bounce"
    assert [(b.address, b.permanent) for b in verdict.bounced] == [
        ("b.willems@contoso.example.com", True)]


def test_a_person_quoting_a_delivery_report_is_not_one() -> None:
    verdict = _classify("From: Jan <jan@example.nl>\nSubject: Re: Voorstel",
                        "Ik heb het adres van Piet aangepast.\n\n"
                        "> Delivery has failed to these recipients or groups:\n"
                        "> piet@example.org\n> 550 5.1.1 User unknown\n")
    assert verdict.kind == "reply"


def test_the_mediator_answering_above_our_failed_delivery_notice_is_not_a_report() -> None:
    verdict = _classify("From: Maria de Vries <mediator@office.example>\nSubject: RE: Bericht",
                        "#status\n\nFrom: Mediate <2026-014+abc@mediation.example.org>\n"
                        "Sent: Tuesday, March 10, 2026 10:00\nTo: Maria de Vries\n"
                        "Subject: A message could not be delivered to Piet\n\n"
                        "A message of this mediation could not be delivered to Piet.\n"
                        "The server's answer was: 550 5.1.1 User unknown\n")
    assert verdict.kind == "reply"


def _calendar_mail(method: str, partstat: str) -> bytes:
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nMETHOD:" + method + "\r\n"
           "BEGIN:VEVENT\r\nUID:video-1@mediation.test\r\nDTSTAMP:20310301T120000Z\r\n"
           "DTSTART:20310314T143000Z\r\nATTENDEE;PARTSTAT=" + partstat +
           ":mailto:anna@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    return ("From: anna@example.org\r\nTo: case@mediation.test\r\nSubject: Accepted\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
            "--b\r\nContent-Type: text/plain\r\n\r\n\r\n"
            f"--b\r\nContent-Type: text/calendar; method={method}\r\n\r\n{ics}--b--\r\n"
            ).encode()


@pytest.mark.parametrize(("method", "partstat", "kind", "rsvp"), [
    ("REPLY", "ACCEPTED", "calendar-reply", ("accepted", "video-1@mediation.test")),
    ("REPLY", "TENTATIVE", "calendar-reply", ("tentative", "video-1@mediation.test")),
    ("REQUEST", "NEEDS-ACTION", "reply", None),  # someone forwarding an invitation writes
    ("REPLY", "DELEGATED", "reply", None),  # no answer the mediator can use
])
def test_a_calendar_reply_is_an_answer_to_the_invitation(method, partstat, kind, rsvp) -> None:
    raw = _calendar_mail(method, partstat)
    verdict = classify(parse_mail(raw), raw, CTX)
    assert (verdict.kind, verdict.rsvp) == (kind, rsvp)


def test_a_broken_calendar_part_never_breaks_classification() -> None:
    raw = _calendar_mail("REPLY", "ACCEPTED").replace(b"BEGIN:VEVENT", b"BEGIN:VEVENT\r\n::::")
    assert classify(parse_mail(raw), raw, CTX).kind in ("reply", "calendar-reply")
