"""A small HTTP/1.1 client whose connections are SSH channels to one remote worker.

Why not httpx/httpcore: their pool can strand a connection when a request is cancelled at the
wrong moment, and a gateway must survive any number of clients that hang up. Here each request
holds its channel in one ``try``: an answer read to its end returns the channel to the idle
list, anything else (an error, a cancellation) closes it. The remote worker is uvicorn, so the
answers are plain: ``Content-Length`` or chunked bodies, keep-alive by default.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping

from mer_core.errors import BadGateway, InvalidRequest

from mer_meal.remote.channels import Channel, ChannelClosed, open_channel
from mer_meal.remote.link import SshLink

HEAD_LIMIT = 64 * 1024
NO_BODY_STATUSES = {204, 304}


class HttpAnswer:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class HttpOverSsh:
    """Requests to ``host:port`` on the remote host of ``link``; channels are kept alive."""

    def __init__(
        self,
        link: SshLink,
        host: str,
        port: int,
        *,
        open_timeout_s: float,
        max_channels: int = 128,
        keep_idle: int = 64,
        idle_expiry_s: float = 2.0,
    ) -> None:
        self.link = link
        self.host = host
        self.port = port
        self.open_timeout_s = open_timeout_s
        self.keep_idle = keep_idle
        self.idle_expiry_s = idle_expiry_s
        self.opened = 0
        self._slots = asyncio.Semaphore(max_channels)
        self._idle: deque[tuple[Channel, float]] = deque()
        self._closed = False

    def aclose(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop()[0].close()

    @property
    def idle(self) -> int:
        return len(self._idle)

    async def request(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> HttpAnswer:
        message = _encode(method, path, f"{self.host}:{self.port}", headers, body)
        async with self._slots:
            channel, reused = self._take_idle()
            while True:
                if channel is None:
                    channel = await open_channel(
                        self.link, self.host, self.port, self.open_timeout_s
                    )
                    self.opened += 1
                received = channel.received
                try:
                    await channel.write(message)
                    answer, keep = await _read_answer(channel, method)
                except ChannelClosed as exc:
                    channel.close()
                    if reused and channel.received == received:
                        # A kept-alive channel the worker had just closed: the request never
                        # reached it, so send it once more on a fresh channel.
                        channel, reused = None, False
                        continue
                    raise BadGateway(
                        f"server {self.link.name}: its worker at {self.host}:{self.port} broke "
                        f"the connection: {exc}"
                    ) from exc
                except BaseException:
                    channel.close()
                    raise
                self._release(channel, keep)
                return answer

    def _take_idle(self) -> tuple[Channel | None, bool]:
        now = time.monotonic()
        while self._idle:
            channel, since = self._idle.pop()
            if channel.usable and now - since < self.idle_expiry_s:
                self._expire(now)
                return channel, True
            channel.close()
        return None, False

    def _release(self, channel: Channel, keep: bool) -> None:
        if keep and not self._closed and channel.usable and len(self._idle) < self.keep_idle:
            self._idle.append((channel, time.monotonic()))
        else:
            channel.close()

    def _expire(self, now: float) -> None:
        """Close the channels idle longest (the left end) once they are past their expiry."""
        while self._idle and now - self._idle[0][1] >= self.idle_expiry_s:
            self._idle.popleft()[0].close()


def _encode(method: str, path: str, host: str, headers: Mapping[str, str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    for name, value in headers.items():
        if name.lower() in ("host", "content-length", "transfer-encoding", "connection"):
            continue
        if any(c in name or c in value for c in "\r\n\0"):
            raise InvalidRequest(f"header {name!r} holds a line break")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_answer(channel: Channel, method: str) -> tuple[HttpAnswer, bool]:
    """One answer; and whether the channel may carry another request."""
    while True:
        status, headers, keep = _parse_head(await channel.read_until(b"\r\n\r\n", HEAD_LIMIT))
        if not 100 <= status < 200:
            break
    if method == "HEAD" or status in NO_BODY_STATUSES:
        body = b""
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(channel)
    elif "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise ChannelClosed("a bad Content-Length") from None
        body = await channel.read_exactly(length)
    else:
        body = await _read_to_end(channel)
        keep = False
    return HttpAnswer(status, headers, body), keep


def _parse_head(head: bytes) -> tuple[int, dict[str, str], bool]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ChannelClosed(f"not an HTTP answer: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    keep = parts[0] == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    return int(parts[1]), headers, keep


async def _read_chunked(channel: Channel) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await channel.read_until(b"\r\n", HEAD_LIMIT)
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ChannelClosed("a bad chunk size") from None
        if size == 0:
            # Trailers, if any, end with an empty line.
            while await channel.read_until(b"\r\n", HEAD_LIMIT) != b"\r\n":
                pass
            return b"".join(parts)
        parts.append(await channel.read_exactly(size))
        await channel.read_exactly(2)


async def _read_to_end(channel: Channel) -> bytes:
    parts: list[bytes] = []
    try:
        while True:
            parts.append(await channel.read_exactly(1) + channel.take(len(channel.buffer)))
    except ChannelClosed:
        parts.append(channel.take(len(channel.buffer)))
    return b"".join(parts)
