"""Test helpers: a real aiosmtpd sink, a real SMTP client, and reading what was delivered."""

from __future__ import annotations

import asyncio
import base64
import datetime
import email
import email.policy
import ipaddress
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import dkim
from aiosmtpd.smtp import SMTP
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


class TestDkim:
    """A DKIM key made for this test run, and the DNS that publishes it (RFC 6376 section 3.6):
    the mediator's mail domain signs, and the pipeline looks the key up through ``dns``."""

    __test__ = False
    selector = "test"

    def __init__(self, domains: tuple[str, ...]) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        self.private = key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
        public = key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        self.record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
        self.domains = domains
        self.lookups: list[str] = []

    def dns(self, name: bytes | str, timeout: int = 5) -> bytes | None:
        name = name.decode() if isinstance(name, bytes) else name
        self.lookups.append(name)
        published = {f"{self.selector}._domainkey.{d}." for d in self.domains}
        return self.record if name.rstrip(".") + "." in published else None

    def sign(self, raw: bytes, domain: str) -> bytes:
        signature = dkim.sign(raw, self.selector.encode(), domain.encode(), self.private,
                              include_headers=[b"from", b"to", b"subject", b"date",
                                               b"message-id", b"in-reply-to", b"references"])
        return signature + raw


# The mediator's domain publishes a key; mail the tests send from it is signed (``compose``).
# A forger's domain publishes one too: their signatures verify, but vouch for nobody else.
SIGNED_DOMAINS = ("office.test",)
DKIM_KEY = TestDkim((*SIGNED_DOMAINS, "evil.test"))


@dataclass
class Delivered:
    mail_from: str
    rcpt_to: str
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        return body.get_content() if body is not None else ""


@dataclass
class Sink:
    """An SMTP server on loopback that keeps every copy it is given, per recipient.

    ``answers`` maps a recipient address to an SMTP reply to give instead of accepting
    (e.g. "450 4.2.1 try later"), for retry and permanent-failure tests.
    """

    delivered: list[Delivered] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    greetings: list[str] = field(default_factory=list)  # the EHLO/HELO name of each delivery
    port: int = 0
    server: asyncio.base_events.Server | None = None

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        answer = self.answers.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.greetings.append(session.host_name)
        for rcpt in envelope.rcpt_tos:
            self.delivered.append(Delivered(envelope.mail_from, rcpt.lower(), envelope.content))
        return "250 OK"

    async def start(self) -> Sink:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: SMTP(self, decode_data=False, data_size_limit=None),
            host="127.0.0.1", port=0,
        )
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def to(self, address: str) -> list[Delivered]:
        return [d for d in self.delivered if d.rcpt_to == address.lower()]

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.delivered) < count and loop.time() < deadline:
            await asyncio.sleep(0.02)


def compose(
    sender: str, to: str, text: str, *, subject: str = "Re: [case]",
    message_id: str | None = None, in_reply_to: str | None = None,
    headers: dict[str, str] | None = None, sign: bool | None = None,
) -> bytes:
    """A mail as a client writes it; from the mediator's domain it is DKIM-signed as their
    provider would (``sign=False``: a forger's copy)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = email.utils.format_datetime(email.utils.localtime())
    mail["Message-ID"] = message_id or email.utils.make_msgid(domain="client.example")
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
        mail["References"] = in_reply_to
    for name, value in (headers or {}).items():
        mail[name] = value
    mail.set_content(text)
    raw = mail.as_bytes(policy=email.policy.SMTP)
    domain = email.utils.parseaddr(sender)[1].rpartition("@")[2].lower()
    if sign is None:
        sign = domain in SIGNED_DOMAINS
    return DKIM_KEY.sign(raw, domain) if sign else raw


async def smtp_send(port: int, mail_from: str, rcpt_to: list[str], raw: bytes) -> tuple:
    """Send over real loopback SMTP; returns aiosmtplib's (errors, response)."""
    return await aiosmtplib.send(
        raw, sender=mail_from, recipients=rcpt_to, hostname="127.0.0.1", port=port, timeout=10
    )


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (a host name or an IP address), made for one
    test: (certificate file, key file), PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        alt = x509.DNSName(name)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
