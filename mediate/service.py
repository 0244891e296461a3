"""Everything `mediate serve` runs, assembled from the settings, in one asyncio process.

The SMTP server stores mail and nudges the pipeline; the pipeline decides and nudges the outbox
worker; the outbox worker delivers. Each is a task on one event loop; database work runs in
threads so the loop stays responsive. ``roles`` choose the parts this process runs: all of them
(tests, `mediate demo`, ``serve.processes = false``), or the front door alone or one kind of
worker alone, as one of the processes of ``mediate.supervisor``; then the nudges also reach the
other processes through ``mediate.processes.Shared``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from mailgate.authentication import DnsFunction
from mailgate.compose import Composer
from mailgate.dkim import make_signer
from mailgate.imap import ImapPoller
from mailgate.outbox import OutboxWorker
from mailgate.pipeline import Pipeline
from mailgate.smtp_server import InboundHandler, Limits, start_server, store_inbound
from mailgate.transports import Transport, make_transport
from mediate import settlement_pdf
from mediate.config import Settings
from mediate.export import LINK_DAYS, fetch_download, for_mediator
from mediate.health import health, local_parts
from mediate.init_cmd import private_sqlite
from mediate.processes import (
    ALL_ROLES,
    FRONT,
    OUTBOX,
    PIPELINE,
    SCHEDULER,
    Shared,
    Slot,
    listen_for_wakes,
)
from mediate.processes import heartbeat as post_heartbeats
from mediate.scheduler import Scheduler
from mediate.web.server import WebServer, make_links, make_onboarding
from threads import db
from threads.claims import CLAIMANT, claimant_name, release_work
from threads.crypto import AtRestKey
from threads.crypto import seal as seal_bytes
from threads.models import Blob, InboundMail, InboundStatus, OutgoingMail, utcnow
from threads.sealed import use_key

log = logging.getLogger("mediate")


def stop_this_process() -> None:
    """The supervisor is gone: end at once, as its death signal would (mediate.supervisor),
    so that a supervisor started again finds the port and the claimant names free."""
    os._exit(1)


def make_composer(settings: Settings) -> Composer:
    return Composer(
        domain=settings.service.domain,
        templates_dir=settings.templates_dir,
        service_name=settings.service.name,
        base_url=settings.service.base_url,
        secret=settings.service.secret_key,
        at_rest=at_rest_key(settings),
        links=make_links(settings).url,
        exporter=make_exporter(settings),
        timezone=settings.service.timezone,
        mediators=settings.mediators, address=settings.cases.address,
    )


def make_exporter(settings: Settings):  # noqa: ANN201
    """What #export runs: the case file, attached as a stored blob or behind a signed link."""

    def export(session: Session, notice):  # noqa: ANN001,ANN202
        key = at_rest_key(settings)
        if notice.kind == "settlement-final":  # the signed settlement, as its PDF
            made = settlement_pdf.stored(session, notice.case, key)
            return {"file": made} if made else {}
        delivery = for_mediator(
            session, notice.case, notice.recipient, key, settings.templates_dir,
            settings.service.secret_key, settings.service.base_url,
        )
        if not delivery.attach:
            return {"link": delivery.link, "days": LINK_DAYS}
        archive = delivery.archive
        if session.get(Blob, archive.sha256) is None:
            session.add(Blob(sha256=archive.sha256, size=len(archive.data),
                             data=seal_bytes(archive.data, key)))
            session.flush()
        return {"file": {"sha256": archive.sha256, "filename": archive.filename,
                         "content_type": "application/zip"}}

    return export


def at_rest_key(settings: Settings) -> AtRestKey | None:
    """The key raw mail is sealed with in the database (``privacy.encryption_key``)."""
    return AtRestKey.from_setting(settings.privacy.encryption_key)


def platform_fee(settings: Settings) -> float:
    fees = getattr(settings, "fees", None)
    return float(getattr(fees, "platform_fee", 0.0) or 0.0)


def open_local(settings: Settings) -> str:
    """The local part of the address mediators write to when opening a case by mail."""
    address = settings.service.open_address or f"open@{settings.service.domain}"
    return address.split("@", 1)[0].lower()


def admin_address(settings: Settings) -> str:
    """Who receives mail to postmaster@ and abuse@ (service.admin_address, else the first
    mediator)."""
    if settings.service.admin_address:
        return settings.service.admin_address
    return settings.mediators[0].email if settings.mediators else ""


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The server side of STARTTLS on inbound SMTP/LMTP, or None when no certificate is set.
    An unreadable or mismatched file is an OSError naming its key (``serve`` prints one line)."""
    smtp = settings.inbound.smtp
    if not smtp.tls_certificate:
        return None
    certificate = settings.resolve_path(smtp.tls_certificate)
    key = settings.resolve_path(smtp.tls_key) if smtp.tls_key else None
    for name, path in (("tls_certificate", certificate), ("tls_key", key)):
        try:
            if path is not None:
                path.open("rb").close()
        except OSError as error:
            raise OSError(f"inbound.smtp.{name}: cannot read {path} ({error.strerror})") from None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certificate, key)
    except ssl.SSLError as error:
        raise OSError(f"inbound.smtp.tls_certificate: {certificate} and its key do not make a "
                      f"certificate chain ({error.reason or error})") from None
    return context


def open_database(settings: Settings) -> Engine:
    """The engine, with the key for the sealed personal columns (threads.sealed)."""
    engine = db.make_engine(settings.database_url)
    use_key(engine, at_rest_key(settings))
    return engine


def prepare_database(settings: Settings, *, auto_upgrade: bool | None = None) -> Engine:
    """Open the database; SQLite is upgraded in place, PostgreSQL must be upgraded by hand."""
    private_sqlite(settings)
    engine = open_database(settings)
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
    web: WebServer | None = None  # the signed-link pages (issue 4), when web.enabled
    web_port: int = 0
    claimant: str = ""  # this process's name on the rows it claims (threads.claims)
    imap: ImapPoller | None = None  # inbound.imap: a thread fetching from a mailbox
    roles: frozenset[str] = ALL_ROLES  # the parts this process runs (mediate.processes)
    shared: Shared | None = None  # when one of several processes: wake-ups and the board
    slot: Slot | None = None  # ... and which of them this one is
    _server: asyncio.base_events.Server | None = None
    _tasks: list[asyncio.Task] = field(default_factory=list)
    _unlisten: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        s = self.settings
        self.composer = make_composer(s)
        self.outbox = OutboxWorker(
            self.engine, self.transport, s.outbound, composer=self.composer,
            signer=make_signer(s.outbound.dkim, s.service.domain, s.base_dir),
            at_rest=self.composer.at_rest,
        )
        self.pipeline = Pipeline(
            self.engine, self.composer, s.service.domain, s.service.secret_key,
            s.inbound.attachments.policy(), on_enqueued=self._nudge_outbox, mediators=s.mediators,
            case_settings=s.cases, platform_fee=platform_fee(s), vat_percent=s.fees.vat_percent,
            open_local=open_local(s), default_language=s.service.default_language,
            at_rest=self.composer.at_rest,
            trusted_authserv_id=s.inbound.trusted_authserv_id,
            mediator_authentication=s.inbound.mediator_authentication,
            open_per_hour=s.inbound.open_per_hour,
            analysis_seconds=s.inbound.analysis_seconds,
            tone_lexicon=s.tone_lexicon(), timezone=s.service.timezone,
            video_url_template=s.video.url_template,
            night_hold=s.reminders.quiet_hours if s.relay.night_hold else "",
        )
        self.pipeline.admin_address = admin_address(s)
        smtp = s.inbound.smtp
        self.handler = InboundHandler(
            self.engine, s.service.domain, s.service.secret_key, self._nudge_pipeline,
            source="lmtp" if smtp.lmtp else "smtp", at_rest=self.composer.at_rest,
            limits=Limits(max_connections=smtp.max_connections,
                          session_seconds=smtp.session_seconds, idle_seconds=smtp.idle_seconds,
                          max_recipients=smtp.max_recipients,
                          sender_rate_per_hour=smtp.sender_rate_per_hour),
        )
        self.scheduler = Scheduler(self.engine, self.composer, s, on_enqueued=self._nudge_outbox)
        onboarding = make_onboarding(s)  # checks every intake form: ConfigError when broken
        self.pipeline.intake_forms = onboarding.forms
        if self.shared is not None:  # on SQLite the front door's store goes first (db.py)
            self.pipeline.arrivals = self.shared.last_arrival
        if s.web.enabled:
            self.web = WebServer(s, self.engine, self.composer, onboarding, self._nudge_outbox)
            self.web.context.health = lambda: health(self)
            self.web.context.download = self._download

    @classmethod
    def build(cls, settings: Settings, transport: Transport | None = None,
              dkim_dns: DnsFunction | None = None, shared: Shared | None = None,
              slot: Slot | None = None) -> Service:
        """``dkim_dns`` answers the DKIM key lookups (tests publish their own key). With
        ``slot``, one process of ``shared`` (the supervisor brought the schema up to date
        before it started them)."""
        engine = prepare_database(settings) if slot is None else open_database(settings)
        transport = transport or make_transport(settings.outbound, settings.base_dir,
                                                ehlo_name=settings.service.domain)
        roles = ALL_ROLES if slot is None else frozenset({slot.role})
        service = cls(settings, engine, transport, roles=roles, shared=shared, slot=slot)
        service.pipeline.dkim_dns = dkim_dns
        return service

    def _nudge_pipeline(self) -> None:
        if PIPELINE in self.roles:
            self.pipeline.nudge()
        if self.shared is not None:
            self.shared.arrived()
            self.shared.wake(PIPELINE)

    def _nudge_outbox(self) -> None:
        if OUTBOX in self.roles:
            self.outbox.nudge()
        if self.shared is not None:
            self.shared.wake(OUTBOX)

    def claimant_for(self) -> str:
        """Host and SMTP port, and which process: a restarted worker takes the name of the
        one that died and so takes back its claims at once (``release_work``)."""
        if self.slot is None or self.shared is None:
            return claimant_name(self.smtp_port)
        port = self.settings.inbound.smtp.port
        return claimant_name(port, worker=self.slot.name, pid=self.shared.supervisor_pid)

    async def start(self) -> None:
        s = self.settings
        if FRONT in self.roles and s.inbound.smtp.enabled:
            tls = tls_context(s)  # before listening: a bad certificate stops serve at once
            try:
                self._server = await start_server(
                    self.handler, s.inbound.smtp.host, s.inbound.smtp.port,
                    s.inbound.max_message_size, lmtp=s.inbound.smtp.lmtp,
                    tls=tls, require_tls=s.inbound.smtp.require_tls,
                )
            except OSError as error:  # the administrator needs the key, not a traceback
                reason = os.strerror(error.errno) if error.errno else str(error)
                raise OSError(f"inbound.smtp.port: cannot listen on {s.inbound.smtp.host}:"
                              f"{s.inbound.smtp.port} ({reason})") from None
            self.smtp_port = self._server.sockets[0].getsockname()[1]
            log.info("%s listening on %s:%s",
                     "LMTP" if s.inbound.smtp.lmtp else "SMTP", s.inbound.smtp.host, self.smtp_port)
        self.claimant = self.claimant_for()
        CLAIMANT.set(self.claimant)  # the tasks below inherit it
        if self.roles & {PIPELINE, OUTBOX}:  # after a crash
            await asyncio.to_thread(release_work, self.engine, self.claimant)
        self._tasks = []
        if PIPELINE in self.roles:
            self._tasks.append(asyncio.create_task(self.pipeline.run(), name="pipeline"))
        if OUTBOX in self.roles:
            self._tasks.append(asyncio.create_task(self.outbox.run(), name="outbox"))
        if SCHEDULER in self.roles:
            self.scheduler.start()
        if FRONT in self.roles and s.inbound.imap.enabled:
            self.imap = self._imap_poller(asyncio.get_running_loop())
            self.imap.start()
        if FRONT in self.roles and self.web is not None:
            self.web_port = await self.web.start()
        if self.shared is not None and self.slot is not None:
            self._join(self.shared, self.slot)

    def _join(self, shared: Shared, slot: Slot) -> None:
        """Take this process's place among the others: its wake-up, its heartbeat."""
        loop = asyncio.get_running_loop()
        worker = {PIPELINE: self.pipeline, OUTBOX: self.outbox}.get(slot.role)
        if worker is not None:
            self._unlisten = listen_for_wakes(shared, slot, loop, worker.wakeup.set)
        self._tasks.append(asyncio.create_task(
            post_heartbeats(shared, slot, self._state, stop_this_process), name="heartbeat"))

    def _state(self) -> dict:
        """What this process posts on the board for /healthz."""
        parts = local_parts(self)
        role = self.slot.role if self.slot else ""
        own = {OUTBOX: "outbox_worker", SCHEDULER: "scheduler"}.get(role, "")
        return {own: parts[own]} if own in parts else {}

    async def stop(self, grace: float = 10.0) -> None:
        """Greet new SMTP clients with 421, let the copy on the wire finish (at most ``grace``
        seconds), and hand back what this process claimed but did not do."""
        self.handler.accepting = False
        if self._unlisten is not None:
            self._unlisten()
        if self.imap is not None:
            await asyncio.to_thread(self.imap.stop)
        if self.web is not None:
            await self.web.stop()
        self.outbox.stop()
        await self.scheduler.stop()
        sending = [t for t in self._tasks if t.get_name() == "outbox"]
        if sending:
            await asyncio.wait(sending, timeout=grace)
        if FRONT in self.roles and self.shared is not None:  # 421 until the workers are done
            await asyncio.to_thread(self.shared.wait_for_workers, grace)
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.roles & {PIPELINE, OUTBOX}:
            with contextlib.suppress(Exception):  # the leases run out anyway
                await asyncio.to_thread(release_work, self.engine, self.claimant)
        self.handler.executor.shutdown(wait=False)  # the SMTP server's own threads
        await self.transport.close()

    def _imap_poller(self, loop: asyncio.AbstractEventLoop) -> ImapPoller:
        """IMAP stores through the same durable path as SMTP, from its own thread."""
        s = self.settings

        def store(raw: bytes, mail_from: str, rcpt_tos: list[str]) -> int:
            return store_inbound(self.engine, raw, mail_from, rcpt_tos, "imap",
                                 self.composer.at_rest)

        return ImapPoller(s.inbound.imap, s.service.domain, store,
                          on_stored=lambda: loop.call_soon_threadsafe(self._nudge_pipeline))

    def _download(self, token: str) -> tuple[str, bytes] | None:
        with Session(self.engine) as session:
            return fetch_download(session, token, self.settings.service.secret_key,
                                  self.composer.at_rest)

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
                select(func.count()).select_from(InboundMail)
                .where(InboundMail.status == InboundStatus.PENDING)
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
