"""``up``: atomic scripts, clear failures, target, dry run, on a real embedded SurrealDB."""

from __future__ import annotations

import json
from pathlib import Path

from tests.migrator.support import FAILS_AT_3, query, run_cli, simple_scripts, write


def history(db_url: str) -> list[dict[str, object]]:
    [rows] = query(db_url, "SELECT * FROM migration ORDER BY version, applied_at;")
    return list(rows)


def test_up_applies_every_script_once_and_records_it(db_url: str, sql_dir: Path) -> None:
    simple_scripts(sql_dir, 3)
    first = run_cli(db_url, sql_dir, "up")
    assert first.code == 0, first.stderr
    assert [line.split(" in ")[0] for line in first.stdout.splitlines()[:3]] == [
        "applied 00-Create0.sql",
        "applied 01-Create1.sql",
        "applied 02-Create2.sql",
    ]
    rows = history(db_url)
    assert [(r["version"], r["name"], r["success"], r["kind"]) for r in rows] == [
        (0, "Create0", True, "script"),
        (1, "Create1", True, "script"),
        (2, "Create2", True, "script"),
    ]
    assert all(len(str(r["checksum"])) == 64 and r["host"] and r["user"] for r in rows)
    assert all(float(str(r["duration_ms"])) > 0 for r in rows)
    second = run_cli(db_url, sql_dir, "up")
    assert second.code == 0
    assert "nothing to apply" in second.stdout
    assert len(history(db_url)) == 3
    assert query(db_url, "SELECT * FROM t2;")[0] == [{"id": query(db_url, "RETURN t2:1;")[0]}]


def test_a_failing_statement_leaves_nothing_behind(db_url: str, sql_dir: Path) -> None:
    write(sql_dir, "00-Good.sql", "DEFINE TABLE good SCHEMALESS;\nCREATE good:1;\n")
    write(sql_dir, "01-FailsAtThree.sql", FAILS_AT_3)
    done = run_cli(db_url, sql_dir, "up")
    assert done.code == 1
    assert (
        "01-FailsAtThree.sql: statement 3 failed (CREATE t:1 SET a = 'not a number')" in done.stderr
    )
    assert "expected a int" in done.stderr
    assert "not executed due to a failed transaction" not in done.stderr
    # Statements 1 and 2 (a table and its field) are undone; 00 stays applied.
    [info] = query(db_url, "INFO FOR DB;")
    assert set(info["tables"]) == {"good", "migration"}
    rows = history(db_url)
    assert [(r["version"], r["success"]) for r in rows] == [(0, True), (1, False)]
    assert "statement 3" in str(rows[1]["error"])
    status = json.loads(run_cli(db_url, sql_dir, "status", "--output", "json").stdout)
    assert [v["state"] for v in status["versions"]] == ["applied", "failed"]


def test_a_failed_script_can_be_fixed_and_applied(db_url: str, sql_dir: Path) -> None:
    path = write(sql_dir, "00-FailsAtThree.sql", FAILS_AT_3)
    assert run_cli(db_url, sql_dir, "up").code == 1
    path.write_text(FAILS_AT_3.replace("'not a number'", "1"))
    done = run_cli(db_url, sql_dir, "up")
    assert done.code == 0, done.stderr
    assert query(db_url, "SELECT VALUE a FROM t ORDER BY a;")[0] == [1, 2, 3]
    status = json.loads(run_cli(db_url, sql_dir, "status", "-o", "json").stdout)
    assert status["versions"][0]["state"] == "applied"


def test_a_parse_error_names_the_statement_and_line(db_url: str, sql_dir: Path) -> None:
    write(sql_dir, "00-Typo.sql", "DEFINE TABLE a SCHEMALESS;\n\nSELEC * FROM a;\nCREATE a:1;\n")
    done = run_cli(db_url, sql_dir, "up")
    assert done.code == 1
    assert "00-Typo.sql: statement 2 failed (SELEC * FROM a)" in done.stderr
    assert "(line 3)" in done.stderr
    [info] = query(db_url, "INFO FOR DB;")
    assert "a" not in info["tables"]


def test_a_script_with_begin_commit_is_refused_before_anything_runs(
    db_url: str, sql_dir: Path
) -> None:
    simple_scripts(sql_dir, 1)
    write(sql_dir, "01-OwnTx.sql", "BEGIN TRANSACTION;\nCREATE b:1;\nCOMMIT TRANSACTION;\n")
    done = run_cli(db_url, sql_dir, "up")
    assert done.code == 2
    assert "01-OwnTx.sql cannot run as one migration" in done.stderr
    assert "remove BEGIN/COMMIT" in done.stderr
    assert query(db_url, "SELECT * FROM migration;")[0] == []


def test_target_stops_at_the_given_script(db_url: str, sql_dir: Path) -> None:
    simple_scripts(sql_dir, 4)
    done = run_cli(db_url, sql_dir, "up", "--target", "01")
    assert done.code == 0, done.stderr
    assert [r["version"] for r in history(db_url)] == [0, 1]
    assert run_cli(db_url, sql_dir, "up", "--target", "7").code == 2
    assert run_cli(db_url, sql_dir, "up", "--target", "x1").code == 2
    assert run_cli(db_url, sql_dir, "up").code == 0
    assert [r["version"] for r in history(db_url)] == [0, 1, 2, 3]


def test_dry_run_changes_nothing_and_prints_the_plan(db_url: str, sql_dir: Path) -> None:
    simple_scripts(sql_dir, 2)
    assert run_cli(db_url, sql_dir, "up", "--target", "00").code == 0
    done = run_cli(db_url, sql_dir, "up", "--dry-run")
    assert done.code == 0
    assert done.stdout.splitlines() == ["would apply 01-Create1.sql"]
    assert [r["version"] for r in history(db_url)] == [0]
    [info] = query(db_url, "INFO FOR DB;")
    assert "t1" not in info["tables"]


def test_a_non_sql_file_is_warned_about_and_skipped(db_url: str, sql_dir: Path) -> None:
    simple_scripts(sql_dir, 1)
    write(sql_dir, "README.md", "CREATE nope:1;")
    done = run_cli(db_url, sql_dir, "up")
    assert done.code == 0
    assert "warning: README.md: not a .sql file, not executed" in done.stderr
    assert query(db_url, "SELECT * FROM nope;")[0] == []


def test_bad_names_gaps_and_duplicates_refuse_to_run(db_url: str, sql_dir: Path) -> None:
    simple_scripts(sql_dir, 2)
    write(sql_dir, "01-Again.sql")
    write(sql_dir, "03-After.sql")
    write(sql_dir, "4-Bad.sql")
    done = run_cli(db_url, sql_dir, "up")
    assert done.code == 2
    for text in ("4-Bad.sql: name breaks", "01-Again.sql, 01-Create1.sql", "no script numbered 02"):
        assert text in done.stderr
    assert not (Path(db_url.removeprefix("surrealkv://")) / "clog").exists()
