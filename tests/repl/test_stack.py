"""``mer up`` / ``mer status`` / ``mer down`` as real background processes on free ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mer_repl.stack import control
from mer_repl.stack.state import Record, StateDir, alive

from tests.repl.cli import mer
from tests.support.procs import SQL_DIR, Tokens, free_port


def stack_env(tmp: Path, tokens: Tokens) -> dict[str, str]:
    return {
        "MER_TOKEN": tokens.token,
        "MER_ADMIN_TOKEN": tokens.admin,
        "MER_STATE_DIR": str(tmp / "state"),
        "HOME": str(tmp / "home"),
    }


@pytest.mark.slow
def test_up_status_down(tmp_path: Path, tokens: Tokens) -> None:
    env = stack_env(tmp_path, tokens)
    dal_port, worker_port = free_port(), free_port()
    run_dir = tmp_path / "state" / "run"
    up_args = ["--db", f"surrealkv://{tmp_path / 'db'}", "--sql-dir", str(SQL_DIR)]
    ports = ["--dal-port", str(dal_port), "--worker-port", str(worker_port)]
    try:
        up = mer("up", *up_args, *ports, env=env, cwd=tmp_path, timeout=200)
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"http://127.0.0.1:{dal_port}" in up.stdout
        assert f"http://127.0.0.1:{worker_port}" in up.stdout
        assert up.stdout.count("started") == 2
        pids = {name: int((run_dir / f"{name}.pid").read_text()) for name in ("dal", "worker")}
        assert alive(pids["dal"], "mer-dal")
        assert alive(pids["worker"], "mer-meal")
        info = json.loads((run_dir / "worker.json").read_text())
        assert tokens.token not in json.dumps(info)
        assert Path(info["log"]).is_file()
        environ = (Path(f"/proc/{pids['worker']}/environ")).read_bytes()
        assert f"MER_TOKEN={tokens.token}".encode() in environ
        assert b"MER_ADMIN_TOKEN=" not in environ  # a worker never gets the admin token
        cmdline = (Path(f"/proc/{pids['dal']}/cmdline")).read_bytes()
        assert tokens.token.encode() not in cmdline

        status = mer("status", env=env, cwd=tmp_path)
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.count("healthy") == 2

        again = mer("up", *up_args, *ports, env=env, cwd=tmp_path)
        assert again.returncode == 0
        assert again.stdout.count("already running") == 2
        assert str(pids["dal"]) in again.stdout
    finally:
        down = mer("down", env=env, cwd=tmp_path)
    assert down.returncode == 0, down.stdout + down.stderr
    assert f"worker (pid {pids['worker']}) stopped" in down.stdout
    assert f"dal (pid {pids['dal']}) stopped" in down.stdout
    assert down.stdout.index("worker") < down.stdout.index("dal")
    assert not alive(pids["dal"], "mer-dal")
    assert not alive(pids["worker"], "mer-meal")
    assert list(run_dir.iterdir()) == []
    after = mer("status", env=env, cwd=tmp_path)
    assert after.returncode == 3
    assert after.stdout.count("not running") == 2
    assert "nothing runs" in mer("down", env=env, cwd=tmp_path).stdout


def test_failed_migration_fails_fast(tmp_path: Path, tokens: Tokens) -> None:
    env = stack_env(tmp_path, tokens)
    bad = tmp_path / "no-sql"
    done = mer("up", "--db", f"surrealkv://{tmp_path / 'db'}", "--sql-dir", str(bad), env=env)
    assert done.returncode == 1
    assert "mer-migrate up failed" in done.stderr
    assert not (tmp_path / "state" / "run" / "dal.pid").exists()


def test_up_needs_a_token(tmp_path: Path) -> None:
    done = mer("up", env={"MER_STATE_DIR": str(tmp_path / "state")})
    assert done.returncode == 2
    assert "no MER_TOKEN" in done.stderr


def test_stale_pid_files_are_cleaned(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    state.write(
        Record(
            "dal", "mer-dal", dead_pid, "http://127.0.0.1:1", "http://127.0.0.1:1/health", "x", "t"
        )
    )
    # a live pid that runs something else (this test) is stale too: never signal a stranger
    state.write(Record("worker", "mer-meal", os.getpid(), "u", "u", "x", "t"))
    config = control.StackConfig(state.root, "", 0, 0, None)
    result = control.status(config)
    assert result.exit_code == 3
    assert result.data == {"dal": {"running": False}, "worker": {"running": False}}
    assert list(state.run.iterdir()) == []
    state.write(Record("worker", "mer-meal", os.getpid(), "u", "u", "x", "t"))
    stopped = control.down(config, timeout=1)
    assert stopped.data == {"stopped": {"worker": "was not running (stale pid file removed)"}}
