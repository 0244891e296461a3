"""What a decision asks to be sent: one Notice per recipient, composed into mail by mailgate.

``threads`` decides who is told what; it never builds MIME. The caller turns every Notice into
an outbox row in the same transaction as the decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from threads.models import Case, Message, Participant

# Mail to a party about their own steps (a receipt, a copy of their intake or signature, a
# reminder) comes from their private line: a reply to it reaches the mediator alone, never
# the other parties (confidential by default).
PRIVATE_REPLY_KINDS = frozenset({
    "received", "dismissed", "moderation-changed", "agreement-changed", "name-changed",
    "intake-copy", "signed-copy", "reminder", "reminder-register", "reminder-intake",
    "reminder-sign", "reminder-reply", "costs-statement", "night-received",
    "video-invite", "video-cancel",
    "cooling-off", "cooling-delay", "cooling-stopped",
})


@dataclass
class Notice:
    kind: str  # the template name under templates/mail/<lang>/
    case: Case | None  # None only for service mail outside any case (opening by mail)
    recipient: Participant | None
    author: Participant | None = None  # whose words these are (display name of the copy)
    message: Message | None = None
    to_address: str | None = None  # only for mail to someone who is not a participant
    language: str | None = None  # defaults to the recipient's, then the case's
    answers: str | None = None  # Message-ID of the mail this notice answers
    context: dict[str, Any] = field(default_factory=dict)
    automatic: bool = True  # RFC 3834 Auto-Submitted: auto-replied / auto-generated
    channel: str = "shared"  # "private": on the counterpart party's private line
    counterpart: Participant | None = None
    not_before: datetime | None = None  # sent no earlier (threads.night: after the night)

    def __post_init__(self) -> None:
        recipient = self.recipient
        if (self.kind in PRIVATE_REPLY_KINDS and self.channel == "shared"
                and recipient is not None and recipient.role == "party"
                and recipient.private_token):
            self.channel, self.counterpart = "private", recipient

    @property
    def lang(self) -> str:
        if self.language:
            return self.language
        if self.recipient is not None:
            return self.recipient.language
        return self.case.language if self.case is not None else "nl"
