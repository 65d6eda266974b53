"""``server start``: run MER's worker on a remote host over SSH, bound to its loopback.

Steps, each over the server's one SSH connection:

1. if a worker already answers on the server's ``worker_url`` (as seen from the remote host),
   report it and stop;
2. forward a loopback port of the remote host back to the DAL (``tunnel``);
3. write the worker's settings, the service token among them, into ``DIR/.env`` (mode 0600,
   through stdin: the token is never on a command line), where ``DIR`` is
   ``REMOTE_DIR/servers/NAME``; the worker reads ``.env`` from its working directory;
4. start ``remote_command`` there with ``nohup``, its output in ``DIR/worker.log``;
5. wait until it is ready (it reached the DAL through the tunnel), or report why not with the
   end of its log.

The worker's ``MER_SERVER_NAME`` is the server's registry name, so its access-log rows name it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import shlex
import time

import asyncssh
from mer_core.errors import BadGateway, GatewayTimeout, InvalidRequest, MerError
from mer_core.schemas.registry import ServerPublic
from mer_core.schemas.remote import ServerStartPublic
from pydantic import SecretStr

from mer_meal.remote.executor import SshExecutor
from mer_meal.remote.link import SshLink
from mer_meal.remote.shell import remote_path, run, server_dir, write_private
from mer_meal.remote.target import SshTarget, target_of
from mer_meal.remote.tunnel import RemoteState, read_state, state_path

START_TIMEOUT_S = 90.0
POLL_S = 0.3
LOG_TAIL_LINES = 30


class Starter:
    def __init__(
        self, executor: SshExecutor, token: SecretStr | None, timeout_s: float = START_TIMEOUT_S
    ) -> None:
        self.executor = executor
        self.token = token
        self.timeout_s = timeout_s

    async def start(self, server: ServerPublic) -> ServerStartPublic:
        async with self.executor.start_lock(server.name):
            return await self._start(server)

    async def _start(self, server: ServerPublic) -> ServerStartPublic:
        target = target_of(server)
        _require_loopback(target)
        link = await self.executor.link(server)
        conn = await link.connection()
        folder = server_dir(target)
        log_file = f"{folder}/worker.log"
        state = await read_state(conn, target)
        if await self._answers(server, "/v2/health/live"):
            return ServerStartPublic(
                server=server.name,
                worker_url=target.worker_url,
                started=False,
                pid=state.pid if state else None,
                log_file=log_file,
            )
        dal_port = await self._forward(link, conn, state)
        await write_private(conn, target, f"{folder}/.env", self._env(target, dal_port))
        await write_private(conn, target, state_path(target), RemoteState(dal_port).to_json())
        pid = await _launch(conn, target, folder)
        await write_private(conn, target, state_path(target), RemoteState(dal_port, pid).to_json())
        await self._wait_ready(server, conn, target, pid, log_file)
        return ServerStartPublic(
            server=server.name,
            worker_url=target.worker_url,
            started=True,
            pid=pid,
            log_file=log_file,
        )

    async def _answers(self, server: ServerPublic, path: str) -> bool:
        """Whether the remote worker answers ``path`` with 200 (False while nothing listens)."""
        try:
            status, _, _ = await self.executor.request(server, "GET", path, timeout_s=5.0)
        except BadGateway:
            return False
        return status == 200

    async def _forward(
        self, link: SshLink, conn: asyncssh.SSHClientConnection, state: RemoteState | None
    ) -> int:
        tunnel = self.executor.tunnel
        current = tunnel.port_on(conn)
        if current is not None:
            return current
        if state is not None:
            try:
                return await tunnel.ensure(link, conn, state.dal_port)
            except BadGateway:
                pass  # that port is taken now: any free one will do
        return await tunnel.ensure(link, conn, 0)

    def _env(self, target: SshTarget, dal_port: int) -> str:
        values = {
            "MER_SERVER_NAME": target.server,
            "MER_DAL_URL": self.executor.tunnel.remote_url(dal_port),
            "MER_WORKER_HOST": target.worker_host,
            "MER_WORKER_PORT": str(target.worker_port),
            "MER_CACHE_DIR": "cache",
            "MER_SPOOL_DIR": "spool",
        }
        if self.token is not None:
            values["MER_TOKEN"] = self.token.get_secret_value()
        return "".join(f"{key}={_dotenv_value(value)}\n" for key, value in values.items())

    async def _wait_ready(
        self,
        server: ServerPublic,
        conn: asyncssh.SSHClientConnection,
        target: SshTarget,
        pid: int,
        log_file: str,
    ) -> None:
        deadline = time.monotonic() + self.timeout_s
        next_alive_check = 0.0
        while time.monotonic() < deadline:
            try:
                if await self._answers(server, "/v2/health/ready"):
                    return
            except MerError:
                pass  # starting: it may accept and not answer yet
            if time.monotonic() >= next_alive_check:
                next_alive_check = time.monotonic() + 1.0
                done = await run(conn, target, f"kill -0 {pid}")
                if done.status != 0:
                    tail = await _tail(conn, target, log_file)
                    raise BadGateway(
                        f"server {target.server}: its worker (pid {pid}) exited while starting; "
                        f"the end of {log_file}:\n{tail}"
                    )
            await asyncio.sleep(POLL_S)
        tail = await _tail(conn, target, log_file)
        raise GatewayTimeout(
            f"server {target.server}: its worker (pid {pid}) was not ready within "
            f"{self.timeout_s:g} s (can it reach the DAL through the tunnel?); the end of "
            f"{log_file}:\n{tail}"
        )


async def _launch(conn: asyncssh.SSHClientConnection, target: SshTarget, folder: str) -> int:
    try:
        argv = shlex.split(target.remote_command)
    except ValueError as exc:
        raise InvalidRequest(
            f"server {target.server}: bad remote_command {target.remote_command!r}: {exc}"
        ) from exc
    if not argv:
        raise InvalidRequest(f"server {target.server}: remote_command is empty")
    words = " ".join([remote_path(argv[0]), *(shlex.quote(a) for a in argv[1:])])
    # nohup execs the worker, so $! is the worker's pid; its output goes to worker.log.
    command = (
        f"cd {remote_path(folder)} || exit 97; "
        f"nohup {words} > worker.log 2>&1 < /dev/null & echo $!"
    )
    done = await run(conn, target, command)
    pid = done.stdout.strip()
    if done.status != 0 or not pid.isdigit():
        raise BadGateway(
            f"server {target.server}: could not start `{target.remote_command}` in {folder}: "
            f"{done.stderr.strip() or done.stdout.strip() or f'exit {done.status}'}"
        )
    return int(pid)


async def _tail(conn: asyncssh.SSHClientConnection, target: SshTarget, path: str) -> str:
    done = await run(conn, target, f"tail -n {LOG_TAIL_LINES} {remote_path(path)} 2>&1")
    return done.stdout.strip() or "(empty)"


def _require_loopback(target: SshTarget) -> None:
    """The remote worker must listen on its host's loopback only: sshd is the one open port."""
    host = target.worker_host
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise InvalidRequest(
        f"server {target.server}: its worker_url {target.worker_url} is not on the remote host's "
        "loopback; use http://127.0.0.1:PORT so that nothing but sshd is open there"
    )


def _dotenv_value(value: str) -> str:
    if any(c in value for c in "\r\n\0"):
        raise InvalidRequest("a remote setting holds a line break")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
