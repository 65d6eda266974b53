"""A real OpenSSH sshd on loopback for tests and benchmarks: its own keys, config and known_hosts.

``sshd_server(workdir)`` generates a host key and a client key, writes an ``authorized_keys``,
a ``known_hosts`` (``[127.0.0.1]:PORT`` entry) and an sshd config, and runs
``/usr/sbin/sshd -D -e -f CONFIG`` until the block ends. The returned ``Sshd`` can pause
(SIGSTOP), resume and kill the daemon and the per-connection processes it forked, and restart it
with a new host key, for the fault tests.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from tests.support.procs import free_port, stop

SSHD = Path("/usr/sbin/sshd")


def sshd_missing_reason() -> str | None:
    """Why a real sshd cannot run here, or None when it can."""
    if not SSHD.is_file():
        return f"{SSHD} is missing: install Debian's openssh-server to run the SSH tests"
    return None


def current_user() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


def write_keypair(path: Path, alg: str = "ssh-ed25519") -> asyncssh.SSHKey:
    """A new private key at ``path`` (0600, OpenSSH format) and its public key at ``path.pub``."""
    key = asyncssh.generate_private_key(alg)
    key.write_private_key(str(path))
    path.chmod(0o600)
    key.write_public_key(str(path) + ".pub")
    return key


def known_hosts_line(host: str, port: int, key: asyncssh.SSHKey) -> str:
    name = host if port == 22 else f"[{host}]:{port}"
    public = key.export_public_key("openssh").decode().strip()
    return f"{name} {public}\n"


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, grandchildren...), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the ppid follows the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


@dataclass
class Sshd:
    """One running sshd and everything a client needs to reach it."""

    workdir: Path
    host: str
    port: int
    user: str
    identity_file: Path
    known_hosts_file: Path
    host_key_file: Path
    config_file: Path
    log: Path
    netns: str | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def target(self) -> str:
        """``USER@HOST:PORT``, as ``server add --ssh`` takes it."""
        return f"{self.user}@{self.host}:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    # --- process control ------------------------------------------------------------------

    def start(self) -> None:
        argv = [str(SSHD), "-D", "-e", "-f", str(self.config_file)]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            self._wait_listening()
        except RuntimeError:
            stop(self.proc)
            self.proc = None
            raise

    def stop(self) -> None:
        """Stop the daemon and the connections it serves."""
        if self.proc is None:
            return
        self.signal_all(signal.SIGCONT)
        self.kill_sessions()
        stop(self.proc)
        self.proc = None

    def sessions(self) -> list[int]:
        """The per-connection sshd processes (not the listener, not the user's commands)."""
        if self.proc is None:
            return []
        return [p for p in descendants(self.proc.pid) if _comm(p) == "sshd"]

    def signal_all(self, sig: int) -> None:
        """Send ``sig`` to the listener and everything below it (sessions and their commands).

        A worker started over SSH is not among them: its launching shell exits at once, and it
        belongs to init from then on.
        """
        if self.proc is None:
            return
        for pid in [self.proc.pid, *descendants(self.proc.pid)]:
            with suppress(ProcessLookupError):
                os.kill(pid, sig)

    def kill_sessions(self) -> int:
        """SIGKILL every live connection (the listener stays): clients see the TCP stream die."""
        killed = 0
        for pid in self.sessions():
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        return killed

    def rekey(self) -> None:
        """Restart with a new host key: the fixture's known_hosts now names a changed key."""
        self.stop()
        self.host_key_file.unlink()
        Path(str(self.host_key_file) + ".pub").unlink()
        write_keypair(self.host_key_file)
        self.start()

    def _wait_listening(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited with {self.proc.returncode}:\n{self.log_text()}")
            if self._banner_ok():
                return
            time.sleep(0.05)
        raise RuntimeError(f"sshd not listening on {self.host}:{self.port}:\n{self.log_text()}")

    def _banner_ok(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                return sock.recv(64).startswith(b"SSH-2.0-")
        except OSError:
            return False


def write_config(sshd: Sshd, authorized_keys: Path, listen: str, extra: Sequence[str]) -> None:
    lines = [
        f"Port {sshd.port}",
        f"ListenAddress {listen}",
        f"HostKey {sshd.host_key_file}",
        f"AuthorizedKeysFile {authorized_keys}",
        "StrictModes no",
        "UsePAM no",
        "PidFile none",
        "AllowTcpForwarding yes",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "Subsystem sftp internal-sftp",
        "MaxSessions 64",
        "LogLevel VERBOSE",
        *extra,
    ]
    sshd.config_file.write_text("\n".join(lines) + "\n")


@contextmanager
def sshd_server(
    workdir: Path,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    netns: str | None = None,
    extra_config: Sequence[str] = (),
) -> Iterator[Sshd]:
    """Run a fresh sshd on ``host`` (loopback by default, or inside network namespace ``netns``)."""
    reason = sshd_missing_reason()
    if reason:
        raise RuntimeError(reason)
    workdir.mkdir(parents=True, exist_ok=True)
    if os.getuid() == 0:
        # The privilege-separation directory the Debian package makes at boot.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    host_key = workdir / "ssh_host_ed25519_key"
    client_key = workdir / "id_ed25519"
    write_keypair(host_key)
    client = write_keypair(client_key)
    authorized = workdir / "authorized_keys"
    authorized.write_text(client.export_public_key("openssh").decode())
    sshd = Sshd(
        workdir=workdir,
        host=host,
        port=port or free_port(),
        user=current_user(),
        identity_file=client_key,
        known_hosts_file=workdir / "known_hosts",
        host_key_file=host_key,
        config_file=workdir / "sshd_config",
        log=workdir / "sshd.log",
        netns=netns,
    )
    public_host_key = asyncssh.read_public_key(str(host_key) + ".pub")
    for attempt in range(3):
        sshd.known_hosts_file.write_text(known_hosts_line(host, sshd.port, public_host_key))
        write_config(sshd, authorized, host, extra_config)
        try:
            sshd.start()
            break
        except RuntimeError:
            # The free port may have been taken since it was picked: try another one.
            if port is not None or attempt == 2:
                raise
            sshd.port = free_port()
    try:
        yield sshd
    finally:
        sshd.stop()
