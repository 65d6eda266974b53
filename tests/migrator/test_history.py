"""Checksums, repair, missing files, baseline, status and validate against the recorded history."""

from __future__ import annotations

import json
from pathlib import Path

from mer_migrate.scripts import checksum_of

from tests.migrator.support import FAILS_AT_3, query, run_cli, simple_scripts, write


def states(db_url: str, sql_dir: Path) -> list[str]:
    done = run_cli(db_url, sql_dir, "status", "--output", "json")
    assert done.code == 0, done.stderr
    return [v["state"] for v in json.loads(done.stdout)["versions"]]


def test_a_changed_script_is_refused_until_repair(db_url: str, sql_dir: Path) -> None:
    simple_scripts(sql_dir, 2)
    assert run_cli(db_url, sql_dir, "up").code == 0
    path = sql_dir / "01-Create1.sql"
    old = checksum_of(path.read_text())
    path.write_text(path.read_text() + "-- a deliberate edit\n")
    new = checksum_of(path.read_text())
    write(sql_dir, "02-Later.sql", "DEFINE TABLE later SCHEMALESS;\n")
    for command in ("up", "validate"):
        done = run_cli(db_url, sql_dir, command)
        assert done.code == 2, command
        assert (
            f"01-Create1.sql changed since it was applied: recorded checksum {old}" in done.stderr
        )
        assert f"current {new}" in done.stderr
    assert states(db_url, sql_dir) == ["applied", "changed", "pending"]
    repaired = run_cli(db_url, sql_dir, "repair")
    assert repaired.code == 0
    assert "recorded the current checksum of 01-Create1.sql" in repaired.stdout
    assert run_cli(db_url, sql_dir, "validate").code == 0
    assert run_cli(db_url, sql_dir, "up").code == 0
    assert states(db_url, sql_dir) == ["applied", "applied", "applied"]


def test_repair_removes_failed_attempts(db_url: str, sql_dir: Path) -> None:
    simple_scripts(sql_dir, 1)
    write(sql_dir, "01-FailsAtThree.sql", FAILS_AT_3)
    assert run_cli(db_url, sql_dir, "up").code == 1
    assert run_cli(db_url, sql_dir, "up").code == 1
    validate = run_cli(db_url, sql_dir, "validate")
    assert validate.code == 2
    assert "a failed attempt is recorded, 01-FailsAtThree.sql: statement 3" in validate.stderr
    done = run_cli(db_url, sql_dir, "repair")
    assert done.code == 0
    assert "2 failed attempt(s) removed" in done.stdout
    assert query(db_url, "SELECT VALUE version FROM migration;")[0] == [0]
    assert states(db_url, sql_dir) == ["applied", "pending"]


def test_a_missing_file_is_shown_and_refused_unless_allowed(db_url: str, sql_dir: Path) -> None:
    simple_scripts(sql_dir, 2)
    assert run_cli(db_url, sql_dir, "up").code == 0
    (sql_dir / "01-Create1.sql").unlink()
    assert states(db_url, sql_dir) == ["applied", "missing"]
    done = run_cli(db_url, sql_dir, "up")
    assert done.code == 2
    assert "01-Create1.sql was applied but its file is gone" in done.stderr
    assert run_cli(db_url, sql_dir, "validate").code == 2
    assert run_cli(db_url, sql_dir, "up", "--allow-missing").code == 0


def test_baseline_marks_scripts_applied_without_running_them(db_url: str, sql_dir: Path) -> None:
    simple_scripts(sql_dir, 3)
    done = run_cli(db_url, sql_dir, "baseline", "01")
    assert done.code == 0, done.stderr
    [tables] = query(db_url, "INFO FOR DB;")
    assert "t0" not in tables["tables"]
    assert states(db_url, sql_dir) == ["applied", "applied", "pending"]
    status = run_cli(db_url, sql_dir, "status")
    assert "applied (baseline)" in status.stdout
    up = run_cli(db_url, sql_dir, "up")
    assert up.code == 0
    assert "applied 02-Create2.sql" in up.stdout
    assert "01-Create1" not in up.stdout
    again = run_cli(db_url, sql_dir, "baseline", "00")
    assert again.code == 2
    assert "without a migration history" in again.stderr
    assert run_cli(db_url, sql_dir, "baseline", "09").code == 2


def test_a_pending_script_below_an_applied_one_is_refused(db_url: str, sql_dir: Path) -> None:
    simple_scripts(sql_dir, 3)
    assert run_cli(db_url, sql_dir, "up").code == 0
    query(db_url, "DELETE migration:1;")
    done = run_cli(db_url, sql_dir, "up")
    assert done.code == 2
    assert "01-Create1.sql is not applied but 02 is" in done.stderr


def test_status_table_and_json(db_url: str, sql_dir: Path) -> None:
    simple_scripts(sql_dir, 2)
    assert run_cli(db_url, sql_dir, "up", "--target", "00").code == 0
    table = run_cli(db_url, sql_dir, "status")
    assert table.code == 0
    assert "version" in table.stdout
    assert "applied at" in table.stdout
    lines = [line for line in table.stdout.splitlines() if "Create" in line]
    assert "applied" in lines[0]
    assert "pending" in lines[1]
    data = json.loads(run_cli(db_url, sql_dir, "status", "--output", "json").stdout)
    assert data["counts"]["applied"] == 1
    assert data["counts"]["pending"] == 1
    first, second = data["versions"]
    assert first["script"] == "00-Create0.sql"
    assert first["checksum"] == first["recorded_checksum"]
    assert first["applied_at"] is not None
    assert first["duration_ms"] > 0
    assert second == {
        "version": 1,
        "name": "Create1",
        "script": "01-Create1.sql",
        "state": "pending",
        "applied_at": None,
        "duration_ms": None,
        "checksum": checksum_of((sql_dir / "01-Create1.sql").read_text()),
        "recorded_checksum": None,
        "kind": None,
        "by": None,
        "error": None,
    }


def test_status_of_a_fresh_database_creates_nothing(db_url: str, sql_dir: Path) -> None:
    simple_scripts(sql_dir, 1)
    assert states(db_url, sql_dir) == ["pending"]
    [info] = query(db_url, "INFO FOR DB;")
    assert info["tables"] == {}


def test_new_writes_the_next_script(db_url: str, sql_dir: Path) -> None:
    simple_scripts(sql_dir, 2)
    done = run_cli(db_url, sql_dir, "new", "AddOwner")
    assert done.code == 0
    assert (sql_dir / "02-AddOwner.sql").exists()
    bad = run_cli(db_url, sql_dir, "new", "add_owner")
    assert bad.code == 2
    assert "CamelCase" in bad.stderr
