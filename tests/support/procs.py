"""Start MER's real services as subprocesses on free ports, wait for health, stop and await them."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from mer_core.dal_client import DalClient

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SQL_DIR = REPO / "services" / "migrator" / "sql"
MODELS_DIR = REPO / "models"


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Tokens:
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    admin: str = field(default_factory=lambda: secrets.token_urlsafe(24))


def base_env(tmp: Path, tokens: Tokens, **extra: str) -> dict[str, str]:
    """A hermetic environment: no inherited MER_* settings, HOME and data dirs under ``tmp``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MER_")}
    env.update(
        HOME=str(tmp / "home"),
        MER_TOKEN=tokens.token,
        MER_ADMIN_TOKEN=tokens.admin,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    (tmp / "home").mkdir(parents=True, exist_ok=True)
    return env


@dataclass
class Service:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not healthy after {timeout}s:\n{log.read_text()[-4000:]}")


def stop(proc: subprocess.Popen[bytes], timeout: float = 15) -> int:
    """SIGTERM, wait; SIGKILL only if it does not stop in time. Returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@contextmanager
def service(
    name: str,
    argv: list[str],
    env: Mapping[str, str],
    health_url: str,
    url: str,
    workdir: Path,
    timeout: float = 60,
) -> Iterator[Service]:
    """Run ``argv`` until the block ends; its output goes to ``workdir/NAME.log``."""
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, env=dict(env), cwd=workdir, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            wait_healthy(health_url, proc, log, timeout)
            yield Service(name, url, proc, log)
        finally:
            stop(proc)


def migrate(db_url: str, env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real migrator CLI (``up`` unless told otherwise)."""
    return subprocess.run(
        [str(BIN / "mer-migrate"), "--db", db_url, "--sql-dir", str(SQL_DIR), *(args or ("up",))],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextmanager
def dal_service(tmp: Path, tokens: Tokens, db_url: str | None = None) -> Iterator[Service]:
    """A migrated embedded database under ``tmp`` and a real DAL on a free port."""
    db_url = db_url or f"surrealkv://{tmp / 'db'}"
    env = base_env(tmp, tokens, MER_DB_URL=db_url)
    done = migrate(db_url, env)
    if done.returncode != 0:
        raise RuntimeError(f"mer-migrate failed:\n{done.stdout}\n{done.stderr}")
    port = free_port()
    env.update(MER_DAL_HOST="127.0.0.1", MER_DAL_PORT=str(port))
    url = f"http://127.0.0.1:{port}"
    with service("dal", [str(BIN / "mer-dal")], env, f"{url}/health", url, tmp) as svc:
        yield svc


@contextmanager
def worker_service(tmp: Path, tokens: Tokens, dal_url: str, **extra_env: str) -> Iterator[Service]:
    """A real worker on a free port, reading the registry from ``dal_url``."""
    port = free_port()
    env = base_env(
        tmp,
        tokens,
        MER_DAL_URL=dal_url,
        MER_WORKER_HOST="127.0.0.1",
        MER_WORKER_PORT=str(port),
        MER_CACHE_DIR=str(tmp / "cache"),
        MER_SPOOL_DIR=str(tmp / "spool"),
        **extra_env,
    )
    url = f"http://127.0.0.1:{port}"
    with service("worker", [str(BIN / "mer-meal")], env, f"{url}/v2/health/live", url, tmp) as svc:
        yield svc


@dataclass
class Dal:
    """A running DAL and the tokens that open it, with a client factory for each role."""

    service: Service
    tokens: Tokens

    @property
    def url(self) -> str:
        return self.service.url

    def admin(self) -> DalClient:
        return DalClient(self.url, self.tokens.admin)

    def reader(self) -> DalClient:
        return DalClient(self.url, self.tokens.token)
