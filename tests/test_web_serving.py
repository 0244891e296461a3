"""How the web pages are served: connections that answer without Nagle's delay, and page views
that only read."""

from __future__ import annotations

import asyncio
import socket

import pytest
from sqlmodel import Session
from web_world import ANNA, open_case, party

from threads.models import Participant


async def test_kept_alive_connections_send_answers_at_once(service):
    # Without TCP_NODELAY every answer after the first on a kept-alive connection waits for
    # the browser's delayed ACK (about 40 ms); asyncio only sets it on sockets made as TCP.
    reader, writer = await asyncio.open_connection("127.0.0.1", service.web_port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: mediate\r\n\r\n")
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        connections = service.web._server.server_state.connections
        sockets = [c.transport.get_extra_info("socket") for c in connections]
        assert sockets
        assert all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in sockets)
    finally:
        writer.close()


async def test_a_page_view_that_tries_to_write_fails_and_stores_nothing(service):
    await open_case(service)
    anna = party(service, ANNA)

    def rename(session: Session):  # noqa: ANN202
        session.get(Participant, anna.id).name = "Someone Else"
        return None, []

    with pytest.raises(RuntimeError, match="read-only"):
        await service.web.context.run(rename, read_only=True)
    assert party(service, ANNA).name == "Anna Jansen"
    await service.web.context.run(rename)  # the same work as a save is stored
    assert party(service, ANNA).name == "Someone Else"
