"""Configuration sections owned by the mail gateway (inbound server, outbox transports)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from threads.settings import Section


class SmtpInboundSettings(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=2525, ge=0, le=65535)
    lmtp: bool = False


class ImapSettings(Section):
    """Fetching from a catch-all mailbox (mailgate.imap): IDLE when offered, polling otherwise."""

    enabled: bool = False
    host: str = ""
    port: int = Field(default=993, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    username: str = ""
    password: str = Field(default="", repr=False)
    folder: str = "INBOX"
    processed_folder: str = "Mediate/Processed"  # empty: leave stored mail in place, flagged
    poll_seconds: float = Field(default=60.0, gt=0)
    idle: bool = True
    envelope_header: str = ""  # e.g. "X-Envelope-To"; empty: Delivered-To, X-Original-To, To/Cc

    @model_validator(mode="after")
    def _server_when_enabled(self) -> ImapSettings:
        if self.enabled and not self.host:
            raise ValueError("host: required when imap is enabled")
        if self.enabled and not self.username:
            raise ValueError("username: required when imap is enabled")
        return self


class InboundSettings(Section):
    max_message_size: int = Field(default=35 * 1024 * 1024, ge=1024)
    smtp: SmtpInboundSettings = SmtpInboundSettings()
    imap: ImapSettings = ImapSettings()
    # The authserv-id (RFC 8601) of the server whose Authentication-Results header we trust:
    # a DMARC or DKIM failure it reports holds the message for the mediator. Empty: not used.
    trusted_authserv_id: str = ""


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
