"""`mediate demo`: a complete scripted mediation against a real server on a free loopback port.

It opens a case with three parties, lets them reply over SMTP, has the mediator review, reject
and release, switches to open moderation, and prints who received what. Everything happens in
a temporary folder (SQLite database and Maildir), which is removed afterwards unless --keep.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import shutil
import tempfile
import textwrap
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import aiosmtplib

from mediate import casework
from mediate.config import load
from mediate.init_cmd import fresh_secret_key
from mediate.service import Service

MEDIATOR = ("Maria de Vries", "maria@practice.example")
DEMO_CONFIG = """# `mediate demo`'s own configuration: a temporary folder, a free loopback port.
[service]
domain = "mediation.example.org"
secret_key = "{key}"

[database]
url = "sqlite:///mediate.sqlite3"

# The demo's mediator has no real mail domain to sign with; a closed set-up on loopback, so
# the From address is enough (README: "Who is the mediator").
[inbound]
mediator_authentication = "address-only"

[inbound.smtp]
host = "127.0.0.1"
port = 0

[outbound]
transport = "maildir"
maildir = "outbox"

[web]
enabled = false

[[mediators]]
email = "{email}"
name = "{name}"
language = "en"
"""
PARTIES = [("Anna Jansen", "anna@home.example"), ("Bram de Boer", "bram@work.example"),
           ("Cees Bakker", "cees@mail.example")]


def _delivery_order(key: str) -> int:
    # Maildir names carry a per-process counter ("...Q<n>..."): the order of delivery here.
    return int(key.split("Q", 1)[1].split(".", 1)[0])


class Demo:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        # A real config file in the folder, so that with --keep every other command can be
        # pointed at the demo's database (`mediate --config FOLDER/config.toml case show`).
        self.config = folder / "config.toml"
        self.config.write_text(DEMO_CONFIG.format(key=fresh_secret_key(), name=MEDIATOR[0],
                                                  email=MEDIATOR[1]), encoding="utf-8")
        self.settings = load(self.config, environ={})
        self.ref = ""
        self.seen: set[str] = set()
        self.service: Service | None = None

    def inbox(self, address: str) -> list[EmailMessage]:
        box = mailbox.Maildir(str(self.folder / "outbox"), create=True)
        found = []
        for key in sorted(box.keys(), key=_delivery_order):
            mail = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
            if mail["Delivered-To"] == address:
                found.append(mail)
        return found

    def show_new(self) -> None:
        box = mailbox.Maildir(str(self.folder / "outbox"), create=True)
        fresh = []
        for key in sorted(box.keys(), key=_delivery_order):
            if key in self.seen:
                continue
            self.seen.add(key)
            mail = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
            fresh.append(mail)
        for mail in fresh:
            body = mail.get_body(preferencelist=("plain",)).get_content().strip()
            first = textwrap.shorten(body.split("\n---")[0].replace("\n", " "), 110)
            print(f"    -> to {mail['Delivered-To']:<24} from \"{mail['From'].split(' <')[0]}\"")
            print(f"       {first}")

    async def send(self, who: tuple[str, str], to: str, text: str, answers: EmailMessage | None
                   = None) -> None:
        mail = EmailMessage()
        mail["From"] = f"{who[0]} <{who[1]}>"
        mail["To"] = to
        mail["Subject"] = f"Re: {answers['Subject']}" if answers else "Hello"
        mail["Message-ID"] = make_msgid(domain=who[1].split("@")[1])
        if answers is not None:
            mail["In-Reply-To"] = answers["Message-ID"]
            mail["References"] = answers["Message-ID"]
            quoted = "\n".join("> " + line for line in
                               answers.get_body(("plain",)).get_content().splitlines()[:6])
            text = f"{text}\n\nOn {answers['Date']}, {answers['From']} wrote:\n{quoted}\n"
        mail.set_content(text)
        await aiosmtplib.send(mail, hostname="127.0.0.1", port=self.service.smtp_port)
        await self.service.settle()

    async def run(self) -> None:
        self.service = Service.build(self.settings)
        await self.service.start()
        try:
            await self.script()
        finally:
            await self.service.stop()
            self.service.engine.dispose()

    async def script(self) -> None:
        print(f"Mediate demo: SMTP server on 127.0.0.1:{self.service.smtp_port}, "
              f"folder {self.folder}\n")
        opened = casework.open_case(
            self.settings, title="Sharing the house", mediator_email=MEDIATOR[1],
            parties=[f"{n} <{a}>" for n, a in PARTIES], moderation="review", language="en",
            engine=self.service.engine,
        )
        await self.service.settle()
        address = dict(opened.party_addresses)
        anna, bram, cees = PARTIES
        print(f"1. {MEDIATOR[0]} opens case {opened.ref} (review moderation); invitations go out:")
        self.show_new()

        print("\n2. Anna replies to her invitation. In review mode only the mediator sees it:")
        await self.send(anna, address[anna[0]], "I would like to keep the sofa; Bram can have "
                        "the bookcase.", self.inbox(anna[1])[-1])
        self.show_new()

        print("\n3. The mediator answers the review mail with #approve; Bram and Cees receive it:")
        await self.send(MEDIATOR, opened.mediator_address, "#approve",
                        self.inbox(MEDIATOR[1])[-1])
        self.show_new()

        print("\n4. Bram answers sharply. The mediator returns it with a reason (#reject):")
        await self.send(bram, address[bram[0]], "Typical. You always take the best things.",
                        self.inbox(bram[1])[-1])
        self.show_new()
        await self.send(MEDIATOR, opened.mediator_address,
                        "#reject Could you say what you would like instead?",
                        self.inbox(MEDIATOR[1])[-1])
        self.show_new()

        print("\n5. The mediator opens the discussion (#moderation open) and writes to everyone:")
        await self.send(MEDIATOR, opened.mediator_address, "#moderation open",
                        self.inbox(MEDIATOR[1])[-1])
        await self.send(MEDIATOR, opened.mediator_address,
                        "Thank you both. Let us each list the three things that matter most.",
                        self.inbox(MEDIATOR[1])[-1])
        self.show_new()

        print("\n6. Cees answers; in open mode everyone receives it at once:")
        await self.send(cees, address[cees[0]], "For me: the piano, the photos, the bike.",
                        self.inbox(cees[1])[-1])
        self.show_new()

        print("\n7. Someone writes from an unregistered address; it is held, never relayed:")
        await self.send(("Unknown", "someone@else.example"), address[anna[0]],
                        "Hi, this is Anna from my work address.", None)
        self.show_new()
        self.ref = opened.ref
        print("\nNo party ever saw another party's e-mail address.")


async def run_demo(keep: bool = False) -> int:
    folder = Path(tempfile.mkdtemp(prefix="mediate-demo-"))
    demo = Demo(folder)
    try:
        await demo.run()
    finally:
        if keep:
            print(f"\nKept {folder}. Look around with:\n"
                  f"  mediate --config {demo.config} case show {demo.ref or 'REF'}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0
