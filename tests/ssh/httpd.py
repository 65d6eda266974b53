"""A tiny real HTTP/1.1 server on loopback (asyncio streams), the target behind SSH channels.

It answers ``POST /echo`` with the request body, ``GET /slow?s=N`` after N seconds, ``GET
/close`` by closing the connection without an answer, anything else with 404; it keeps
connections alive and counts the ones open, so tests can see a channel's TCP end close.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit


@dataclass
class Httpd:
    port: int = 0
    open_connections: int = 0
    requests: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open_connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self.open_connections -= 1
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {
            k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:] if x)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests += 1
        url = urlsplit(target)
        status, answer = 200, b""
        if url.path == "/echo" and method == "POST":
            answer = body
        elif url.path == "/slow":
            # Like a real server, notice a client that went away instead of sleeping on.
            delay = float(parse_qs(url.query).get("s", ["1"])[0])
            gone = asyncio.ensure_future(reader.read(1))
            try:
                await asyncio.wait([gone], timeout=delay)
            finally:
                gone.cancel()
            if gone.done() and not gone.cancelled():
                return False
            answer = b"slow"
        elif url.path == "/auth":
            answer = headers.get("authorization", "").encode()
        elif url.path == "/close":
            return False
        else:
            status, answer = 404, b'{"error": "no such path"}'
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {len(answer)}\r\n\r\n".encode()
            + answer
        )
        await writer.drain()
        return True


@contextlib.asynccontextmanager
async def running_httpd() -> AsyncIterator[Httpd]:
    httpd = Httpd()
    server = await asyncio.start_server(httpd.handle, "127.0.0.1", 0)
    httpd.port = server.sockets[0].getsockname()[1]
    try:
        yield httpd
    finally:
        server.close()
        for task in list(httpd._tasks):
            task.cancel()
        await asyncio.gather(*httpd._tasks, return_exceptions=True)
        await server.wait_closed()
