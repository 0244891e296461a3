"""`mediate serve`: run the service until Ctrl-C or SIGTERM, then stop cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal

from mediate.config import Settings
from mediate.service import Service

log = logging.getLogger("mediate")


async def serve(settings: Settings) -> int:
    service = Service.build(settings)
    await service.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log.info("Mediate is running for %s; press Ctrl-C to stop", settings.service.domain)
    await stop.wait()
    log.info("stopping")
    await service.stop()
    return 0
