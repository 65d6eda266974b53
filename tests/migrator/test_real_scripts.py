"""The scripts that ship with MER apply cleanly, through the real command, as the tests' helpers
and ``mer up`` run it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.migrator.support import query
from tests.support.procs import SQL_DIR, Tokens, base_env, migrate


def test_the_shipped_scripts_apply_and_status_shows_all_applied(tmp_path: Path) -> None:
    db_url = f"surrealkv://{tmp_path / 'db'}"
    env = base_env(tmp_path, Tokens())
    done = migrate(db_url, env)
    assert done.returncode == 0, done.stderr
    scripts = sorted(p.name for p in SQL_DIR.glob("*.sql"))
    assert [line.split(" in ")[0] for line in done.stdout.splitlines()[: len(scripts)]] == [
        f"applied {name}" for name in scripts
    ]
    again = migrate(db_url, env)
    assert again.returncode == 0
    assert "nothing to apply" in again.stdout
    status = migrate(db_url, env, "status", "--output", "json")
    assert status.returncode == 0, status.stderr
    versions = json.loads(status.stdout)["versions"]
    assert [v["script"] for v in versions] == scripts
    assert {v["state"] for v in versions} == {"applied"}
    assert migrate(db_url, env, "validate").returncode == 0
    [servers, models] = query(
        db_url, "SELECT VALUE name FROM server; SELECT VALUE name FROM model;"
    )
    assert servers == ["local"]
    assert sorted(models) == ["digits", "iris"]
