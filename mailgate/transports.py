"""Outbound transports behind one small interface: ``maildir``, ``smtp`` and ``memory``.

Like Django's mail backends: the outbox worker does not care where a copy goes. A transport
sends a batch over as few connections as it can and reports per copy: sent, temporary failure
(retry later) or permanent failure (RFC 5321 5xx: stop).
"""

from __future__ import annotations

import asyncio
import mailbox
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import aiosmtplib

from mailgate.settings import OutboundSettings


@dataclass
class Envelope:
    id: int
    mail_from: str
    rcpt_to: str
    raw: bytes


@dataclass
class Result:
    ok: bool
    permanent: bool = False
    error: str = ""


class Transport(Protocol):
    async def send(self, envelopes: list[Envelope]) -> dict[int, Result]: ...

    async def close(self) -> None: ...


class MaildirTransport:
    """Writes each copy into a local Maildir, as an MDA would (Return-Path, Delivered-To)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _write(self, envelopes: list[Envelope]) -> dict[int, Result]:
        box = mailbox.Maildir(str(self.path), create=True)
        results = {}
        for env in envelopes:
            head = f"Return-Path: <{env.mail_from}>\r\nDelivered-To: {env.rcpt_to}\r\n".encode()
            box.add(head + env.raw)
            results[env.id] = Result(ok=True)
        return results

    async def send(self, envelopes: list[Envelope]) -> dict[int, Result]:
        return await asyncio.to_thread(self._write, envelopes)

    async def close(self) -> None:
        return None


@dataclass
class MemoryTransport:
    """Keeps what would have been sent; for tests and ``mediate demo``."""

    sent: list[Envelope] = field(default_factory=list)

    async def send(self, envelopes: list[Envelope]) -> dict[int, Result]:
        self.sent.extend(envelopes)
        return {env.id: Result(ok=True) for env in envelopes}

    async def close(self) -> None:
        return None


class SmtpTransport:
    """Relays through an SMTP server with aiosmtplib, reusing connections across copies."""

    def __init__(self, settings: OutboundSettings) -> None:
        self.settings = settings

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.host, port=s.port, timeout=s.timeout_seconds,
            use_tls=s.security == "tls", start_tls=True if s.security == "starttls" else False,
            username=s.username or None, password=s.password or None,
        )

    async def send(self, envelopes: list[Envelope]) -> dict[int, Result]:
        results: dict[int, Result] = {}
        lanes = max(1, min(self.settings.connections, len(envelopes)))
        chunks = [envelopes[i::lanes] for i in range(lanes)]
        await asyncio.gather(*(self._send_lane(chunk, results) for chunk in chunks))
        return results

    async def _send_lane(self, envelopes: list[Envelope], results: dict[int, Result]) -> None:
        client = self._client()
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError) as error:
            for env in envelopes:
                results[env.id] = Result(ok=False, permanent=False, error=f"connect: {error}")
            return
        try:
            for env in envelopes:
                results[env.id] = await self._send_one(client, env)
                if not client.is_connected:
                    await client.connect()
        except (aiosmtplib.SMTPException, OSError) as error:
            for env in envelopes:
                results.setdefault(env.id, Result(ok=False, error=str(error)))
        finally:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()

    @staticmethod
    async def _send_one(client: aiosmtplib.SMTP, env: Envelope) -> Result:
        try:
            errors, _ = await client.sendmail(env.mail_from, [env.rcpt_to], env.raw)
        except aiosmtplib.SMTPRecipientsRefused as error:
            code = error.recipients[0].code if error.recipients else 550
            return Result(ok=False, permanent=500 <= code < 600, error=str(error))
        except aiosmtplib.SMTPResponseException as error:
            return Result(ok=False, permanent=500 <= error.code < 600, error=str(error))
        if errors:
            code, text = next(iter(errors.values()))
            return Result(ok=False, permanent=500 <= code < 600, error=f"{code} {text}")
        return Result(ok=True)

    async def close(self) -> None:
        return None


def make_transport(settings: OutboundSettings, base: Path) -> Transport:
    if settings.transport == "smtp":
        return SmtpTransport(settings)
    if settings.transport == "memory":
        return MemoryTransport()
    path = Path(settings.maildir)
    return MaildirTransport(path if path.is_absolute() else base / path)
