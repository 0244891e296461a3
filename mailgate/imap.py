"""The second front door: fetch mail from a catch-all IMAP mailbox (``inbound.imap``).

For services that cannot receive SMTP themselves: the provider delivers everything for the
service domain into one mailbox and this poller takes it from there. It follows the same rule
as the SMTP server: store first, then let go. A message is moved to the processed folder (or,
without one, flagged ``\\Seen``) only after ``store_inbound`` has committed it (RFC 3501 COPY +
``\\Deleted`` + UID EXPUNGE from RFC 4315, or MOVE from RFC 6851 when offered). A crash between
the two means the message is fetched again; the pipeline's Message-ID + body hash makes that a
``duplicate``, never a second relay.

It waits with IDLE (RFC 2177) where the server offers it and polls every ``poll_seconds``
otherwise; IDLE is renewed well inside the 29 minutes RFC 2177 allows. When the server drops the
connection (restart, BYE, timeout) it reconnects with a bounded exponential backoff.

imapclient is synchronous: the poller runs in its own thread and talks to the event loop only
through the ``on_stored`` callback (which the service makes thread-safe).
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import logging
import ssl
import threading
import time
from collections.abc import Callable

from imapclient import IMAPClient

from mailgate.settings import ImapSettings
from threads.quarantine import safe_description

log = logging.getLogger("mediate.imap")
# The headers a delivering MTA or provider leaves with the envelope recipient, most reliable
# first (Postfix and Dovecot write Delivered-To, Postfix's virtual maps X-Original-To).
ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To")
VISIBLE_HEADERS = ("To", "Cc")
BATCH = 50  # messages fetched per round trip
IDLE_RENEW_SECONDS = 25 * 60
IDLE_CHECK_SECONDS = 0.5  # how often the IDLE wait looks at the stop flag

# (raw, mail_from, rcpt_tos) -> anything; the mail is durable once it returns
Store = Callable[[bytes, str, list[str]], object]


def envelope_recipients(raw: bytes, domain: str, envelope_header: str = "") -> list[str]:
    """The recipients on the service domain, from the configured envelope header, else from
    Delivered-To / X-Original-To, else from To and Cc. Lower-cased, in order, no repeats."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    groups = [(envelope_header,)] if envelope_header else [ENVELOPE_HEADERS, VISIBLE_HEADERS]
    suffix = "@" + domain.lower()
    for names in groups:
        values = [str(v) for name in names for v in headers.get_all(name, [])]
        found: list[str] = []
        for _, address in email.utils.getaddresses(values):
            address = address.strip().lower()
            if address.endswith(suffix) and address not in found:
                found.append(address)
        if found:
            return found
    return []


def return_path(raw: bytes) -> str:
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    _, address = email.utils.parseaddr(str(headers.get("Return-Path", "")))
    return address


class ConnectionLost(Exception):
    """The server ended the session (BYE) or the socket closed under us."""


class ImapPoller:
    """Fetches, stores and files away mail until ``stop()``; one thread, one connection."""

    def __init__(
        self, settings: ImapSettings, domain: str, store: Store,
        on_stored: Callable[[], None] = lambda: None,
        backoff: tuple[float, float] = (0.5, 60.0), timeout: float = 30.0,
    ) -> None:
        self.settings = settings
        self.domain = domain
        self.store = store
        self.on_stored = on_stored
        self.backoff = backoff
        self.timeout = timeout
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.connected = threading.Event()  # set while logged in (tests and health)
        self.stored = 0  # messages stored and filed away since start
        self.store_failures = 0  # messages left in the folder because storing failed

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="imap-poller", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def run(self) -> None:
        delay = self.backoff[0]
        while not self.stopping.is_set():
            client = None
            try:
                client = self._connect()
                delay = self.backoff[0]
                self._serve(client)
            except Exception as error:  # noqa: BLE001 (any failure: reconnect, keep the mail)
                if self.stopping.is_set():
                    break
                log.warning("imap %s:%s: %s: %s; reconnecting in %.1fs", self.settings.host,
                            self.settings.port, type(error).__name__, error, delay)
            finally:
                self.connected.clear()
                if client is not None:
                    _close(client)
            self.stopping.wait(delay)
            delay = min(delay * 2, self.backoff[1])

    # -- one connection --------------------------------------------------------------------
    def _connect(self) -> IMAPClient:
        s = self.settings
        context = ssl.create_default_context()
        client = IMAPClient(s.host, port=s.port, ssl=s.security == "tls", ssl_context=context,
                            timeout=self.timeout)
        if s.security == "starttls":
            client.starttls(context)
        client.login(s.username, s.password)
        if s.processed_folder and not client.folder_exists(s.processed_folder):
            client.create_folder(s.processed_folder)
        client.select_folder(s.folder)
        self.connected.set()
        log.info("imap connected to %s:%s, folder %s", s.host, s.port, s.folder)
        return client

    def _serve(self, client: IMAPClient) -> None:
        idle = self.settings.idle and client.has_capability("IDLE")
        while not self.stopping.is_set():
            while self._fetch_round(client):
                pass
            if idle:
                self._idle(client)
            else:
                self.stopping.wait(self.settings.poll_seconds)
                client.noop()  # also notices a dropped connection

    def _fetch_round(self, client: IMAPClient) -> int:
        """Store and file away up to BATCH waiting messages; how many were done."""
        criteria = ["UNSEEN"] if not self.settings.processed_folder else ["NOT", "DELETED"]
        uids = sorted(client.search(criteria))[:BATCH]
        if not uids:
            return 0
        fetched = client.fetch(uids, ["BODY.PEEK[]"])
        done = []
        for uid in uids:
            raw = fetched.get(uid, {}).get(b"BODY[]")
            if raw is None:  # expunged meanwhile by someone else
                continue
            try:
                self.store(raw, return_path(raw),
                           envelope_recipients(raw, self.domain, self.settings.envelope_header))
            except Exception as error:  # noqa: BLE001 (left in the folder; tried again next round)
                self.store_failures += 1
                # Not log.exception: a database error quotes its parameters, the mail among them.
                log.error("imap: could not store message uid %s; left in %s: %s", uid,
                          self.settings.folder, safe_description(error))
                continue
            done.append(uid)
        if done:
            self._file_away(client, done)
            self.stored += len(done)
            self.on_stored()
        return len(done) if len(done) == len(uids) else 0  # a failure ends the round

    def _file_away(self, client: IMAPClient, uids: list[int]) -> None:
        target = self.settings.processed_folder
        if not target:
            client.add_flags(uids, [b"\\Seen"])
        elif client.has_capability("MOVE"):
            client.move(uids, target)
        else:
            client.copy(uids, target)
            client.delete_messages(uids)
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(uids)
            else:
                client.expunge()

    def _idle(self, client: IMAPClient) -> None:
        """Wait in IDLE until the mailbox changes, the renewal time, or stop()."""
        client.idle()
        started = time.monotonic()
        limit = min(self.settings.poll_seconds, IDLE_RENEW_SECONDS)
        while not self.stopping.is_set() and time.monotonic() - started < limit:
            before = time.monotonic()
            responses = [r for r in client.idle_check(timeout=IDLE_CHECK_SECONDS)
                         if isinstance(r, tuple)]
            if any(r[:1] == (b"BYE",) for r in responses):
                raise ConnectionLost("server said BYE")
            if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                break
            if not responses and time.monotonic() - before < IDLE_CHECK_SECONDS / 2:
                # imapclient swallows EOF during IDLE and returns at once with nothing: leave
                # IDLE, and the DONE exchange tells a live server from a dead one.
                break
        client.idle_done()


def _close(client: IMAPClient) -> None:
    try:
        client.logout()  # imaplib closes the socket even when LOGOUT fails
    except Exception:  # noqa: BLE001 (the connection is gone already)
        pass
