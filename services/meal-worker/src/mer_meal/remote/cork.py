"""Make each request cost the SSH connection one packet and (under load) a shared ``send``.

asyncssh writes every packet to its transport at once, and precedes each data packet with an
empty ``SSH_MSG_IGNORE``: two packets to build and encrypt and two system calls per request,
each of which, on loopback or a busy host, costs more than the encryption itself.

- The IGNORE packet defends CBC ciphers against a chosen-plaintext attack on their IVs. MER
  negotiates only AES-GCM, ChaCha20-Poly1305 and AES-CTR (``connect.FAST_CIPHERS``), which that
  attack does not reach, and OpenSSH sends no such packets; so they are dropped.
- Writes made in one event-loop turn are held until its end (``call_soon``) and sent together;
  latency does not change, and under load many requests share one system call.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncssh
from asyncssh.constants import MSG_IGNORE
from asyncssh.packet import String

EMPTY = String(b"")


class CorkedTransport:
    """A write-batching stand-in for the transport under an SSH connection."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._loop = asyncio.get_running_loop()
        self._pending: list[bytes] = []
        self.writes = 0
        self.sends = 0

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)
        self.writes += 1

    def _flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self.sends += 1
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def cork(conn: asyncssh.SSHClientConnection) -> CorkedTransport | None:
    """Drop ``conn``'s IGNORE padding and put a ``CorkedTransport`` under it.

    None when this asyncssh keeps its transport elsewhere (then nothing changes).
    """
    _drop_ignore_packets(conn)
    transport = getattr(conn, "_transport", None)
    # uvloop's transports are not asyncio.Transport subclasses: look for what is used.
    if transport is None or not all(
        callable(getattr(transport, m, None)) for m in ("write", "is_closing", "abort", "close")
    ):
        return None
    corked = CorkedTransport(transport)
    # asyncssh has no public hook for its writes; it only calls the methods above.
    conn._transport = corked  # type: ignore[assignment]
    return corked


def _drop_ignore_packets(conn: asyncssh.SSHClientConnection) -> None:
    send_packet = conn.send_packet

    def send_packet_but_padding(pkttype: int, *args: bytes, **kwargs: Any) -> None:
        if pkttype == MSG_IGNORE and args == (EMPTY,):
            return
        send_packet(pkttype, *args, **kwargs)

    # An instance attribute: asyncssh's own ``self.send_packet(MSG_IGNORE, ...)`` finds it too.
    conn.send_packet = send_packet_but_padding  # type: ignore[method-assign]
