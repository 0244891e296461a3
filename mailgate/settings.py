"""Configuration sections owned by the mail gateway (inbound server, outbox transports)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mailgate.attachments import FORBIDDEN_EXTENSIONS, AttachmentPolicy
from threads.settings import Section


class SmtpInboundSettings(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=2525, ge=0, le=65535)
    lmtp: bool = False
    # STARTTLS (RFC 3207): PEM files, relative to the config file; the key may be in the
    # certificate's file. Empty: no STARTTLS offered.
    tls_certificate: str = ""
    tls_key: str = ""
    require_tls: bool = False  # refuse MAIL before STARTTLS (530)
    # What one client may ask of the front door (mailgate.smtp_server.Limits).
    max_connections: int = Field(default=20, ge=1, le=10_000)
    session_seconds: float = Field(default=300, gt=0)
    idle_seconds: float = Field(default=60, gt=0)
    max_recipients: int = Field(default=50, ge=1, le=1000)
    sender_rate_per_hour: int = Field(default=120, ge=1)

    @model_validator(mode="after")
    def _certificate_for_tls(self) -> SmtpInboundSettings:
        if self.require_tls and not self.tls_certificate:
            raise ValueError("require_tls: needs tls_certificate (and tls_key)")
        if self.tls_key and not self.tls_certificate:
            raise ValueError("tls_key: needs tls_certificate")
        return self


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


class AttachmentSettings(Section):
    """Which files a party's mail may pass on to the others (``[inbound.attachments]``)."""

    max_file_mb: float = Field(default=10, gt=0)
    max_message_mb: float = Field(default=25, gt=0)
    # Executables, scripts and macro documents (the file types Outlook and Gmail block).
    forbidden_extensions: list[str] = Field(
        default_factory=lambda: list(FORBIDDEN_EXTENSIONS))

    def policy(self) -> AttachmentPolicy:
        return AttachmentPolicy(
            max_file_bytes=int(self.max_file_mb * 1024 * 1024),
            max_message_bytes=int(self.max_message_mb * 1024 * 1024),
            forbidden_extensions=tuple(e.lower().lstrip(".") for e in self.forbidden_extensions),
        )


class InboundSettings(Section):
    max_message_size: int = Field(default=35 * 1024 * 1024, ge=1024)
    smtp: SmtpInboundSettings = SmtpInboundSettings()
    imap: ImapSettings = ImapSettings()
    attachments: AttachmentSettings = AttachmentSettings()
    # The authserv-id (RFC 8601) of the server whose Authentication-Results header we trust:
    # a DMARC or DKIM failure it reports holds the message for the mediator. Empty: not used.
    trusted_authserv_id: str = ""
    # How mail in a mediator's name is proven theirs (mailgate.authentication): "dkim" (a DKIM
    # signature Mediate verifies, or a pass in the trusted Authentication-Results), or
    # "address-only" (the From address alone: only for a closed set-up; warned on every start).
    mediator_authentication: Literal["dkim", "address-only"] = "dkim"
    # Cases one mediator may open by mail in an hour (a runaway script opens no more).
    open_per_hour: int = Field(default=10, ge=1)
    # The time one mail's analysis may take; past it the mail is quarantined with the reason
    # (mailgate.budget), so that no mail can hold up the ones after it.
    analysis_seconds: float = Field(default=10.0, gt=0)


class DkimSettings(Section):
    """DKIM signing of outgoing mail (RFC 6376), with dkimpy; off unless enabled."""

    enabled: bool = False
    selector: str = "mediate"
    domain: str = ""  # the signing domain (d=); empty: service.domain
    private_key: str = ""  # PEM file with the RSA or Ed25519 key, relative to the config file
    algorithm: Literal["rsa-sha256", "ed25519-sha256"] = "rsa-sha256"
    headers: list[str] = Field(default_factory=lambda: [
        "From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
        "Reply-To", "Content-Type", "MIME-Version",
    ])

    @model_validator(mode="after")
    def _key_when_enabled(self) -> DkimSettings:
        if self.enabled and not self.private_key:
            raise ValueError("private_key: required when dkim is enabled")
        if self.headers and "from" not in {h.lower() for h in self.headers}:
            raise ValueError("headers: must include From (RFC 6376 section 5.4)")
        return self


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
    ca_file: str = ""  # PEM bundle to trust for the relay's certificate; empty: the system's
    ehlo_name: str = ""  # the name we greet the relay with; empty: service.domain
    dkim: DkimSettings = DkimSettings()
