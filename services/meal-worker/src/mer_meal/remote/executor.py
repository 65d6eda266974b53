"""The gateway's ``RemoteExecutor``: Open Inference Protocol requests to remote workers over SSH.

Each remote server gets one SSH link (``ssh_pool``) and one HTTP client whose connections are
SSH channels to the remote worker's loopback port (``http1``), kept alive between requests.
Whatever the remote worker answers is returned unchanged (it wrote the access-log row); when
there is no answer a MER error naming the server is raised: 503 / 502 / 504, never a hang, since
every request is bounded by ``MER_REQUEST_TIMEOUT_S``. A cancelled request (its client went
away) closes its channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from urllib.parse import quote

from mer_core.errors import GatewayTimeout, Unavailable
from mer_core.schemas.registry import ServerPublic
from mer_core.settings import WorkerSettings
from pydantic import SecretStr

from mer_meal.remote.connect import SshSettings
from mer_meal.remote.http1 import HttpOverSsh
from mer_meal.remote.link import LinkHook, SshLink
from mer_meal.remote.ssh_pool import SshPool
from mer_meal.remote.target import SshTarget, target_of
from mer_meal.remote.tunnel import DalTunnel

RemoteAnswer = tuple[int, Mapping[str, str], bytes]

ANSWER_HEADERS = ("content-type", "inference-header-content-length")


class SshExecutor:
    """Runs requests of models placed on remote servers; the worker starts and stops it."""

    def __init__(
        self,
        settings: WorkerSettings,
        *,
        ssh: SshSettings | None = None,
        hooks: Sequence[LinkHook] = (),
    ) -> None:
        self.ssh = ssh or SshSettings.of(settings)
        self.request_timeout_s = settings.request_timeout_s
        self._token: SecretStr | None = settings.token
        self.tunnel = DalTunnel(settings.dal_url)
        self.pool = SshPool(self.ssh, [self.tunnel.maintain, *hooks])
        self._http: dict[str, HttpOverSsh] = {}
        self._targets: dict[str, tuple[ServerPublic, SshTarget]] = {}
        self._start_locks: dict[str, asyncio.Lock] = {}

    async def start(self) -> None:
        """Nothing connects before a request needs it."""

    async def stop(self) -> None:
        for http in self._http.values():
            http.aclose()
        self._http = {}
        await self.pool.aclose()

    async def infer(
        self,
        server: ServerPublic,
        model: str,
        version: str | None,
        body: bytes,
        headers: Mapping[str, str],
    ) -> RemoteAnswer:
        path = f"/v2/models/{quote(model, safe='')}"
        if version:
            path += f"/versions/{quote(version, safe='')}"
        return await self.request(server, "POST", f"{path}/infer", body, headers)

    async def request(
        self,
        server: ServerPublic,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        timeout_s: float | None = None,
    ) -> RemoteAnswer:
        """Send one request to the worker of ``server``; its answer, or a 502/503/504 error."""
        if not server.enabled:
            raise Unavailable(f"server {server.name} is disabled")
        target = self._target(server)
        timeout = timeout_s or self.request_timeout_s
        sent = dict(headers or {})
        if self._token is not None:
            sent["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        try:
            async with asyncio.timeout(timeout):
                http = await self._client(target)
                answer = await http.request(method, path, sent, body)
        except TimeoutError:
            raise GatewayTimeout(
                f"server {server.name} did not answer {method} {path} within {timeout:g} s"
            ) from None
        kept = {k: v for k, v in answer.headers.items() if k in ANSWER_HEADERS}
        return answer.status, kept, answer.body

    async def link(self, server: ServerPublic) -> SshLink:
        return await self.pool.link(self._target(server))

    def _target(self, server: ServerPublic) -> SshTarget:
        """``target_of(server)``, remembered while the registry hands out the same record."""
        cached = self._targets.get(server.name)
        if cached is not None and cached[0] is server:
            return cached[1]
        target = target_of(server)
        self._targets[server.name] = (server, target)
        return target

    def start_lock(self, server: str) -> asyncio.Lock:
        """Held while ``server start`` runs for ``server``: two calls never launch two workers."""
        return self._start_locks.setdefault(server, asyncio.Lock())

    def client(self, server: str) -> HttpOverSsh | None:
        """The HTTP client of ``server``, once a request made one (for tests and metrics)."""
        return self._http.get(server)

    async def _client(self, target: SshTarget) -> HttpOverSsh:
        link = await self.pool.link(target)
        http = self._http.get(target.server)
        if (
            http is not None
            and http.link is link
            and (http.host, http.port) == (target.worker_host, target.worker_port)
        ):
            return http
        fresh = HttpOverSsh(
            link, target.worker_host, target.worker_port, open_timeout_s=self.ssh.connect_timeout_s
        )
        self._http[target.server] = fresh
        if http is not None:
            http.aclose()
        return fresh
