"""Exit codes and messages for user errors: never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.migrator.support import run_cli, run_process, simple_scripts
from tests.support.procs import free_port


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:8000", "use ws://HOST:PORT"),
        ("postgres://x", "is not one of surrealkv://DIR, mem:// or ws://HOST:PORT"),
        ("surrealkv://", "names no directory"),
    ],
)
def test_a_bad_url_is_a_usage_error(sql_dir: Path, url: str, message: str) -> None:
    simple_scripts(sql_dir, 1)
    done = run_cli(url, sql_dir, "up")
    assert done.code == 2
    assert message in done.stderr


def test_an_unreachable_server_exits_3_naming_the_url(sql_dir: Path) -> None:
    simple_scripts(sql_dir, 1)
    url = f"ws://127.0.0.1:{free_port()}"
    done = run_process(url, sql_dir, "up")
    assert done.code == 3
    assert f"cannot reach the database at {url}" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_sql_dir_exits_2(db_url: str, tmp_path: Path) -> None:
    done = run_cli(db_url, tmp_path / "nowhere", "status")
    assert done.code == 2
    assert "nowhere does not exist" in done.stderr


def test_usage_errors_exit_2(db_url: str, sql_dir: Path) -> None:
    assert run_cli(db_url, sql_dir, "bogus").code == 2
    assert run_cli(db_url, sql_dir, "status", "--output", "yaml").code == 2
    assert run_cli(db_url, sql_dir, "--lock-timeout", "-1", "up").code == 2


def test_defaults_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, db_url: str, sql_dir: Path
) -> None:
    from mer_migrate.cli import app
    from typer.testing import CliRunner

    simple_scripts(sql_dir, 1)
    monkeypatch.setenv("MER_DB_URL", db_url)
    monkeypatch.setenv("MER_SQL_DIR", str(sql_dir))
    done = CliRunner().invoke(app, ["up"])
    assert done.exit_code == 0, done.stderr
    assert "applied 00-Create0.sql" in done.stdout
    monkeypatch.setenv("MER_LOCK_TIMEOUT_S", "soon")
    bad = CliRunner().invoke(app, ["status"])
    assert bad.exit_code == 2
    assert "MER_LOCK_TIMEOUT_S" in bad.stderr
