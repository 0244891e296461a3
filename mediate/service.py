"""Everything `mediate serve` runs, assembled from the settings in one asyncio process.

The SMTP server stores mail and nudges the pipeline; the pipeline decides and nudges the outbox
worker; the outbox worker delivers. Each is a task on one event loop; database work runs in
threads so the loop stays responsive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from mailgate.attachments import AttachmentPolicy
from mailgate.compose import Composer
from mailgate.imap import ImapPoller
from mailgate.outbox import OutboxWorker
from mailgate.pipeline import Pipeline
from mailgate.smtp_server import InboundHandler, start_server, store_inbound
from mailgate.transports import Transport, make_transport
from mediate.config import Settings
from mediate.scheduler import Scheduler
from threads import db
from threads.models import InboundMail, OutgoingMail, utcnow

log = logging.getLogger("mediate")


def make_composer(settings: Settings) -> Composer:
    return Composer(
        domain=settings.service.domain,
        templates_dir=settings.templates_dir,
        service_name=settings.service.name,
        base_url=settings.service.base_url,
        secret=settings.service.secret_key,
    )


def platform_fee(settings: Settings) -> float:
    fees = getattr(settings, "fees", None)
    return float(getattr(fees, "platform_fee", 0.0) or 0.0)


def open_local(settings: Settings) -> str:
    """The local part of the address mediators write to when opening a case by mail."""
    address = settings.service.open_address or f"open@{settings.service.domain}"
    return address.split("@", 1)[0].lower()


def prepare_database(settings: Settings, *, auto_upgrade: bool | None = None) -> Engine:
    """Open the database; SQLite is upgraded in place, PostgreSQL must be upgraded by hand."""
    engine = db.make_engine(settings.database_url)
    if auto_upgrade is None:
        auto_upgrade = db.is_sqlite(engine)
    if auto_upgrade:
        db.upgrade(engine)
    else:
        db.check_schema(engine)
    return engine


@dataclass
class Service:
    settings: Settings
    engine: Engine
    transport: Transport
    composer: Composer = field(init=False)
    pipeline: Pipeline = field(init=False)
    outbox: OutboxWorker = field(init=False)
    handler: InboundHandler = field(init=False)
    scheduler: Scheduler = field(init=False)  # reminders, readiness, digests (issue 5)
    smtp_port: int = 0
    imap: ImapPoller | None = None  # inbound.imap: a thread fetching from a mailbox
    _server: asyncio.base_events.Server | None = None
    _tasks: list[asyncio.Task] = field(default_factory=list)

    def __post_init__(self) -> None:
        s = self.settings
        self.composer = make_composer(s)
        self.outbox = OutboxWorker(self.engine, self.transport, s.outbound)
        self.pipeline = Pipeline(
            self.engine, self.composer, s.service.domain, s.service.secret_key,
            AttachmentPolicy(), on_enqueued=self.outbox.nudge, mediators=s.mediators,
            case_settings=s.cases, platform_fee=platform_fee(s),
            open_local=open_local(s), default_language=s.service.default_language,
            trusted_authserv_id=s.inbound.trusted_authserv_id,
        )
        self.handler = InboundHandler(
            self.engine, s.service.domain, s.service.secret_key, self.pipeline.nudge,
            source="lmtp" if s.inbound.smtp.lmtp else "smtp",
        )
        self.scheduler = Scheduler(self.engine, self.composer, s, on_enqueued=self.outbox.nudge)

    @classmethod
    def build(cls, settings: Settings, transport: Transport | None = None) -> Service:
        engine = prepare_database(settings)
        transport = transport or make_transport(settings.outbound, settings.base_dir)
        return cls(settings, engine, transport)

    async def start(self) -> None:
        s = self.settings
        if s.inbound.smtp.enabled:
            self._server = await start_server(
                self.handler, s.inbound.smtp.host, s.inbound.smtp.port,
                s.inbound.max_message_size, lmtp=s.inbound.smtp.lmtp,
            )
            self.smtp_port = self._server.sockets[0].getsockname()[1]
            log.info("%s listening on %s:%s",
                     "LMTP" if s.inbound.smtp.lmtp else "SMTP", s.inbound.smtp.host, self.smtp_port)
        self._tasks = [
            asyncio.create_task(self.pipeline.run(), name="pipeline"),
            asyncio.create_task(self.outbox.run(), name="outbox"),
        ]
        self.scheduler.start()
        if s.inbound.imap.enabled:
            self.imap = self._imap_poller(asyncio.get_running_loop())
            self.imap.start()

    async def stop(self) -> None:
        self.handler.accepting = False
        if self.imap is not None:
            await asyncio.to_thread(self.imap.stop)
        await self.scheduler.stop()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.transport.close()

    def _imap_poller(self, loop: asyncio.AbstractEventLoop) -> ImapPoller:
        """IMAP stores through the same durable path as SMTP, from its own thread."""
        s = self.settings

        def store(raw: bytes, mail_from: str, rcpt_tos: list[str]) -> int:
            return store_inbound(self.engine, raw, mail_from, rcpt_tos, "imap")

        return ImapPoller(s.inbound.imap, s.service.domain, store,
                          on_stored=lambda: loop.call_soon_threadsafe(self.pipeline.nudge))

    async def settle(self, timeout: float = 15.0) -> None:
        """Wait until no inbound mail is pending and no copy is due (tests and the demo)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            await self.pipeline.process_pending()
            await self.outbox.deliver_due()
            if not await asyncio.to_thread(self._pending):
                return
            await asyncio.sleep(0.02)
        raise TimeoutError("work still pending after settle()")

    def _pending(self) -> int:
        with Session(self.engine) as session:
            inbound = session.exec(
                select(func.count()).select_from(InboundMail).where(InboundMail.status == "pending")
            ).one()
            # The clock is read inside the transaction: copies committed while we waited for
            # the database must count as due.
            now = utcnow()
            outbound = session.exec(
                select(func.count()).select_from(OutgoingMail).where(
                    OutgoingMail.status == "pending", OutgoingMail.next_attempt_at <= now
                )
            ).one()
            return inbound + outbound
