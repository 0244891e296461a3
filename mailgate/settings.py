"""Configuration sections owned by the mail gateway (inbound server, outbox transports)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from threads.settings import Section


class SmtpInboundSettings(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=2525, ge=0, le=65535)
    lmtp: bool = False


class InboundSettings(Section):
    max_message_size: int = Field(default=35 * 1024 * 1024, ge=1024)
    smtp: SmtpInboundSettings = SmtpInboundSettings()


class OutboundSettings(Section):
    transport: Literal["maildir", "smtp", "memory"] = "maildir"
    maildir: str = "var/outbox"
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    username: str = ""
    password: str = Field(default="", repr=False)
    timeout_seconds: float = Field(default=30.0, gt=0)
    connections: int = Field(default=4, ge=1, le=64)
    max_retry_hours: float = Field(default=48.0, gt=0)
