"""The SSH connection of one remote server: one long-lived connection shared by its requests.

An ``SshLink`` owns one task that connects when first asked, keeps the connection, and
reconnects at once when it is lost. Failed attempts, and connections that keep dying right after
they were made, are retried after a capped exponential backoff (with jitter). Its state is
explicit::

    IDLE --first use--> CONNECTING --ok--> CONNECTED --lost--> CONNECTING ...
                             |                                     ^
                             +--failed--> BACKOFF --delay----------+        (any) --aclose--> CLOSED

A caller never hangs on it: while CONNECTING it waits for that attempt (bounded by the connect
timeout); in BACKOFF it fails at once with the last error, naming the server. Hooks run beside
each connection for its life (the DAL tunnel of a remote worker uses one).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Self

import asyncssh
from mer_core.errors import BadGateway, GatewayTimeout, MerError, Unavailable

from mer_meal.remote.connect import Endpoint, SshSettings, open_ssh
from mer_meal.remote.target import SshTarget

log = logging.getLogger(__name__)

LinkHook = Callable[["SshLink", asyncssh.SSHClientConnection], Awaitable[None]]
"""Runs beside each new connection until it ends (it is cancelled when the connection closes)."""


class LinkState(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    BACKOFF = "backoff"
    CLOSED = "closed"


class _Client(asyncssh.SSHClient):
    """Remembers why its connection ended."""

    def __init__(self) -> None:
        self.lost: Exception | None = None

    def itself(self) -> _Client:
        """The client factory asyncssh calls: this very client, to read ``lost`` later."""
        return self

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc


class SshLink:
    """The SSH connection of one remote server; ``async with SshLink(...) as link``."""

    def __init__(
        self, target: SshTarget, settings: SshSettings, hooks: Sequence[LinkHook] = ()
    ) -> None:
        self.target = target
        self.settings = settings
        self.hooks = list(hooks)
        self.state = LinkState.IDLE
        self.endpoint: Endpoint | None = None
        self.last_error: MerError | None = None
        self.retry_at: float | None = None
        self.connects = 0
        self.last_connect_s: float | None = None
        self._conn: asyncssh.SSHClientConnection | None = None
        self._clients: weakref.WeakKeyDictionary[asyncssh.SSHClientConnection, _Client] = (
            weakref.WeakKeyDictionary()
        )
        self._wanted = asyncio.Event()
        self._attempt: asyncio.Future[asyncssh.SSHClientConnection] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.target.server

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def start(self) -> None:
        if self._task is not None:
            raise RuntimeError(f"SshLink {self.name} started twice")
        self._attempt = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(), name=f"ssh-link-{self.name}")
        self._task.add_done_callback(self._died)

    def _died(self, task: asyncio.Task[None]) -> None:
        """The owner task ended on its own (a bug): fail its waiters instead of leaving them."""
        if task.cancelled() or self.state is LinkState.CLOSED:
            return
        exc = task.exception()
        log.error("server %s: the SSH link task died: %r", self.name, exc, exc_info=exc)
        self.state = LinkState.CLOSED
        self._settle(BadGateway(f"server {self.name}: the SSH link failed: {exc!r}"))

    async def aclose(self) -> None:
        """Stop reconnecting, fail waiters, close the connection and await all of it."""
        if self.state is LinkState.CLOSED:
            return
        self.state = LinkState.CLOSED
        self._settle(Unavailable(f"server {self.name}: the gateway is shutting down"))
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await _close(self._conn)
        self._conn = None

    # --- for callers ---------------------------------------------------------------------

    async def connection(self) -> asyncssh.SSHClientConnection:
        """The live connection, once it is up; a MER error naming the server when it is not."""
        conn = self._conn
        if self.state is LinkState.CONNECTED and conn is not None:
            return conn
        if self.state is LinkState.CLOSED:
            raise Unavailable(f"server {self.name}: the gateway is shutting down")
        self._wanted.set()
        if self.state is LinkState.BACKOFF and self.last_error is not None:
            raise self._retry_error(self.last_error)
        assert self._attempt is not None
        try:
            return await asyncio.shield(self._attempt)
        except MerError as err:
            raise _fresh(err) from err

    def closed_error(self, conn: asyncssh.SSHClientConnection) -> MerError:
        """The error of a request that met ``conn`` closed: why the connection ended."""
        client = self._clients.get(conn)
        return self.loss_error(client.lost if client is not None else None)

    def loss_error(self, exc: BaseException | None) -> MerError:
        """The error of a request whose channel died because its connection did."""
        where = self.endpoint or self.target.endpoint
        if isinstance(exc, asyncssh.ConnectionLost) and "keepalive" in exc.reason:
            return GatewayTimeout(
                f"server {self.name}: {where} stopped answering (no keepalive reply within "
                f"{self.settings.dead_after_s:g} s)"
            )
        reason = getattr(exc, "reason", None) or str(exc or "closed")
        return BadGateway(f"server {self.name}: SSH connection to {where} lost: {reason}")

    # --- the owner task ------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0  # connect attempts that failed in a row
        short_lived = 0  # connections in a row that died before ``stable_after_s``
        await self._wanted.wait()
        while True:
            self.state = LinkState.CONNECTING
            client = _Client()
            started = time.monotonic()
            try:
                conn, self.endpoint = await open_ssh(self.target, self.settings, client.itself)
            except MerError as err:
                failures += 1
                await self._back_off(err, failures)
                continue
            except Exception as exc:  # the owner must outlive any one attempt
                log.exception("server %s: unexpected SSH connect failure", self.name)
                failures += 1
                await self._back_off(BadGateway(f"server {self.name}: SSH failed: {exc}"), failures)
                continue
            failures = 0
            self.connects += 1
            self.last_connect_s = time.monotonic() - started
            up_since = time.monotonic()
            self._conn = conn
            self._clients[conn] = client
            self.state = LinkState.CONNECTED
            self.last_error = None
            self._settle(conn)
            log.info("server %s: SSH connected to %s", self.name, self.endpoint)
            try:
                await self._serve(conn)
            finally:
                self._conn = None
            loss = self.loss_error(client.lost)
            log.warning("%s", loss.message)
            self.last_error = loss
            lived = time.monotonic() - up_since
            short_lived = short_lived + 1 if lived < self.settings.stable_after_s else 0
            # A lost connection is retried at once; one that keeps dying right after it was
            # made is retried after a growing delay.
            if short_lived >= 2:
                await self._back_off(loss, short_lived - 1)

    async def _serve(self, conn: asyncssh.SSHClientConnection) -> None:
        """Run the hooks beside ``conn`` until it closes; then cancel and await them."""
        tasks = [
            asyncio.create_task(self._hook(hook, conn), name=f"ssh-hook-{self.name}")
            for hook in self.hooks
        ]
        try:
            await conn.wait_closed()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await _close(conn)

    async def _hook(self, hook: LinkHook, conn: asyncssh.SSHClientConnection) -> None:
        try:
            await hook(self, conn)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("server %s: a connection hook failed", self.name)

    async def _back_off(self, err: MerError, failures: int) -> None:
        delay = min(
            self.settings.backoff_max_s, self.settings.backoff_initial_s * 2 ** (failures - 1)
        )
        delay *= random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not cryptography
        self.last_error = err
        self.retry_at = time.monotonic() + delay
        self.state = LinkState.BACKOFF
        self._settle(err)
        log.warning("%s (retrying in %.1f s)", err.message, delay)
        await asyncio.sleep(delay)
        self.retry_at = None

    def _settle(self, outcome: asyncssh.SSHClientConnection | MerError) -> None:
        """Answer everyone waiting on the current attempt; the next attempt gets a new future."""
        attempt = self._attempt
        if attempt is not None and not attempt.done():
            if isinstance(outcome, MerError):
                attempt.set_exception(outcome)
                attempt.exception()  # retrieved: nobody may be waiting
            else:
                attempt.set_result(outcome)
        if self.state is not LinkState.CLOSED:
            self._attempt = asyncio.get_running_loop().create_future()

    def _retry_error(self, err: MerError) -> MerError:
        fresh = _fresh(err)
        if self.retry_at is not None:
            left = max(self.retry_at - time.monotonic(), 0.0)
            fresh.message = f"{err.message} (retrying in {left:.1f} s)"
            fresh.args = (fresh.message,)
        return fresh


def _fresh(err: MerError) -> MerError:
    """A new instance to raise in one more task (one exception object, one traceback)."""
    return type(err)(err.message, **err.details)


async def _close(conn: asyncssh.SSHClientConnection | None) -> None:
    if conn is None:
        return
    conn.close()
    with contextlib.suppress(TimeoutError, OSError, asyncssh.Error):
        async with asyncio.timeout(5):
            await conn.wait_closed()
