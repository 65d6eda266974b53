"""TCP over SSH: a direct-tcpip channel to a port on the remote host, read like a socket.

``open_channel`` asks the server's link for its connection and opens a channel to HOST:PORT as
the remote host sees them (its loopback). A port nothing listens on fails at once with a 502
that names the server. A channel whose opener was cancelled is closed as soon as sshd confirms
it, so aborted requests leave nothing open.
"""

from __future__ import annotations

import asyncio

import asyncssh
from mer_core.errors import BadGateway, GatewayTimeout, MerError

from mer_meal.remote.link import SshLink

HIGH_WATER = 4 * 1024 * 1024
"""Bytes buffered from a channel before asking the peer to pause (SSH window flow control)."""

_Opened = tuple[asyncssh.SSHTCPChannel[bytes], asyncssh.SSHTCPSession[bytes]]


class Channel(asyncssh.SSHTCPSession[bytes]):
    """One channel: what it received is buffered for ``read_until`` / ``read_exactly``."""

    def __init__(self) -> None:
        self.chan: asyncssh.SSHTCPChannel[bytes] | None = None
        self.link: SshLink | None = None
        self.buffer = bytearray()
        self.received = 0
        self.eof = False
        self.closed = False
        self.error: Exception | None = None
        self._paused = False
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()

    # --- asyncssh callbacks --------------------------------------------------------------

    def connection_made(self, chan: asyncssh.SSHTCPChannel[bytes]) -> None:
        self.chan = chan

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        self.buffer += data
        self.received += len(data)
        self._readable.set()
        if len(self.buffer) > HIGH_WATER and self.chan is not None and not self._paused:
            self._paused = True
            self.chan.pause_reading()

    def eof_received(self) -> bool:
        self.eof = True
        self._readable.set()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.eof = True
        self.error = exc
        self._readable.set()
        self._writable.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # --- for the HTTP client -------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """Open, and nothing unasked-for arrived (data or EOF on an idle channel means closed)."""
        return not self.closed and not self.eof and not self.buffer

    async def write(self, data: bytes) -> None:
        if self.error is not None:
            raise self._lost()
        if self.closed or self.chan is None:
            raise ChannelClosed("the channel is closed")
        try:
            self.chan.write(data)
        except (BrokenPipeError, asyncssh.Error) as exc:
            raise ChannelClosed(f"the channel is closing: {exc}") from exc
        if not self._writable.is_set():
            await self._writable.wait()

    async def read_until(self, separator: bytes, limit: int) -> bytes:
        """Bytes up to and including ``separator``; ``ChannelClosed`` if it ends first."""
        start = 0
        while True:
            found = self.buffer.find(separator, start)
            if found >= 0:
                end = found + len(separator)
                return self.take(end)
            if len(self.buffer) > limit:
                raise ChannelClosed(f"no {separator!r} within {limit} bytes")
            start = max(len(self.buffer) - len(separator) + 1, 0)
            await self._fill()

    async def read_exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            await self._fill()
        return self.take(n)

    def take(self, n: int) -> bytes:
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        if self._paused and len(self.buffer) < HIGH_WATER // 2 and self.chan is not None:
            self._paused = False
            self.chan.resume_reading()
        return data

    def close(self) -> None:
        if self.chan is not None and not self.closed:
            self.chan.close()

    async def _fill(self) -> None:
        if self.error is not None:
            raise self._lost()
        if self.eof:
            raise ChannelClosed("the peer closed the channel")
        self._readable.clear()
        await self._readable.wait()

    def _lost(self) -> MerError:
        assert self.link is not None
        return self.link.loss_error(self.error)


class ChannelClosed(Exception):
    """The channel ended before the HTTP exchange did (a protocol failure of the peer)."""


async def open_channel(link: SshLink, host: str, port: int, timeout_s: float) -> Channel:
    """A channel to ``host:port`` as the remote host of ``link`` sees them."""
    conn = await link.connection()
    # Shielded: if the caller is cancelled while sshd opens the channel, the channel must be
    # closed once it is confirmed, or each aborted request would leak one.
    opening: asyncio.Future[_Opened] = asyncio.ensure_future(
        conn.create_connection(Channel, host, port)
    )
    try:
        async with asyncio.timeout(timeout_s):
            _, session = await asyncio.shield(opening)
    except TimeoutError:
        opening.add_done_callback(_close_opened)
        raise GatewayTimeout(
            f"server {link.name}: no channel to {host}:{port} through SSH within {timeout_s:g} s"
        ) from None
    except asyncssh.ChannelOpenError as exc:
        if conn.is_closed():
            # asyncssh fails pending opens of a connection that died as "connect failed".
            raise link.closed_error(conn) from exc
        raise _open_error(link, host, port, exc) from exc
    except (asyncssh.Error, OSError) as exc:
        raise link.loss_error(exc) from exc
    except BaseException:
        opening.add_done_callback(_close_opened)
        raise
    assert isinstance(session, Channel)
    session.link = link
    return session


def _close_opened(opening: asyncio.Future[_Opened]) -> None:
    """Close a channel whose opener gave up on it (and retrieve the error of one that failed)."""
    if opening.cancelled():
        return
    if opening.exception() is None:
        opening.result()[0].close()


def _open_error(link: SshLink, host: str, port: int, exc: asyncssh.ChannelOpenError) -> MerError:
    if exc.code == asyncssh.OPEN_CONNECT_FAILED:
        return BadGateway(
            f"server {link.name}: nothing listens on {host}:{port} on the remote host "
            f"({exc.reason}): start its worker with `server start {link.name}`"
        )
    return BadGateway(
        f"server {link.name}: sshd refused a channel to {host}:{port} ({exc.reason}): "
        "does its sshd_config allow TCP forwarding (AllowTcpForwarding)?"
    )
