"""A thin HTTP/1.1 client on asyncio streams for the web load: one kept-alive connection and
one cookie jar per client, nothing else.

httpx costs a few milliseconds of CPU per request and about 25 ms per client it creates (an SSL
context, even for plain HTTP); with 50 clients on a shared two-core machine that made the load
generator, not the server, the thing being measured. This client only writes the request line,
a few headers and the body, and reads the status, headers and a ``Content-Length`` or chunked
body: loopback only, no TLS, no redirects followed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Client:
    host: str
    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None

    @classmethod
    def of(cls, url: str) -> Client:
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or 80)

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def get(self, target: str) -> Answer:
        return await self.request("GET", target)

    async def post(self, target: str, fields: dict[str, str | list[str]]) -> Answer:
        body = urlencode(fields, doseq=True).encode()
        return await self.request("POST", target, body,
                                  "application/x-www-form-urlencoded")

    async def request(self, method: str, target: str, body: bytes = b"",
                      content_type: str = "") -> Answer:
        if self.writer is None or self.writer.is_closing():
            await self.connect()
        assert self.reader is not None and self.writer is not None
        path = urlsplit(target)._replace(scheme="", netloc="").geturl() or "/"
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                "Accept: text/html", "Accept-Language: en"]
        if self.cookies:
            head.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if body or method == "POST":
            head += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        answer = await self._read()
        if answer.headers.get("connection", "").lower() == "close":
            await self.close()
        return answer

    async def _read(self) -> Answer:
        assert self.reader is not None
        lines = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            headers[name] = value
            if name == "set-cookie":
                cookie, _, _ = value.partition(";")
                key, _, val = cookie.partition("=")
                self.cookies[key.strip()] = val.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                chunks.append(await self.reader.readexactly(size + 2))
            await self.reader.readuntil(b"\r\n")  # the empty trailer
            body = b"".join(chunk[:-2] for chunk in chunks)
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return Answer(status, headers, body)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None
