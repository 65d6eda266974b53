"""The remote worker's road to the DAL: a reverse forward over the gateway's SSH connection.

The remote worker reads its configuration, ONNX files and weights from the DAL and posts its
access logs there, but the remote host opens no port and may not reach the DAL's network at all.
So the gateway asks sshd to listen on the remote host's loopback (``127.0.0.1:P``) and carries
each connection made there back to its own DAL (``MER_DAL_URL``). The remote worker's
``MER_DAL_URL`` is ``http://127.0.0.1:P``.

P is chosen at ``server start`` and kept in the server's remote ``state.json``, so that after a
reconnect the same port is forwarded again (retrying while sshd still holds it for the lost
connection); meanwhile the remote worker spools its access logs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncssh
from mer_core.errors import BadGateway, MerError

from mer_meal.remote.link import SshLink
from mer_meal.remote.shell import read_text, server_dir
from mer_meal.remote.target import SshTarget

log = logging.getLogger(__name__)

RETRY_MAX_S = 10.0


@dataclass(frozen=True)
class RemoteState:
    """What ``server start`` left on the remote host (``state.json``)."""

    dal_port: int
    pid: int | None = None

    def to_json(self) -> str:
        return json.dumps({"dal_port": self.dal_port, "pid": self.pid})


def state_path(target: SshTarget) -> str:
    return f"{server_dir(target)}/state.json"


async def read_state(conn: asyncssh.SSHClientConnection, target: SshTarget) -> RemoteState | None:
    text = await read_text(conn, target, state_path(target))
    if not text:
        return None
    try:
        raw = json.loads(text)
        return RemoteState(dal_port=int(raw["dal_port"]), pid=raw.get("pid"))
    except (ValueError, KeyError, TypeError):
        log.warning("server %s: ignoring a malformed %s", target.server, state_path(target))
        return None


class DalTunnel:
    """Keeps one reverse forward to the DAL per SSH connection that needs one."""

    def __init__(self, dal_url: str) -> None:
        parts = urlsplit(dal_url)
        self.scheme = parts.scheme or "http"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        self._listeners: weakref.WeakKeyDictionary[
            asyncssh.SSHClientConnection, asyncssh.SSHListener
        ] = weakref.WeakKeyDictionary()
        self._lock = asyncio.Lock()

    def remote_url(self, port: int) -> str:
        return f"{self.scheme}://127.0.0.1:{port}"

    def port_on(self, conn: asyncssh.SSHClientConnection) -> int | None:
        listener = self._listeners.get(conn)
        return listener.get_port() if listener is not None else None

    async def ensure(self, link: SshLink, conn: asyncssh.SSHClientConnection, port: int = 0) -> int:
        """The forwarded port on ``conn``'s remote host (``port``, or any when 0)."""
        async with self._lock:
            current = self.port_on(conn)
            if current is not None and port in (0, current):
                return current
            try:
                listener = await conn.forward_remote_port("127.0.0.1", port, self.host, self.port)
            except (asyncssh.Error, OSError) as exc:
                where = f"127.0.0.1:{port}" if port else "a loopback port"
                raise BadGateway(
                    f"server {link.name}: sshd would not forward {where} back to the DAL: {exc} "
                    "(does its sshd_config allow TCP forwarding?)"
                ) from exc
            self._listeners[conn] = listener
            log.info(
                "server %s: remote 127.0.0.1:%d now reaches the DAL at %s:%d",
                link.name,
                listener.get_port(),
                self.host,
                self.port,
            )
            return listener.get_port()

    async def maintain(self, link: SshLink, conn: asyncssh.SSHClientConnection) -> None:
        """A link hook: on each new connection, forward again the port a started worker uses."""
        try:
            state = await read_state(conn, link.target)
        except MerError as exc:
            log.warning("server %s: cannot read its remote state: %s", link.name, exc.message)
            return
        if state is None:
            return
        delay = 0.5
        while True:
            try:
                await self.ensure(link, conn, state.dal_port)
                return
            except BadGateway as exc:
                # Typically sshd still holds the port for the connection we lost.
                log.warning("%s; retrying in %.1f s", exc.message, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
