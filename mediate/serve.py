"""`mediate serve`: run the service until Ctrl-C or SIGTERM, then stop cleanly and promptly.

On the first SIGTERM or SIGINT the service stops taking mail (new SMTP clients are greeted with
421, so their MTA tries again later or elsewhere), lets the copy on the wire finish, hands back
what it claimed but did not do, and exits within ``STOP_SECONDS``. A second signal exits at
once: nothing is lost either way, because every accepted mail and every copy is in the
database and is taken up again by the next start (or by another machine).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from mediate.config import Settings, warnings
from mediate.processes import FRONT, Shared, Slot
from mediate.service import Service

log = logging.getLogger("mediate")
GRACE_SECONDS = 10.0  # for the copy on the wire
STOP_SECONDS = 20.0  # for the whole stop, whatever hangs


async def serve(settings: Settings, shared: Shared | None = None, slot: Slot | None = None) -> int:
    """The whole service in this process; or, with ``slot``, one of the processes that
    ``mediate.supervisor`` runs (the front door, or one worker)."""
    if slot is None or slot.role == FRONT:  # once per machine
        for warning in warnings(settings):
            log.warning(warning)
    service = Service.build(settings, shared=shared, slot=slot)
    await service.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            log.warning("second signal: exiting at once")
            os._exit(1)
        log.info("stopping", extra={"reason": signal.Signals(signum).name})
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    if slot is None or slot.role == FRONT:  # said once, not by every worker
        log.info("Mediate is running for %s; press Ctrl-C to stop", settings.service.domain)
    await stop.wait()
    try:
        await asyncio.wait_for(service.stop(grace=GRACE_SECONDS), STOP_SECONDS)
    except TimeoutError:
        log.warning("stop took too long; exiting", extra={"reason": "timeout"})
        os._exit(1)
    service.engine.dispose()
    log.info("stopped")
    return 0
