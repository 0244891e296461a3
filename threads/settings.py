"""Configuration sections owned by the case domain.

The application (`mediate.config`) assembles these into the one settings object read from
TOML; they live here so that `threads` can be handed its own typed settings without importing
the application.
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from threads.addresses import normalize_address

Language = Literal["nl", "en"]
Moderation = Literal["review", "open"]


def check_zone(value: str) -> str:
    """An IANA time zone name (Europe/Amsterdam), or ValueError."""
    try:
        ZoneInfo(value.strip())
    except (ValueError, ZoneInfoNotFoundError):
        raise ValueError(f"'{value}' is not a time zone such as Europe/Amsterdam") from None
    return value.strip()


class Section(BaseModel):
    """A config section: unknown keys are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ServiceSettings(Section):
    name: str = "Mediate"
    domain: str = "mediation.example.org"
    base_url: str = "http://127.0.0.1:8025"
    secret_key: str = Field(default="", repr=False)
    default_language: Language = "nl"
    open_address: str = ""
    timezone: str = "Europe/Amsterdam"
    # Where mail to postmaster@ and abuse@ <domain> goes (RFC 5321 section 4.5.1, RFC 2142);
    # empty: the first configured mediator.
    admin_address: str = ""

    @field_validator("admin_address")
    @classmethod
    def _admin(cls, value: str) -> str:
        from threads.addresses import normalize_address  # as MediatorSettings does

        return normalize_address(value) if value.strip() else ""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        value = value.strip().lower()
        if not value or "@" in value or " " in value or "." not in value:
            raise ValueError("must be a domain name such as mediation.example.org")
        return value


class CaseSettings(Section):
    max_participants: int = Field(default=30, ge=2, le=200)
    min_parties: int = Field(default=2, ge=1)
    default_moderation: Moderation = "review"
    reference_style: Literal["year-sequence", "random"] = "year-sequence"
    # How mail addresses a Dutch party: "u" (formal) or "je" (first name); per case with
    # `mediate case open --address`.
    address: Literal["je", "u"] = "u"


class MediatorSettings(Section):
    email: str
    name: str = Field(min_length=1)
    language: Language = "nl"
    hourly_rate: float = Field(default=0.0, ge=0)
    # The mediator's own closing under everything written in their name ("Hartelijke groet,
    # / Maria"), and the phone number a party is given wherever they are told to call.
    signature: str = ""
    phone: str = ""

    @field_validator("email")
    @classmethod
    def _address(cls, value: str) -> str:
        return normalize_address(value)


class ReminderSettings(Section):
    """When Mediate nudges parties and informs the mediator (``[reminders]``)."""

    first_after_days: float = Field(default=3, gt=0)
    repeat_every_days: float = Field(default=4, gt=0)
    max_reminders: int = Field(default=3, ge=0, le=20)
    quiet_hours: str = "21:00-08:00"
    skip_weekends: bool = False
    review_after_hours: float = Field(default=24, gt=0)
    sweep_interval_seconds: int = Field(default=300, ge=10)
    digest: Literal["off", "daily", "weekly"] = "off"
    digest_hour: int = Field(default=8, ge=0, le=23)

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        value = value.strip()
        if value in ("", "off"):
            return ""
        try:
            start, end = (part.strip() for part in value.split("-"))
            for part in (start, end):
                hour, minute = part.split(":")
                if not (0 <= int(hour) <= 23 and 0 <= int(minute) <= 59):
                    raise ValueError
        except ValueError:
            raise ValueError('must be "HH:MM-HH:MM" such as "21:00-08:00", or "off"') from None
        return f"{start}-{end}"


class AftercareSettings(Section):
    """After a case is closed as settled (``[aftercare]``, threads.aftercare): the evaluation
    questionnaire, and a follow-up mail some months on (0: none)."""

    evaluation: bool = True
    follow_up_months: int = Field(default=0, ge=0, le=60)
