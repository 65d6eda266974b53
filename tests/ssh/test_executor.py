"""The SSH executor against a real sshd; a plain HTTP server on loopback plays the remote worker."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mer_core.errors import BadGateway, GatewayTimeout, Unavailable
from mer_core.settings import WorkerSettings
from mer_meal.remote.connect import SshSettings
from mer_meal.remote.cork import CorkedTransport
from mer_meal.remote.executor import SshExecutor
from mer_meal.remote.link import LinkState

from tests.ssh.conftest import ssh_server
from tests.ssh.httpd import Httpd
from tests.ssh.sshd import Sshd, write_keypair
from tests.support.procs import free_port

pytestmark = pytest.mark.ssh

FAST = SshSettings(
    connect_timeout_s=2.0,
    keepalive_interval_s=0.5,
    keepalive_count_max=3,
    backoff_initial_s=0.2,
    backoff_max_s=1.0,
)


@pytest.fixture
async def executor() -> AsyncIterator[SshExecutor]:
    ex = SshExecutor(WorkerSettings(token="s3cret", request_timeout_s=3.0), ssh=FAST)
    await ex.start()
    try:
        yield ex
    finally:
        await ex.stop()


async def echo(ex: SshExecutor, server: object, payload: bytes = b"hello") -> bytes:
    status, headers, body = await ex.request(server, "POST", "/echo", payload, {})  # type: ignore[arg-type]
    assert status == 200, body
    assert headers["content-type"] == "application/octet-stream"
    return body


async def test_requests_travel_over_one_connection_and_reuse_channels(
    executor: SshExecutor, sshd: Sshd, httpd: Httpd
) -> None:
    server = ssh_server(sshd, httpd.port)
    assert await echo(executor, server, b"x" * 300_000) == b"x" * 300_000
    for _ in range(20):
        assert await echo(executor, server) == b"hello"
    status, _, body = await executor.request(server, "GET", "/auth")
    assert (status, body) == (200, b"Bearer s3cret")
    client = executor.client("remote1")
    assert client is not None
    assert client.opened == 1
    link = await executor.link(server)
    assert link.state is LinkState.CONNECTED
    assert link.connects == 1
    assert len(sshd.sessions()) == 1


async def test_concurrent_requests_share_the_connection(
    executor: SshExecutor, sshd: Sshd, httpd: Httpd
) -> None:
    server = ssh_server(sshd, httpd.port)
    bodies = await asyncio.gather(*(echo(executor, server, b"%d" % i) for i in range(64)))
    assert bodies == [b"%d" % i for i in range(64)]
    link = await executor.link(server)
    assert link.connects == 1


async def test_error_answers_of_the_worker_are_returned_not_raised(
    executor: SshExecutor, sshd: Sshd, httpd: Httpd
) -> None:
    status, _, body = await executor.request(ssh_server(sshd, httpd.port), "GET", "/nope")
    assert status == 404
    assert b"no such path" in body


async def test_a_remote_port_nothing_listens_on_is_a_fast_502(
    executor: SshExecutor, sshd: Sshd
) -> None:
    port = free_port()
    server = ssh_server(sshd, port)
    await (await executor.link(server)).connection()
    started = time.monotonic()
    with pytest.raises(BadGateway) as info:
        await executor.request(server, "GET", "/v2/health/live")
    assert time.monotonic() - started < 1.0
    assert f"nothing listens on 127.0.0.1:{port}" in info.value.message
    assert "server remote1" in info.value.message
    assert "server start remote1" in info.value.message


async def test_unknown_host_key_is_refused_with_how_to_trust_it(
    executor: SshExecutor, sshd: Sshd, httpd: Httpd, tmp_path: Path
) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    server = ssh_server(sshd, httpd.port, known_hosts_file=str(empty))
    with pytest.raises(BadGateway) as info:
        await echo(executor, server)
    message = info.value.message
    assert f"host key of 127.0.0.1:{sshd.port} is not trusted" in message
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {empty}" in message
    assert "server remote1" in message


async def test_default_known_hosts_is_used_and_port_entries_count(
    executor: SshExecutor, sshd: Sshd, httpd: Httpd
) -> None:
    ssh_dir = Path(os.environ["HOME"]) / ".ssh"
    ssh_dir.mkdir()
    server = ssh_server(sshd, httpd.port, known_hosts_file=None)
    with pytest.raises(BadGateway, match="not trusted"):
        await echo(executor, server)
    # The fixture's file holds a `[127.0.0.1]:PORT` entry.
    (ssh_dir / "known_hosts").write_text(sshd.known_hosts_file.read_text())
    fresh = SshExecutor(WorkerSettings(token="t"), ssh=FAST)
    try:
        assert await echo(fresh, server) == b"hello"
    finally:
        await fresh.stop()


async def test_changed_host_key_is_refused(executor: SshExecutor, sshd: Sshd, httpd: Httpd) -> None:
    server = ssh_server(sshd, httpd.port)
    assert await echo(executor, server) == b"hello"
    sshd.rekey()
    # The live connection went with the old daemon; reconnecting meets the new key.
    deadline = time.monotonic() + 10
    while True:
        try:
            await echo(executor, server)
        except BadGateway as exc:
            if "CHANGED" in exc.message:
                message = exc.message
                break
        except (Unavailable, GatewayTimeout):
            pass
        assert time.monotonic() < deadline, "the changed key was never reported"
        await asyncio.sleep(0.2)
    assert f"host key of 127.0.0.1:{sshd.port} has CHANGED" in message
    assert f"ssh-keygen -R '[127.0.0.1]:{sshd.port}' -f {sshd.known_hosts_file}" in message


async def test_a_key_the_host_does_not_accept_is_refused(
    executor: SshExecutor, sshd: Sshd, httpd: Httpd, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger_key"
    write_keypair(stranger)
    server = ssh_server(sshd, httpd.port, identity_file=str(stranger))
    with pytest.raises(BadGateway, match=r"refused our key .*stranger_key"):
        await echo(executor, server)


async def test_connect_timeout_names_host_and_port(executor: SshExecutor, httpd: Httpd) -> None:
    # A listener that never answers: the TCP handshake completes, the SSH banner never comes.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    try:
        sshd = Sshd(
            workdir=Path("."),
            host="127.0.0.1",
            port=port,
            user="nobody",
            identity_file=Path("none"),
            known_hosts_file=Path("none"),
            host_key_file=Path("none"),
            config_file=Path("none"),
            log=Path("none"),
        )
        server = ssh_server(sshd, httpd.port, known_hosts_file=None, identity_file=None)
        started = time.monotonic()
        with pytest.raises(GatewayTimeout) as info:
            await echo(executor, server)
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert FAST.connect_timeout_s - 0.5 < elapsed < FAST.connect_timeout_s + 1.5
    assert f"no SSH answer from 127.0.0.1:{port}" in info.value.message


async def test_refused_sshd_port_is_503_then_backoff_fails_fast(
    executor: SshExecutor, httpd: Httpd, sshd: Sshd
) -> None:
    sshd.stop()
    server = ssh_server(sshd, httpd.port)
    with pytest.raises(Unavailable, match=f"127.0.0.1:{sshd.port} refused the connection"):
        await echo(executor, server)
    link = await executor.link(server)
    assert link.state.value == "backoff"
    started = time.monotonic()
    with pytest.raises(Unavailable, match="retrying in"):
        await echo(executor, server)
    assert time.monotonic() - started < 0.1
    # Once sshd is back, the link reconnects by itself within the capped backoff.
    sshd.start()
    deadline = time.monotonic() + 5
    while link.state.value != "connected":
        assert time.monotonic() < deadline, link.state
        await asyncio.sleep(0.05)
    assert await echo(executor, server) == b"hello"


async def test_killed_connection_fails_in_flight_requests_and_reconnects(
    executor: SshExecutor, sshd: Sshd, httpd: Httpd
) -> None:
    server = ssh_server(sshd, httpd.port)
    assert await echo(executor, server) == b"hello"
    slow = asyncio.ensure_future(executor.request(server, "GET", "/slow?s=5"))
    await asyncio.sleep(0.3)
    assert sshd.kill_sessions() == 1
    started = time.monotonic()
    with pytest.raises(BadGateway, match=r"server remote1: SSH connection to .* lost"):
        await slow
    assert time.monotonic() - started < 1.0
    deadline = time.monotonic() + 5
    while True:
        try:
            assert await echo(executor, server) == b"hello"
            break
        except (BadGateway, Unavailable):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    assert (await executor.link(server)).connects == 2


async def test_stopped_sshd_gives_504_within_the_timeout_then_recovers(
    executor: SshExecutor, sshd: Sshd, httpd: Httpd
) -> None:
    server = ssh_server(sshd, httpd.port)
    assert await echo(executor, server) == b"hello"
    sshd.signal_all(19)  # SIGSTOP: the peer goes silent, TCP stays up
    try:
        started = time.monotonic()
        with pytest.raises(GatewayTimeout, match="remote1"):
            await echo(executor, server)
        assert time.monotonic() - started < executor.request_timeout_s + 0.5
        # Keepalives declare the silent peer dead: the link leaves CONNECTED.
        link = await executor.link(server)
        deadline = time.monotonic() + FAST.dead_after_s + 2
        while link.state is LinkState.CONNECTED:
            assert time.monotonic() < deadline, "keepalive never declared the peer dead"
            await asyncio.sleep(0.05)
        with pytest.raises(GatewayTimeout, match="remote1"):
            await echo(executor, server)
    finally:
        sshd.signal_all(18)  # SIGCONT
    deadline = time.monotonic() + 10
    while True:
        try:
            assert await echo(executor, server) == b"hello"
            break
        except (BadGateway, Unavailable, GatewayTimeout):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_aborted_requests_leave_no_channel_or_fd_open(
    executor: SshExecutor, sshd: Sshd, httpd: Httpd
) -> None:
    server = ssh_server(sshd, httpd.port)
    assert await echo(executor, server) == b"hello"
    link = await executor.link(server)
    conn = await link.connection()
    fds = open_fds()
    for _ in range(100):
        task = asyncio.ensure_future(executor.request(server, "GET", "/slow?s=30"))
        await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    deadline = time.monotonic() + 5
    while httpd.open_connections > 1 or len(conn._channels) > 1:
        assert time.monotonic() < deadline, (httpd.open_connections, len(conn._channels))
        await asyncio.sleep(0.05)
    assert open_fds() <= fds
    assert link.connects == 1
    assert await echo(executor, server) == b"hello"


async def test_the_request_timeout_bounds_a_slow_worker(
    executor: SshExecutor, sshd: Sshd, httpd: Httpd
) -> None:
    server = ssh_server(sshd, httpd.port)
    started = time.monotonic()
    with pytest.raises(GatewayTimeout, match="server remote1 did not answer GET /slow"):
        await executor.request(server, "GET", "/slow?s=10", timeout_s=0.5)
    assert time.monotonic() - started < 1.5


async def test_worker_closing_without_answer_is_502(
    executor: SshExecutor, sshd: Sshd, httpd: Httpd
) -> None:
    with pytest.raises(BadGateway, match="broke the connection"):
        await executor.request(ssh_server(sshd, httpd.port), "GET", "/close")


async def test_disabled_server_is_503(executor: SshExecutor, sshd: Sshd, httpd: Httpd) -> None:
    with pytest.raises(Unavailable, match="server remote1 is disabled"):
        await echo(executor, ssh_server(sshd, httpd.port, enabled=False))


def write_ssh_config(sshd: Sshd, alias: str, *extra: str) -> None:
    ssh_dir = Path(os.environ["HOME"]) / ".ssh"
    ssh_dir.mkdir(exist_ok=True)
    lines = [
        f"Host {alias}",
        f"    HostName {sshd.host}",
        f"    Port {sshd.port}",
        f"    User {sshd.user}",
        f"    IdentityFile {sshd.identity_file}",
        *(f"    {line}" for line in extra),
    ]
    (ssh_dir / "config").write_text("\n".join(lines) + "\n")


async def test_an_openssh_config_alias_is_followed(
    executor: SshExecutor, sshd: Sshd, httpd: Httpd
) -> None:
    write_ssh_config(sshd, "mer-alias", f"UserKnownHostsFile {sshd.known_hosts_file}")
    server = ssh_server(
        sshd,
        httpd.port,
        ssh_host=None,
        ssh_user=None,
        identity_file=None,
        known_hosts_file=None,
        ssh_config_host="mer-alias",
    )
    assert await echo(executor, server) == b"hello"
    link = await executor.link(server)
    assert str(link.endpoint) == f"127.0.0.1:{sshd.port}"


async def test_an_alias_that_turns_host_key_checking_off_is_still_checked(
    executor: SshExecutor, sshd: Sshd, httpd: Httpd
) -> None:
    write_ssh_config(sshd, "lax", "UserKnownHostsFile none", "StrictHostKeyChecking no")
    server = ssh_server(
        sshd,
        httpd.port,
        ssh_host=None,
        identity_file=None,
        known_hosts_file=None,
        ssh_config_host="lax",
    )
    with pytest.raises(BadGateway, match="not trusted"):
        await echo(executor, server)


async def test_each_request_costs_one_ssh_packet_and_writes_are_batched(
    executor: SshExecutor, sshd: Sshd, httpd: Httpd
) -> None:
    server = ssh_server(sshd, httpd.port)
    assert await echo(executor, server) == b"hello"
    conn = await (await executor.link(server)).connection()
    transport = conn._transport
    assert isinstance(transport, CorkedTransport)
    await asyncio.gather(*(echo(executor, server) for _ in range(32)))  # opens 32 channels
    writes, sends = transport.writes, transport.sends
    await asyncio.gather(*(echo(executor, server) for _ in range(32)))  # reuses them
    assert transport.writes - writes == 32  # one data packet each: no SSH_MSG_IGNORE
    assert transport.sends - sends < 16


async def test_keepalives_declare_a_silent_peer_dead_after_interval_times_count(
    executor: SshExecutor, sshd: Sshd, httpd: Httpd
) -> None:
    server = ssh_server(sshd, httpd.port)
    assert await echo(executor, server) == b"hello"
    link = await executor.link(server)
    sshd.signal_all(19)  # SIGSTOP
    try:
        started = time.monotonic()
        while link.state.value == "connected":
            assert time.monotonic() - started < FAST.dead_after_s + 1.0
            await asyncio.sleep(0.02)
        elapsed = time.monotonic() - started
    finally:
        sshd.signal_all(18)
    assert elapsed >= FAST.dead_after_s - FAST.keepalive_interval_s
    assert link.last_error is not None
    assert "stopped answering" in link.last_error.message
    assert link.last_error.status == 504
