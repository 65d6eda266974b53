"""Coalesce the SSH connection's socket writes made in one event-loop turn into one ``send``.

asyncssh writes every packet to its transport at once, and precedes each data packet with an
``SSH_MSG_IGNORE``: two system calls per request, each of which, on loopback or a busy host,
costs more than the encryption. Under load many requests go out in the same turn. Holding the
writes until the end of the turn (``call_soon``) sends them together; latency does not change.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncssh


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
    """Put a ``CorkedTransport`` under ``conn`` (None if this asyncssh keeps it elsewhere)."""
    transport = getattr(conn, "_transport", None)
    # uvloop's transports are not asyncio.Transport subclasses: look for what is used.
    if transport is None or not all(
        callable(getattr(transport, m, None)) for m in ("write", "is_closing", "abort", "close")
    ):
        return None
    corked = CorkedTransport(transport)
    conn._transport = corked
    return corked
