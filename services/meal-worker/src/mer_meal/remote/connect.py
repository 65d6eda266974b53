"""Open one SSH connection to a remote server, and say in MER's terms why it failed.

Host keys are always checked: against the server's ``known_hosts_file``, or what its OpenSSH
config alias names, or ``~/.ssh/known_hosts`` (where ``[host]:port`` entries count). An alias
whose config turns checking off is checked against ``~/.ssh/known_hosts`` all the same. Login is
by key only. asyncssh's exceptions are translated here, where they enter MER:

    timeout (TCP, banner, key exchange or login)  -> GatewayTimeout  504
    host key unknown or changed                   -> BadGateway      502  (says how to trust it)
    key refused, SSH protocol error               -> BadGateway      502
    refused, unreachable, unresolvable, bad files -> Unavailable     503
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
from mer_core.errors import BadGateway, GatewayTimeout, MerError, Unavailable
from mer_core.settings import WorkerSettings

from mer_meal.remote.cork import cork
from mer_meal.remote.target import SshTarget

FAST_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
)
"""AES-GCM first: one call into OpenSSL per packet, the cheapest for a Python SSH client."""


@dataclass(frozen=True)
class SshSettings:
    """The SSH knobs of a gateway worker (``MER_SSH_*``)."""

    connect_timeout_s: float = 10.0
    keepalive_interval_s: float = 5.0
    keepalive_count_max: int = 3
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    stable_after_s: float = 10.0
    """A connection that lived this long was healthy: its loss is retried at once."""

    @classmethod
    def of(cls, settings: WorkerSettings) -> SshSettings:
        return cls(
            connect_timeout_s=settings.ssh_connect_timeout_s,
            keepalive_interval_s=settings.ssh_keepalive_interval_s,
            keepalive_count_max=settings.ssh_keepalive_count_max,
        )

    @property
    def dead_after_s(self) -> float:
        """How long a silent peer lives: OpenSSH's ServerAliveInterval x ServerAliveCountMax."""
        return self.keepalive_interval_s * self.keepalive_count_max


@dataclass(frozen=True)
class Endpoint:
    """Where a connection really goes, once an ssh config alias is resolved."""

    host: str
    port: int
    known_hosts: str

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def default_known_hosts() -> str:
    return str(Path("~/.ssh/known_hosts").expanduser())


async def open_ssh(
    target: SshTarget, settings: SshSettings, client_factory: Callable[[], asyncssh.SSHClient]
) -> tuple[asyncssh.SSHClientConnection, Endpoint]:
    """A logged-in connection to ``target``, or the MER error saying why there is none."""
    kwargs = _connect_kwargs(target, settings)
    try:
        options = await asyncssh.SSHClientConnectionOptions.construct(**kwargs)
    except (OSError, ValueError, asyncssh.Error) as exc:
        raise Unavailable(f"server {target.server}: bad SSH settings: {exc}") from exc
    if options.known_hosts is None:
        # The ssh config turned checking off (UserKnownHostsFile none): MER never trusts
        # whatever answers, so the default file decides.
        kwargs["known_hosts"] = _existing_or_empty(default_known_hosts())
        options = await asyncssh.SSHClientConnectionOptions.construct(**kwargs)
    endpoint = Endpoint(options.host, options.port, _known_hosts_name(options.known_hosts))
    try:
        conn = await asyncssh.connect(
            kwargs["host"],
            kwargs.get("port", ()),
            config=kwargs["config"],
            options=options,
            client_factory=client_factory,
        )
    except BaseException as exc:
        error = translate_connect_error(exc, target, endpoint)
        if error is None:
            raise
        raise error from exc
    cork(conn)
    return conn, endpoint


def _connect_kwargs(target: SshTarget, settings: SshSettings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "host": target.host,
        "connect_timeout": settings.connect_timeout_s,
        "login_timeout": settings.connect_timeout_s,
        "keepalive_interval": settings.keepalive_interval_s,
        # asyncssh declares the peer dead one interval after its count_max-th unanswered
        # keepalive; OpenSSH (and MER's setting) after interval x count_max in all.
        "keepalive_count_max": max(settings.keepalive_count_max - 1, 1),
        "encryption_algs": list(FAST_CIPHERS),
        "compression_algs": None,
        "password_auth": False,
        "kbdint_auth": False,
        "gss_auth": False,
        "host_based_auth": False,
        # An alias is read from the user's OpenSSH client config; explicit targets ignore it
        # so that nothing there silently changes where the connection goes.
        "config": () if target.config_host else None,
    }
    if target.port is not None:
        kwargs["port"] = target.port
    if target.user:
        kwargs["username"] = target.user
    if target.identity_file:
        identity = str(Path(target.identity_file).expanduser())
        kwargs["client_keys"] = [identity]
        kwargs["agent_path"] = None
    if target.known_hosts_file:
        path = str(Path(target.known_hosts_file).expanduser())
        if not Path(path).is_file():
            raise Unavailable(
                f"server {target.server}: known_hosts file {path} does not exist: create it "
                f"with `ssh-keyscan -p {target.port or 22} {target.host} >> {path}` after "
                "checking the host's fingerprint"
            )
        kwargs["known_hosts"] = path
    return kwargs


def _existing_or_empty(path: str) -> str | bytes:
    return path if Path(path).is_file() else b""


def _known_hosts_name(known: object) -> str:
    if isinstance(known, str):
        return known
    if isinstance(known, list | tuple) and known and isinstance(known[0], str):
        return str(known[0])
    return default_known_hosts()


def translate_connect_error(
    exc: BaseException, target: SshTarget, endpoint: Endpoint
) -> MerError | None:
    """The MER error for a failed connect, or None for what must propagate (cancellation)."""
    name = target.server
    if isinstance(exc, TimeoutError):
        return GatewayTimeout(
            f"server {name}: no SSH answer from {endpoint} within the connect timeout"
        )
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return BadGateway(host_key_message(name, endpoint))
    if isinstance(exc, asyncssh.PermissionDenied):
        who = f"{target.user}@" if target.user else ""
        key = f" ({target.identity_file})" if target.identity_file else ""
        return BadGateway(
            f"server {name}: {who}{endpoint} refused our key{key}: add its public key to the "
            "remote user's ~/.ssh/authorized_keys"
        )
    if isinstance(exc, asyncssh.DisconnectError):
        return BadGateway(f"server {name}: {endpoint} closed the SSH connection: {exc.reason}")
    if isinstance(exc, asyncssh.KeyImportError):
        return Unavailable(f"server {name}: cannot use identity file {target.identity_file}: {exc}")
    if isinstance(exc, ConnectionRefusedError):
        return Unavailable(f"server {name}: {endpoint} refused the connection: is sshd running?")
    if isinstance(exc, socket.gaierror):
        return Unavailable(f"server {name}: cannot resolve {endpoint.host}: {exc.strerror}")
    if isinstance(exc, OSError):
        return Unavailable(f"server {name}: cannot connect to {endpoint}: {exc.strerror or exc}")
    if isinstance(exc, asyncssh.Error | ValueError):
        return BadGateway(f"server {name}: SSH to {endpoint} failed: {exc}")
    return None


def host_key_message(name: str, endpoint: Endpoint) -> str:
    """Why the host key was refused (unknown, or changed), and how to trust the host."""
    host, port, known = endpoint.host, endpoint.port, endpoint.known_hosts
    entry = host if port == 22 else f"[{host}]:{port}"
    keyscan = f"`ssh-keyscan -p {port} {host} >> {known}`"
    if _has_recorded_key(known, host, port):
        return (
            f"server {name}: the host key of {endpoint} has CHANGED from the one recorded in "
            f"{known}; refused, as this can mean an attack. If the host was reinstalled, check "
            f"its new fingerprint, then remove the old entry with "
            f"`ssh-keygen -R '{entry}' -f {known}` and add the new one with {keyscan}"
        )
    return (
        f"server {name}: the host key of {endpoint} is not trusted (no entry for {entry} in "
        f"{known}): add it with {keyscan} after checking its fingerprint"
    )


def _has_recorded_key(known: str, host: str, port: int) -> bool:
    try:
        keys = asyncssh.match_known_hosts(known, host, host, None if port == 22 else port)[0]
    except (OSError, ValueError, asyncssh.Error):
        return False
    return bool(keys)
