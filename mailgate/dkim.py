"""DKIM signing of outgoing copies (RFC 6376; Ed25519 per RFC 8463), with dkimpy.

Copies are stored unsigned in the outbox and signed just before each delivery attempt, so a
retry after a key rotation carries a valid signature and the ``t=`` tag tells when it was sent.
The signature goes first in the header (RFC 6376 section 5.6). Relaxed/relaxed canonicalisation
survives the small rewrapping relays do. Publish the public key as a TXT record at
``<selector>._domainkey.<domain>``.
"""

from __future__ import annotations

from pathlib import Path

import dkim

from mailgate.settings import DkimSettings


class DkimError(ValueError):
    """The DKIM key cannot be used; the message names the setting."""


class DkimSigner:
    def __init__(self, settings: DkimSettings, domain: str, base: Path) -> None:
        path = Path(settings.private_key)
        path = path if path.is_absolute() else base / path
        try:
            self.key = path.read_bytes()
        except OSError as error:
            raise DkimError(f"outbound.dkim.private_key: cannot read {path}: {error}") from None
        self.selector = settings.selector.encode()
        self.domain = (settings.domain or domain).encode()
        self.headers = [h.encode() for h in settings.headers]
        self.algorithm = settings.algorithm
        try:
            self.sign(b"From: test@example.org\r\nSubject: key check\r\n\r\nkey check\r\n")
        except dkim.DKIMException as error:
            raise DkimError(f"outbound.dkim.private_key: {path} is not usable: {error}") from None

    def sign(self, raw: bytes) -> bytes:
        """Return ``raw`` with a DKIM-Signature header in front."""
        signature = dkim.sign(
            raw, self.selector, self.domain, self.key,
            signature_algorithm=self.algorithm.encode(), include_headers=self.headers,
            canonicalize=(b"relaxed", b"relaxed"), linesep=b"\r\n",
        )
        return signature + raw


def make_signer(settings: DkimSettings, domain: str, base: Path) -> DkimSigner | None:
    return DkimSigner(settings, domain, base) if settings.enabled else None
