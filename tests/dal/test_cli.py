"""``mer-dal`` refuses to start, with one clear line and exit status 2, when it cannot serve."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mer_core.dblock import hold_embedded_db

from tests.support.procs import BIN, Tokens, base_env, free_port


def _run_dal(tmp: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**env, "MER_DAL_PORT": str(free_port())}
    return subprocess.run(
        [str(BIN / "mer-dal")],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_refuses_without_tokens(tmp_path: Path) -> None:
    env = base_env(tmp_path, Tokens(), MER_DB_URL=f"surrealkv://{tmp_path / 'db'}")
    del env["MER_ADMIN_TOKEN"]
    done = _run_dal(tmp_path, env)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "mer-dal: MER_ADMIN_TOKEN not set: export it or put it in .env "
        "(`make setup` writes a .env with fresh random tokens)"
    ]
    assert not (tmp_path / "db").exists()


def test_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    env = base_env(tmp_path, Tokens(), MER_DB_URL=f"surrealkv://{tmp_path / 'db'}")
    done = _run_dal(tmp_path, env)
    assert done.returncode == 2, done.stderr
    assert "run mer-migrate up first" in done.stderr
    assert "Traceback" not in done.stderr


def test_refuses_a_database_in_use(tmp_path: Path) -> None:
    url = f"surrealkv://{tmp_path / 'db'}"
    tokens = Tokens()
    env = base_env(tmp_path, tokens, MER_DB_URL=url)
    with hold_embedded_db(url, role="mer-migrate"):
        done = _run_dal(tmp_path, env)
    assert done.returncode == 2, done.stderr
    assert "is in use by another process (mer-migrate pid" in done.stderr
    assert "Traceback" not in done.stderr
    assert tokens.token not in done.stderr + done.stdout
