"""Helpers of the migrator tests: script folders, the CLI in-process, a database peek."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mer_migrate.cli import app
from surrealdb import AsyncSurreal
from typer.testing import CliRunner

from tests.support.procs import BIN

HOLDER = Path(__file__).with_name("holder.py")

# Five statements; the third fails (a string for an int field).
FAILS_AT_3 = """-- five statements, the third one fails
DEFINE TABLE t SCHEMAFULL;
DEFINE FIELD a ON t TYPE int;
CREATE t:1 SET a = 'not a number';
CREATE t:2 SET a = 2;
CREATE t:3 SET a = 3;
"""


def write(
    sql_dir: Path, name: str, text: str = "DEFINE TABLE IF NOT EXISTS x SCHEMALESS;\n"
) -> Path:
    sql_dir.mkdir(parents=True, exist_ok=True)
    path = sql_dir / name
    path.write_text(text, encoding="utf-8")
    return path


def simple_scripts(sql_dir: Path, count: int) -> None:
    """``count`` scripts, each creating its own table ``tNN`` with one record."""
    for v in range(count):
        write(sql_dir, f"{v:02d}-Create{v}.sql", f"DEFINE TABLE t{v} SCHEMALESS;\nCREATE t{v}:1;\n")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run_cli(db_url: str, sql_dir: Path, *args: str) -> Result:
    """The CLI in this process (fast): ``mer-migrate --db URL --sql-dir DIR ARGS``."""
    result = CliRunner().invoke(app, ["--db", db_url, "--sql-dir", str(sql_dir), *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, result.stdout, result.stderr)


def run_process(db_url: str, sql_dir: Path, *args: str, timeout: float = 60) -> Result:
    """The real ``mer-migrate`` command in its own process."""
    done = subprocess.run(
        [str(BIN / "mer-migrate"), "--db", db_url, "--sql-dir", str(sql_dir), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def start_process(db_url: str, sql_dir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "mer-migrate"), "--db", db_url, "--sql-dir", str(sql_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextmanager
def holding(
    db_url: str, role: str, ready: Path, seconds: float = 60
) -> Iterator[subprocess.Popen[str]]:
    """A process that locks and opens the embedded database like a DAL would; once ``ready``
    exists it holds them. Killed (if still running) and reaped when the block ends."""
    proc = subprocess.Popen(
        [sys.executable, str(HOLDER), db_url, role, str(ready), str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            if proc.poll() is not None:
                raise RuntimeError(f"holder exited: {proc.communicate()[0]}")
            if time.monotonic() > deadline:
                raise RuntimeError("holder never took the lock")
            time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def query(db_url: str, sql: str, variables: dict[str, Any] | None = None) -> list[Any]:
    """Open the database in this process, run ``sql``, return every statement's result."""

    async def go() -> list[Any]:
        db: Any = AsyncSurreal(db_url)
        await db.connect()
        try:
            await db.use("mer", "mer")
            answer = await db.query_raw(sql, variables or {})
        finally:
            await db.close()
        entries = answer["result"]
        assert all(e["status"] == "OK" for e in entries), entries
        return [e["result"] for e in entries]

    return asyncio.run(go())
