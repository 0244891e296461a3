"""Realistic replies for the load generator, built once and personalised by byte substitution.

A reply looks like what a party's mail client sends back to a case: a few paragraphs of new
words on top, then the quoted history (``On ... wrote:`` and ``>`` lines), threading headers
(RFC 5322 section 3.6.4) and optionally a base64 attachment (RFC 2045). Building the MIME once
and replacing placeholders keeps the generator cheap, so the load generator measures the
server, not itself.
"""

from __future__ import annotations

import email.policy
import random
from email.message import EmailMessage

FROM = b"bench-from@placeholder.test"
TO = b"bench-to@placeholder.test"
MID = b"<bench-mid@placeholder.test>"

_WORDS = (
    "house agreement children weekend holiday money account proposal meeting school sofa car "
    "garden schedule costs pension rent deadline mediator understand suggest worried fair week "
    "monday answer time boxes kitchen insurance move agree option letter bank documents"
).split()


def _prose(rng: random.Random, characters: int) -> str:
    lines, line, total = [], [], 0
    while total < characters:
        word = rng.choice(_WORDS)
        line.append(word)
        total += len(word) + 1
        if sum(len(w) + 1 for w in line) > 68:
            lines.append(" ".join(line))
            line = []
    if line:
        lines.append(" ".join(line))
    sentences = "\n".join(lines)
    return sentences[0].upper() + sentences[1:] + "."


def reply(size: int = 4096, attachment_bytes: int = 0, seed: int = 8) -> bytes:
    """A reply of about ``size`` bytes of text (new words plus quoted history).

    Placeholders FROM, TO and MID are substituted per message by ``personalise``.
    """
    rng = random.Random(seed)
    new_words = _prose(rng, min(700, size // 5))
    quoted = []
    for depth in range(1, 4):
        quoted.append(f"{'>' * (depth - 1)}{' ' if depth > 1 else ''}On Mon, 2 Mar 2026 at "
                      f"1{depth}:04, Someone <case+token@mediation.bench.test> wrote:")
    history = _prose(rng, max(0, size - len(new_words) - 900))
    quoted_text = "\n".join("> " + line for line in history.splitlines())
    body = f"{new_words}\n\nKind regards,\nA party\n\n{quoted[0]}\n{quoted_text}\n"
    mail = EmailMessage()
    mail["From"] = f"A Party <{FROM.decode()}>"
    mail["To"] = TO.decode()
    mail["Subject"] = "Re: [2026-001] Sharing the house"
    mail["Date"] = "Mon, 02 Mar 2026 14:05:00 +0100"
    mail["Message-ID"] = MID.decode()
    mail["In-Reply-To"] = "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@mediation.bench.test>"
    mail["References"] = (
        "<ffffffffffffffffffffffffffffffff@mediation.bench.test> "
        "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@mediation.bench.test>"
    )
    mail["User-Agent"] = "Mozilla Thunderbird 128.0"
    mail.set_content(body)
    if attachment_bytes:
        data = rng.randbytes(attachment_bytes)
        mail.add_attachment(data, maintype="application", subtype="pdf",
                            filename="statement.pdf")
    return mail.as_bytes(policy=email.policy.SMTP)


def personalise(template: bytes, sender: str, to: str, message_id: str) -> bytes:
    return (
        template.replace(FROM, sender.encode(), 1)
        .replace(TO, to.encode(), 1)
        .replace(MID, message_id.encode(), 1)
    )


def relay_copy(recipient: str, sender: str, message_id: str, text: str) -> bytes:
    """A personalised outgoing copy shaped like Mediate's relay copies (for the bare sender)."""
    mail = EmailMessage()
    mail["From"] = f"A Party <{sender}>"
    mail["Reply-To"] = sender
    mail["To"] = recipient
    mail["Subject"] = "[2026-001] Sharing the house"
    mail["Date"] = "Mon, 02 Mar 2026 14:05:00 +0100"
    mail["Message-ID"] = message_id
    mail["In-Reply-To"] = "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@mediation.bench.test>"
    mail["References"] = "<ffffffffffffffffffffffffffffffff@mediation.bench.test>"
    mail["Thread-Topic"] = "[2026-001] Sharing the house"
    mail["X-Loop"] = "mediate@mediation.bench.test"
    mail["Content-Language"] = "en"
    mail.set_content(text, charset="utf-8", cte="quoted-printable")
    return mail.as_bytes(policy=email.policy.SMTP)


def new_words(size: int = 4096, seed: int = 8) -> str:
    """The new words of ``reply`` (what a relay copy carries), for sizing the bare copies."""
    return _prose(random.Random(seed), min(700, size // 5))
