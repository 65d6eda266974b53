"""Where a remote server is: its SSH endpoint and its worker's address, from its registry record.

``SshTarget`` is the part of a ``ServerPublic`` that the SSH layer uses. Two records with the
same target share a connection; an edit that changes the target replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from mer_core.errors import InvalidRequest
from mer_core.schemas.registry import ServerPublic

DEFAULT_REMOTE_COMMAND = "mer-meal"
DEFAULT_REMOTE_DIR = ".mer"
DEFAULT_WORKER_PORT = 8701


@dataclass(frozen=True)
class SshTarget:
    """How to reach one remote server (``host`` is a config alias when ``config_host`` is)."""

    server: str
    host: str
    port: int | None
    user: str | None
    identity_file: str | None
    known_hosts_file: str | None
    config_host: str | None
    worker_host: str
    worker_port: int
    remote_command: str
    remote_dir: str

    @property
    def endpoint(self) -> str:
        """``HOST:PORT`` (or the config alias) for messages."""
        if self.config_host:
            return f"{self.config_host} (ssh config)"
        return f"{self.host}:{self.port or 22}"

    @property
    def display(self) -> str:
        user = f"{self.user}@" if self.user else ""
        return f"{user}{self.endpoint}"

    @property
    def worker_url(self) -> str:
        return f"http://{self.worker_host}:{self.worker_port}"

    def connection_key(self) -> tuple[object, ...]:
        """What the SSH connection depends on (the worker address does not)."""
        return (
            self.host,
            self.port,
            self.user,
            self.identity_file,
            self.known_hosts_file,
            self.config_host,
        )


def target_of(server: ServerPublic) -> SshTarget:
    """The SSH target of a ``kind: ssh`` server, or ``InvalidRequest`` saying what is missing."""
    if server.kind != "ssh":
        raise InvalidRequest(f"server {server.name} is not reached over SSH (kind {server.kind})")
    if not server.ssh_config_host and not server.ssh_host:
        raise InvalidRequest(
            f"server {server.name} has neither an SSH host nor an ssh config alias: "
            f"set one with `server add {server.name} --ssh USER@HOST[:PORT]`"
        )
    worker_host, worker_port = _worker_address(server)
    command = server.remote_command or DEFAULT_REMOTE_COMMAND
    remote_dir = server.remote_dir or DEFAULT_REMOTE_DIR
    if server.ssh_config_host:
        return SshTarget(
            server=server.name,
            host=server.ssh_config_host,
            port=None,
            user=server.ssh_user,
            identity_file=server.identity_file,
            known_hosts_file=server.known_hosts_file,
            config_host=server.ssh_config_host,
            worker_host=worker_host,
            worker_port=worker_port,
            remote_command=command,
            remote_dir=remote_dir,
        )
    assert server.ssh_host is not None
    return SshTarget(
        server=server.name,
        host=server.ssh_host,
        port=server.ssh_port,
        user=server.ssh_user,
        identity_file=server.identity_file,
        known_hosts_file=server.known_hosts_file,
        config_host=None,
        worker_host=worker_host,
        worker_port=worker_port,
        remote_command=command,
        remote_dir=remote_dir,
    )


def _worker_address(server: ServerPublic) -> tuple[str, int]:
    """Host and port of the remote worker, as seen from the remote host itself."""
    try:
        parts = urlsplit(server.worker_url)
        port = parts.port or DEFAULT_WORKER_PORT
    except ValueError as exc:
        raise InvalidRequest(f"server {server.name}: bad worker_url {server.worker_url!r}") from exc
    if parts.scheme != "http" or not parts.hostname:
        raise InvalidRequest(
            f"server {server.name}: worker_url must be http://HOST:PORT as seen from the remote "
            f"host, got {server.worker_url!r}"
        )
    return parts.hostname, port
