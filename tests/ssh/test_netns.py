"""A remote worker that can be reached only through SSH: it runs in its own network namespace.

The namespace's sshd listens on its veth address; `server start` runs the worker there bound to
the namespace's loopback, and the worker reaches the DAL (on this host's loopback, which the
namespace cannot see) only through the gateway's reverse forward.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from mer_core.remote_client import check_server

from tests.ssh.netns import Netns, netns_missing_reason, network_namespace
from tests.ssh.sshd import Sshd, sshd_server
from tests.ssh.stack import GatewayStack, Remote, digits_body, labels, wait_for
from tests.support.procs import free_port

pytestmark = [pytest.mark.ssh, pytest.mark.slow, pytest.mark.netns]


@pytest.fixture
def netns() -> Iterator[Netns]:
    reason = netns_missing_reason()
    if reason:
        pytest.skip(reason)
    with network_namespace() as ns:
        yield ns


@pytest.fixture
def ns_sshd(netns: Netns, tmp_path: Path) -> Iterator[Sshd]:
    with sshd_server(tmp_path / "sshd", host=netns.ns_ip, netns=netns.name) as daemon:
        yield daemon


def refused(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except OSError:
        return True


def test_a_worker_reached_only_through_ssh(gw: GatewayStack, netns: Netns, ns_sshd: Sshd) -> None:
    worker_port = free_port()
    remote = Remote(gw, ns_sshd, worker_url=f"http://127.0.0.1:{worker_port}")
    try:
        remote.start()
        # Nothing but sshd is open on the remote host, and the worker is not on ours.
        assert refused(netns.ns_ip, worker_port)
        assert refused("127.0.0.1", worker_port)
        # The namespace cannot reach the DAL by itself...
        dal_port = urlsplit(gw.dal.url).port
        probe = f"import socket; socket.create_connection(('127.0.0.1', {dal_port}), timeout=2)"
        assert netns.run(sys.executable, "-c", probe).returncode != 0
        # ...yet its worker is ready: it read the registry through the SSH tunnel.
        report = gw.run(check_server(gw.gateway.url, gw.tokens.token, remote.name))
        assert report.worker.ready
        assert report.ssh.endswith(f"{netns.ns_ip}:{ns_sshd.port}")

        body, truth = digits_body(16)
        with httpx.Client(timeout=30) as client:
            answer = client.post(gw.infer_url(remote.model), content=body, headers=gw.headers())
        assert answer.status_code == 200, answer.text
        assert sum(a == b for a, b in zip(labels(answer), truth, strict=True)) >= 14

        # Its access-log row came back through the tunnel, naming the remote server.
        wait_for(lambda: bool(gw.run(gw.logs(remote.model))), 15, "the remote access-log row")
        rows = gw.run(gw.logs(remote.model))
        assert [(r.server, r.status, r.rows) for r in rows] == [(remote.name, 200, 16)]
    finally:
        remote.stop()
