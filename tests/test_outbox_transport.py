"""The SMTP transport against real loopback relays: STARTTLS and implicit TLS with login, a
relay that is down (temporary, never permanent), and DKIM signatures that verify."""

from __future__ import annotations

import base64
import ssl

import dkim
import pytest
from aiosmtpd.smtp import SMTP, AuthResult
from conftest import MEDIATOR, make_settings
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from serving import free_port
from support import DKIM_KEY, Sink, self_signed

from mailgate.settings import OutboundSettings
from mailgate.transports import Envelope, SmtpTransport
from mediate import casework
from mediate.service import Service

RAW = b"From: a@mediation.test\r\nTo: b@home.test\r\nSubject: hi\r\nMessage-ID: <1@x>\r\n\r\nhi\r\n"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (cert file, key file)."""
    return self_signed(tmp_path_factory.mktemp("tls"), "127.0.0.1")


class Login:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):  # noqa: ANN001
        self.seen.append(auth_data.login.decode())
        ok = (auth_data.login, auth_data.password) == (b"mediate", b"s3cret")
        return AuthResult(success=ok)


async def tls_relay(certificate, implicit: bool, login: Login):
    import asyncio

    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    sink = Sink()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(sink, decode_data=False, authenticator=login, auth_required=True,
                     tls_context=None if implicit else context,
                     require_starttls=not implicit, auth_require_tls=not implicit),
        host="127.0.0.1", port=0, ssl=context if implicit else None,
    )
    sink.server, sink.port = server, server.sockets[0].getsockname()[1]
    return sink


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_tls_and_login_as_configured(certificate, security):
    login = Login()
    relay = await tls_relay(certificate, security == "tls", login)
    transport = SmtpTransport(OutboundSettings(
        transport="smtp", host="127.0.0.1", port=relay.port, security=security,
        username="mediate", password="s3cret", ca_file=str(certificate[0]), connections=1,
    ))
    try:
        results = await transport.send([Envelope(1, "bounce@mediation.test", "b@home.test", RAW),
                                        Envelope(2, "bounce@mediation.test", "c@home.test", RAW)])
    finally:
        await transport.close()
        await relay.stop()
    assert all(r.ok for r in results.values()), results
    assert [d.rcpt_to for d in relay.delivered] == ["b@home.test", "c@home.test"]
    assert login.seen == ["mediate"]  # one connection, one login, both copies


async def test_a_relay_that_is_down_is_a_temporary_failure():
    transport = SmtpTransport(OutboundSettings(transport="smtp", host="127.0.0.1",
                                               port=free_port(), timeout_seconds=2))
    results = await transport.send([Envelope(1, "x@mediation.test", "b@home.test", RAW)])
    assert not results[1].ok and not results[1].permanent


async def test_a_certificate_we_do_not_trust_is_refused_and_retried_later(certificate):
    relay = await tls_relay(certificate, implicit=False, login=Login())
    transport = SmtpTransport(OutboundSettings(
        transport="smtp", host="127.0.0.1", port=relay.port, security="starttls"))
    try:
        results = await transport.send([Envelope(1, "x@mediation.test", "b@home.test", RAW)])
    finally:
        await relay.stop()
    assert not results[1].ok and not results[1].permanent and relay.delivered == []


async def test_outgoing_copies_carry_a_dkim_signature_that_verifies(tmp_path, database_url):
    key = rsa_key()
    (tmp_path / "dkim.pem").write_bytes(pem(key))
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    sink = await Sink().start()
    settings = make_settings(tmp_path, database_url, outbound={
        "transport": "smtp", "host": "127.0.0.1", "port": sink.port,
        "dkim": {"enabled": True, "selector": "s1", "private_key": "dkim.pem"},
    })
    service = Service.build(settings, dkim_dns=DKIM_KEY.dns)
    await service.start()
    try:
        casework.open_case(settings, title="House", mediator_email=MEDIATOR,
                           parties=["Anna <anna@home.test>", "Bram <bram@home.test>"],
                           engine=service.engine)
        await service.settle()
    finally:
        await service.stop()
        service.engine.dispose()
        await sink.stop()
    assert len(sink.delivered) == 3
    for delivered in sink.delivered:
        assert delivered.raw.startswith(b"DKIM-Signature:")
        assert b"d=mediation.test" in delivered.raw and b"s=s1" in delivered.raw
        assert dkim.verify(delivered.raw, dnsfunc=lambda name, timeout=5: record)
        tampered = delivered.raw.replace(b"Subject: [", b"Subject: [X")
        assert not dkim.verify(tampered, dnsfunc=lambda name, timeout=5: record)
