"""The result types of classification: what a stage decided and why."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Bounced:
    """One recipient a delivery report says failed: permanently (5.x.x) or not (4.x.x)."""

    address: str
    permanent: bool
    status: str | None = None
    diagnostic: str | None = None  # the remote server's words (RFC 3464 Diagnostic-Code)


@dataclass
class Verdict:
    """What kind of mail this is, with a human-readable reason for the audit trail."""

    kind: str  # "reply", "auto-reply", "bounce", "feedback-report", "delivery-report", "loop",
    # "malformed", "calendar-reply"
    reason: str
    bounced: list[Bounced] = field(default_factory=list)
    # a calendar reply (iTIP METHOD:REPLY): the attendee's answer, "accepted", "declined" or
    # "tentative", and the event's UID
    rsvp: tuple[str, str] | None = None

    @property
    def relayable(self) -> bool:
        return self.kind == "reply"


@dataclass
class ClassifyContext:
    """What the stages need to know about us: our Message-IDs and X-Loop use `own_domain`."""

    own_domain: str = "mediation.example.org"

    @property
    def loop_marker(self) -> str:
        return f"mediate@{self.own_domain}"
