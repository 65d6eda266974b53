"""What ``mer up``, ``mer down`` and ``mer status`` do, each answering a ``Result``."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mer_core.settings import ReplSettings

from mer_repl.problems import EXIT_UNREACHABLE, CommandFailed, NotConfigured
from mer_repl.result import Result, Table, Text
from mer_repl.stack.launch import healthy, program_path, spawn, stop, wait_healthy
from mer_repl.stack.state import Record, StateDir, alive

HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class StackConfig:
    state_dir: Path
    db_url: str
    dal_port: int
    worker_port: int
    sql_dir: Path | None
    timeout: float = 60.0


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    program: str
    health_path: str


DAL = Service("dal", "mer-dal", "/health")
WORKER = Service("worker", "mer-meal", "/v2/health/ready")
ORDER = (DAL, WORKER)


def up(config: StackConfig, settings: ReplSettings) -> Result:
    state = StateDir(config.state_dir)
    records = {s.name: _running(state, s) for s in ORDER}
    if all(records.values()):
        return _report(state, records, set(), settings)
    if settings.token is None:
        raise NotConfigured(
            "no MER_TOKEN: set it in the environment or in .env (make setup writes one)"
        )
    base = _base_env(settings)
    started: list[Record] = []
    try:
        dal = records["dal"]
        if dal is None:
            _migrate(config, base)
            dal = _start(state, DAL, config.dal_port, config.timeout, _dal_env(base, config))
            started.append(dal)
            records["dal"] = dal
        if records["worker"] is None:
            env = _worker_env(base, config, dal.url)
            worker = _start(state, WORKER, config.worker_port, config.timeout, env)
            started.append(worker)
            records["worker"] = worker
    except BaseException:
        for record in reversed(started):
            stop(record.program, record.pid, 10.0)
            state.remove(record.name)
        raise
    return _report(state, records, {r.name for r in started}, settings)


def down(config: StackConfig, timeout: float = 15.0) -> Result:
    state = StateDir(config.state_dir)
    lines: list[Text] = []
    stopped: dict[str, str] = {}
    for service in reversed(ORDER):
        record = state.read(service.name)
        if record is None:
            continue
        how = stop(record.program, record.pid, timeout)
        state.remove(service.name)
        if how == "was not running":
            how = "was not running (stale pid file removed)"
        stopped[service.name] = how
        lines.append(Text(f"{service.name} (pid {record.pid}) {how}"))
    if not lines:
        lines.append(Text(f"nothing runs from {state.run}"))
    return Result(data={"stopped": stopped}, blocks=tuple(lines))


def status(config: StackConfig) -> Result:
    state = StateDir(config.state_dir)
    rows: list[list[object]] = []
    doc: dict[str, object] = {}
    all_ok = True
    for service in ORDER:
        record = _running(state, service)
        if record is None:
            rows.append([service.name, "-", "not running", "-", "-", "-"])
            doc[service.name] = {"running": False}
            all_ok = False
            continue
        ok = healthy(record.health_url)
        all_ok = all_ok and ok
        health = "healthy" if ok else "UNHEALTHY"
        rows.append([service.name, record.pid, "running", health, record.url, record.log])
        doc[service.name] = {"running": True, "healthy": ok, "pid": record.pid, "url": record.url}
    table = Table(["service", "pid", "state", "health", "url", "log"], rows, "local stack")
    return Result(data=doc, blocks=(table,), exit_code=0 if all_ok else EXIT_UNREACHABLE)


def _running(state: StateDir, service: Service) -> Record | None:
    """The live record of ``service``; a stale pid file (dead or reused pid) is removed."""
    record = state.read(service.name)
    if record is not None and not alive(record.pid, record.program):
        state.remove(service.name)
        return None
    return record


def _start(
    state: StateDir, service: Service, port: int, timeout: float, env: dict[str, str]
) -> Record:
    url = f"http://{HOST}:{port}"
    log = state.log_file(service.name)
    pid = spawn(service.program, env, log)
    record = Record(
        name=service.name,
        program=service.program,
        pid=pid,
        url=url,
        health_url=url + service.health_path,
        log=str(log),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    state.write(record)
    try:
        wait_healthy(service.program, pid, record.health_url, log, timeout)
    except BaseException:
        stop(service.program, pid, 10.0)
        state.remove(service.name)
        raise
    return record


def _migrate(config: StackConfig, env: dict[str, str]) -> None:
    argv = [program_path("mer-migrate"), "--db", config.db_url]
    if config.sql_dir is not None:
        argv += ["--sql-dir", str(config.sql_dir)]
    argv.append("up")
    try:
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=300, check=False
        )
    except subprocess.TimeoutExpired:
        raise CommandFailed("mer-migrate did not finish within 300s") from None
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-20:]
        raise CommandFailed("mer-migrate up failed:\n" + "\n".join(f"  {s}" for s in said))


def _base_env(settings: ReplSettings) -> dict[str, str]:
    """This environment, plus the tokens when they came from ``.env``; never on argv."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    if settings.token is not None:
        env["MER_TOKEN"] = settings.token.get_secret_value()
    if settings.admin_token is not None:
        env["MER_ADMIN_TOKEN"] = settings.admin_token.get_secret_value()
    return env


def _dal_env(base: dict[str, str], config: StackConfig) -> dict[str, str]:
    return {
        **base,
        "MER_DB_URL": config.db_url,
        "MER_DAL_HOST": HOST,
        "MER_DAL_PORT": str(config.dal_port),
    }


def _worker_env(base: dict[str, str], config: StackConfig, dal_url: str) -> dict[str, str]:
    env = {k: v for k, v in base.items() if k != "MER_ADMIN_TOKEN"}  # a worker never writes config
    env.update(MER_DAL_URL=dal_url, MER_WORKER_HOST=HOST, MER_WORKER_PORT=str(config.worker_port))
    env.setdefault("MER_CACHE_DIR", str(config.state_dir / "cache"))
    env.setdefault("MER_SPOOL_DIR", str(config.state_dir / "spool"))
    return env


def _report(
    state: StateDir,
    records: dict[str, Record | None],
    started: set[str],
    settings: ReplSettings,
) -> Result:
    rows: list[list[object]] = []
    doc: dict[str, object] = {}
    for name, record in records.items():
        if record is None:
            continue
        how = "started" if name in started else "already running"
        rows.append([name, record.pid, how, record.url, record.log])
        doc[name] = {"pid": record.pid, "url": record.url, "log": record.log, "state": how}
    blocks: list[Table | Text] = [
        Table(["service", "pid", "state", "url", "log"], rows, f"local stack ({state.root})")
    ]
    for name, variable, configured in (
        ("dal", "MER_DAL_URL", settings.dal_url),
        ("worker", "MER_WORKER_URL", settings.worker_url),
    ):
        record = records.get(name)
        if record is not None and configured.rstrip("/") != record.url:
            blocks.append(Text(f"mer talks to {configured}: set {variable}={record.url}"))
    return Result(data=doc, blocks=tuple(blocks))
