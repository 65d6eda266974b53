"""One migrator at a time: real processes racing, a DAL holding the database, crashed holders,
and the record lock used on SurrealDB servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mer_core.dblock import DatabaseInUse, EmbeddedDbLock, hold_embedded_db
from mer_core.settings import MigratorSettings
from mer_migrate.db import Database, open_database
from mer_migrate.errors import DatabaseUnavailable
from mer_migrate.lock import MigrationLock

from tests.migrator.support import holding, query, run_cli, simple_scripts, start_process, write


def test_two_migrators_racing_apply_each_script_once(db_url: str, sql_dir: Path) -> None:
    write(sql_dir, "00-Slow.sql", "DEFINE TABLE slow SCHEMALESS;\nSLEEP 1s;\nCREATE slow:1;\n")
    write(sql_dir, "01-After.sql", "CREATE slow:2;\n")
    procs = [start_process(db_url, sql_dir, "up") for _ in range(2)]
    outputs = [p.communicate(timeout=90) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    applied = [out for out, _ in outputs if "applied 00-Slow.sql" in out]
    assert len(applied) == 1
    assert "applied 01-After.sql" in applied[0]
    assert sum("nothing to apply" in out for out, _ in outputs) == 1
    assert query(db_url, "SELECT VALUE version FROM migration ORDER BY version;")[0] == [0, 1]


def test_a_second_migrator_waits_then_says_who_holds_the_lock(
    db_url: str, sql_dir: Path, tmp_path: Path
) -> None:
    simple_scripts(sql_dir, 1)
    with holding(db_url, "mer-migrate", tmp_path / "ready") as holder:
        started = time.monotonic()
        done = run_cli(db_url, sql_dir, "--lock-timeout", "0.5", "up")
        waited = time.monotonic() - started
    assert done.code == 3
    assert f"database is locked by {socket.gethostname()} pid {holder.pid} since " in done.stderr
    assert waited >= 0.5
    assert run_cli(db_url, sql_dir, "up").code == 0


def test_a_running_dal_gets_a_clear_in_use_error_at_once(
    db_url: str, sql_dir: Path, tmp_path: Path
) -> None:
    simple_scripts(sql_dir, 1)
    with holding(db_url, "mer-dal", tmp_path / "ready") as holder:
        started = time.monotonic()
        done = run_cli(db_url, sql_dir, "--lock-timeout", "30", "up")
        status = run_cli(db_url, sql_dir, "status")
        elapsed = time.monotonic() - started
    db_dir = db_url.removeprefix("surrealkv://")
    for result in (done, status):
        assert result.code == 3
        assert f"database {db_dir} is in use by another process (mer-dal pid {holder.pid}" in (
            result.stderr
        )
        assert "stop it first or point MER_DB_URL / --db at the DAL's SurrealDB server" in (
            result.stderr
        )
    assert elapsed < 10
    assert "Traceback" not in done.stderr


def test_a_crashed_holder_leaves_no_lock_behind(db_url: str, sql_dir: Path, tmp_path: Path) -> None:
    simple_scripts(sql_dir, 1)
    with holding(db_url, "mer-migrate", tmp_path / "ready") as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    done = run_cli(db_url, sql_dir, "--lock-timeout", "0", "up")
    assert done.code == 0, done.stderr


def test_the_dal_cannot_take_a_database_the_migrator_holds(tmp_path: Path) -> None:
    db_dir = tmp_path / "db"
    migrator = EmbeddedDbLock(db_dir, "mer-migrate")
    assert migrator.try_acquire()
    try:
        with (
            pytest.raises(DatabaseInUse, match=f"mer-migrate pid {os.getpid()}") as caught,
            hold_embedded_db(f"surrealkv://{db_dir}", role="mer-dal", timeout_s=0.2),
        ):
            pass
        assert caught.value.holder is not None
        assert caught.value.holder.role == "mer-migrate"
    finally:
        migrator.release()
    with hold_embedded_db(f"surrealkv://{db_dir}", role="mer-dal") as held:
        assert held == db_dir
    with hold_embedded_db("mem://", role="mer-dal") as nothing:
        assert nothing is None


# The record lock of SurrealDB servers, on an in-memory database.


@pytest.fixture
async def memdb() -> AsyncIterator[Database]:
    async with open_database(MigratorSettings(db_url="mem://"), lock_timeout_s=0) as db:
        yield db


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


async def test_the_record_lock_excludes_a_second_migrator(memdb: Database) -> None:
    first = MigrationLock(memdb, ttl_s=60, timeout_s=0)
    await first.acquire()
    second = MigrationLock(memdb, ttl_s=60, timeout_s=0.3)
    second.host = "other-host"
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable, match=f"locked by {first.host} pid {first.pid} since"):
        await second.acquire()
    assert time.monotonic() - started >= 0.3
    await first.release()
    await second.acquire()
    holder = await second.holder()
    assert holder is not None
    assert holder["token"] == second.token


async def test_a_lock_of_a_dead_process_on_this_host_is_taken_over(memdb: Database) -> None:
    crashed = MigrationLock(memdb, ttl_s=600, timeout_s=0)
    crashed.pid = dead_pid()
    await crashed.acquire()
    mine = MigrationLock(memdb, ttl_s=600, timeout_s=0)
    await mine.acquire()
    holder = await mine.holder()
    assert holder is not None
    assert holder["pid"] == os.getpid()


async def test_an_expired_lock_of_another_host_is_taken_over(memdb: Database) -> None:
    elsewhere = MigrationLock(memdb, ttl_s=0.2, timeout_s=0)
    elsewhere.host = "other-host"
    await elsewhere.acquire()
    mine = MigrationLock(memdb, ttl_s=600, timeout_s=2)
    await mine.acquire()
    holder = await mine.holder()
    assert holder is not None
    assert holder["token"] == mine.token


async def test_refresh_extends_the_lock(memdb: Database) -> None:
    lock = MigrationLock(memdb, ttl_s=600, timeout_s=0)
    await lock.acquire()
    before = await lock.holder()
    assert before is not None
    lock.ttl_s = 3600
    await lock.refresh()
    after = await lock.holder()
    assert after is not None
    assert after["expires_at"] > before["expires_at"]
    assert after["expires_at"] > datetime.now(UTC) + timedelta(minutes=59)
