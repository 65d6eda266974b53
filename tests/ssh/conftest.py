"""Fixtures of the SSH tests: a real OpenSSH sshd on 127.0.0.1 with its own keys."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mer_core.schemas.registry import ServerPublic

from tests.ssh.httpd import Httpd, running_httpd
from tests.ssh.sshd import Sshd, sshd_missing_reason, sshd_server
from tests.ssh.stack import GatewayStack, Remote, gateway_stack
from tests.support.procs import Tokens

REQUEST_TIMEOUT_S = 4.0
GATEWAY_ENV = {
    "MER_REQUEST_TIMEOUT_S": str(REQUEST_TIMEOUT_S),
    "MER_SSH_CONNECT_TIMEOUT_S": "2",
    "MER_SSH_KEEPALIVE_INTERVAL_S": "0.5",
    "MER_SSH_KEEPALIVE_COUNT_MAX": "3",
    "MER_CONFIG_REFRESH_S": "0.2",
    "MER_ACCESS_LOG_FLUSH_MS": "50",
}
"""The gateway of the SSH tests: faults show up within seconds."""


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    reason = sshd_missing_reason()
    if reason:
        pytest.skip(reason)
    with sshd_server(tmp_path / "sshd") as daemon:
        yield daemon


@pytest.fixture(scope="package")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayStack]:
    """One DAL and one gateway worker for every SSH test that needs real services."""
    reason = sshd_missing_reason()
    if reason:
        pytest.skip(reason)
    with gateway_stack(tmp_path_factory.mktemp("gateway"), Tokens(), **GATEWAY_ENV) as stack:
        yield stack


@pytest.fixture
def remote(gw: GatewayStack, sshd: Sshd) -> Iterator[Remote]:
    """A server of the test's own behind ``sshd``, its model placed on it; not started."""
    server = Remote(gw, sshd)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def started(remote: Remote) -> Remote:
    """``remote`` with its worker started over SSH (``server start``)."""
    remote.start()
    return remote


@pytest.fixture
async def httpd() -> AsyncIterator[Httpd]:
    async with running_httpd() as server:
        yield server


def ssh_server(sshd: Sshd, worker_port: int, name: str = "remote1", **over: Any) -> ServerPublic:
    """The registry record of a server reached through ``sshd``, its worker on ``worker_port``."""
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "name": name,
        "kind": "ssh",
        "worker_url": f"http://127.0.0.1:{worker_port}",
        "ssh_host": sshd.host,
        "ssh_port": sshd.port,
        "ssh_user": sshd.user,
        "identity_file": str(sshd.identity_file),
        "known_hosts_file": str(sshd.known_hosts_file),
        "created_at": now,
        "updated_at": now,
    }
    fields.update(over)
    return ServerPublic.model_validate(fields)
