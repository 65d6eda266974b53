"""Script discovery and naming rules, on real files in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from mer_migrate.errors import UsageError, ValidationError
from mer_migrate.scripts import checksum_of, discover, new_script

from tests.migrator.support import write


def test_scripts_are_found_in_order_with_checksums(sql_dir: Path) -> None:
    write(sql_dir, "01-Second.sql", "CREATE a:2;\n")
    write(sql_dir, "00-First.sql", "CREATE a:1;\n")
    found = discover(sql_dir)
    assert [(s.version, s.name) for s in found.scripts] == [(0, "First"), (1, "Second")]
    assert found.scripts[0].checksum == checksum_of("CREATE a:1;\n")
    assert found.warnings == ()


def test_numbers_go_on_past_99(sql_dir: Path) -> None:
    for v in range(101):
        write(sql_dir, f"{v:02d}-Step{v}.sql")
    assert discover(sql_dir).scripts[-1].filename == "100-Step100.sql"


def test_a_non_sql_file_is_skipped_with_a_warning(sql_dir: Path) -> None:
    write(sql_dir, "00-First.sql")
    write(sql_dir, "notes.txt", "not a script")
    found = discover(sql_dir)
    assert [s.filename for s in found.scripts] == ["00-First.sql"]
    assert found.warnings == ("notes.txt: not a .sql file, not executed",)


@pytest.mark.parametrize(
    "bad",
    [
        "1-Short.sql",
        "00_Underscore.sql",
        "00-lowerCase.sql",
        "001-Padded.sql",
        "00-.sql",
        "00-A.SQL",
    ],
)
def test_a_sql_file_with_a_bad_name_is_refused_by_name(sql_dir: Path, bad: str) -> None:
    write(sql_dir, "00-First.sql")
    write(sql_dir, bad)
    with pytest.raises(ValidationError) as caught:
        discover(sql_dir)
    assert any(bad in p and "NN-NameOfTheScript.sql" in p for p in caught.value.problems)


def test_a_gap_is_refused_naming_its_neighbours(sql_dir: Path) -> None:
    for name in ("00-A.sql", "01-B.sql", "03-D.sql"):
        write(sql_dir, name)
    with pytest.raises(ValidationError) as caught:
        discover(sql_dir)
    assert caught.value.problems == ["no script numbered 02 (gap between 01-B.sql and 03-D.sql)"]


def test_numbering_must_start_at_00(sql_dir: Path) -> None:
    write(sql_dir, "01-B.sql")
    with pytest.raises(ValidationError, match="cannot run") as caught:
        discover(sql_dir)
    assert "no script numbered 00" in caught.value.problems[0]


def test_two_files_with_one_number_are_refused_naming_both(sql_dir: Path) -> None:
    for name in ("00-A.sql", "01-B.sql", "01-OtherB.sql"):
        write(sql_dir, name)
    with pytest.raises(ValidationError) as caught:
        discover(sql_dir)
    assert caught.value.problems == ["01-B.sql, 01-OtherB.sql: two files with number 01"]


def test_a_missing_sql_dir_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        discover(tmp_path / "nope")


def test_checksums_ignore_line_endings() -> None:
    assert checksum_of("A;\r\nB;\r\n") == checksum_of("A;\nB;\n")
    assert checksum_of("A;\n") != checksum_of("A; \n")


@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        ("BEGIN", "BEGIN TRANSACTION;\nCREATE a:1;\nCOMMIT TRANSACTION;\n"),
        ("RETURN", "CREATE a:1;\nRETURN 1;\n"),
        ("USE", "USE NS other DB other;\n"),
    ],
)
def test_scripts_that_would_break_the_transaction_are_refused(
    sql_dir: Path, keyword: str, text: str
) -> None:
    write(sql_dir, "00-Tx.sql", text)
    [script] = discover(sql_dir).scripts
    with pytest.raises(ValidationError, match=r"00-Tx\.sql cannot run as one migration") as caught:
        script.statements()
    assert keyword in caught.value.problems[0]


def test_new_writes_the_next_numbered_file(sql_dir: Path) -> None:
    assert new_script(sql_dir, "CreateThings").name == "00-CreateThings.sql"
    path = new_script(sql_dir, "AddOwner")
    assert path.name == "01-AddOwner.sql"
    assert path.read_text().startswith("-- 01-AddOwner:")
    assert [s.filename for s in discover(sql_dir).scripts] == [
        "00-CreateThings.sql",
        "01-AddOwner.sql",
    ]


@pytest.mark.parametrize("name", ["add_owner", "addOwner", "Add-Owner", "", "Add Owner"])
def test_new_refuses_a_name_that_is_not_camel_case(sql_dir: Path, name: str) -> None:
    with pytest.raises(UsageError, match="CamelCase"):
        new_script(sql_dir, name)
    assert list(sql_dir.iterdir()) == []
