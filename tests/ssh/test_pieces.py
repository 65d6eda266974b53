"""The SSH layer's small pure parts: targets, shell quoting, the HTTP/1.1 head parser."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from typing import Any

import pytest
from mer_core.errors import InvalidRequest
from mer_core.schemas.registry import ServerPublic
from mer_meal.remote.channels import ChannelClosed
from mer_meal.remote.http1 import _encode, _parse_head
from mer_meal.remote.shell import remote_path
from mer_meal.remote.target import target_of


def server(**fields: Any) -> ServerPublic:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "name": "gpu1",
        "kind": "ssh",
        "ssh_host": "gpu1.example",
        "created_at": now,
        "updated_at": now,
    }
    values.update(fields)
    return ServerPublic.model_validate(values)


def test_target_of_an_ssh_server() -> None:
    target = target_of(server(ssh_port=2222, worker_url="http://127.0.0.1:9000"))
    assert (target.host, target.port, target.worker_host, target.worker_port) == (
        "gpu1.example",
        2222,
        "127.0.0.1",
        9000,
    )
    assert target.endpoint == "gpu1.example:2222"
    assert target.remote_command == "mer-meal"
    assert target.remote_dir == ".mer"


def test_target_of_an_alias_leaves_host_and_port_to_the_config() -> None:
    target = target_of(server(ssh_host=None, ssh_config_host="gpu"))
    assert (target.host, target.port) == ("gpu", None)
    assert target.endpoint == "gpu (ssh config)"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "local"}, "not reached over SSH"),
        ({"ssh_host": None}, "neither an SSH host nor an ssh config alias"),
        ({"worker_url": "ftp://x"}, "worker_url must be http://HOST:PORT"),
        ({"worker_url": "http://127.0.0.1:99999"}, "bad worker_url"),
    ],
)
def test_target_of_names_what_is_missing(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        target_of(server(**fields))


def test_remote_paths_are_quoted_and_keep_the_home_directory() -> None:
    assert remote_path("~/mer dir/x") == "\"$HOME\"/'mer dir/x'"
    assert remote_path("/srv/mer;rm -rf /") == shlex.quote("/srv/mer;rm -rf /")
    assert shlex.split(remote_path("$(reboot)")) == ["$(reboot)"]


def test_request_heads_refuse_header_injection() -> None:
    with pytest.raises(InvalidRequest, match="line break"):
        _encode("POST", "/x", "h:1", {"x-mer-caller": "a\r\nX-Evil: 1"}, b"")
    encoded = _encode("POST", "/x", "h:1", {"Content-Type": "application/json"}, b"{}")
    assert encoded.startswith(b"POST /x HTTP/1.1\r\nHost: h:1\r\nContent-Length: 2\r\n")
    assert encoded.endswith(b"\r\n\r\n{}")


def test_answer_heads_are_parsed_or_refused() -> None:
    status, headers, keep = _parse_head(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\n\r\n"
    )
    assert (status, headers["content-type"], keep) == (503, "application/json", False)
    assert _parse_head(b"HTTP/1.1 200 OK\r\n\r\n")[2] is True
    with pytest.raises(ChannelClosed, match="not an HTTP answer"):
        _parse_head(b"SSH-2.0-OpenSSH\r\n\r\n")


async def test_the_remote_client_says_when_the_gateway_cannot_be_reached() -> None:
    from mer_core.errors import Unavailable
    from mer_core.remote_client import check_server

    from tests.support.procs import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(Unavailable, match=f"cannot reach the worker at {url}"):
        await check_server(url, "token", "gpu1")
