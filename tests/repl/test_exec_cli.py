"""``mer exec``: exit codes and output channels, with no service running.

One test runs the installed ``mer`` script; the rest call the same typer app in-process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mer_repl.main import app
from typer.testing import CliRunner

from tests.repl.cli import mer

DOWN = {"MER_DAL_URL": "http://127.0.0.1:9", "MER_WORKER_URL": "http://127.0.0.1:9"}


def invoke(*args: str, **env: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.stdout, result.stderr


def test_installed_script_exits_3_with_one_json_document() -> None:
    done = mer("exec", "--output", "json", "models", env={**DOWN, "MER_TOKEN": "t"})
    assert done.returncode == 3
    doc = json.loads(done.stdout)
    assert doc["kind"] == "unavailable"
    assert doc["exit_code"] == 3
    assert "cannot reach the DAL at http://127.0.0.1:9" in doc["error"]
    assert "cannot reach the DAL" in done.stderr
    assert "Traceback" not in done.stderr


def test_usage_error_exits_2_on_stderr() -> None:
    code, out, err = invoke("exec", "modles", MER_TOKEN="t")
    assert code == 2
    assert out == ""
    assert "unknown command 'modles' — did you mean 'models'? type help" in err


def test_change_without_flag_is_refused() -> None:
    code, _, err = invoke("exec", "weights default digits v2", MER_ADMIN_TOKEN="a")
    assert code == 2
    assert "start mer with --allow-config-changes" in err


def test_admin_token_comes_from_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    line = ["exec", "--allow-config-changes", "weights default digits v2"]
    code, _, err = invoke(*line, **DOWN)
    assert code == 2
    assert "MER_ADMIN_TOKEN" in err
    (tmp_path / ".env").write_text("MER_ADMIN_TOKEN=from-dotenv\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke(*line, **DOWN)
    assert code == 3, err  # got past the token check, to the network


def test_words_after_exec_are_one_command() -> None:
    code, out, err = invoke("exec", "-o", "json", "help", "model", "import")
    assert code == 0, err
    assert json.loads(out)["syntax"] == "model import NAME FILE [--description TEXT] [--replace]"


def test_bad_output_format_is_a_usage_error() -> None:
    code, _, err = invoke("exec", "--output", "yaml", "models")
    assert code == 2
    assert "yaml" in err


@pytest.mark.parametrize("limit", ["99999999", "0", "-1", "abc"])
def test_logs_limit_is_checked_here(limit: str) -> None:
    code, _, err = invoke("exec", "logs", "--limit", limit, MER_TOKEN="t", **DOWN)
    assert code == 2, err
    assert f"logs: bad --limit N '{limit}'" in err
    assert "1..10000" in err


def test_export_into_a_missing_folder_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "dir" / "x.st"
    code, _, err = invoke("exec", f"weights export digits v1 {target}", MER_TOKEN="t", **DOWN)
    assert code == 2, err
    assert f"folder {target.parent} does not exist" in err
    assert not (tmp_path / "nowhere").exists()


def test_export_onto_a_directory_is_refused(tmp_path: Path) -> None:
    line = f"weights export digits v1 {tmp_path} --force"
    code, _, err = invoke("exec", line, MER_TOKEN="t", **DOWN)
    assert code == 2, err
    assert f"{tmp_path} is a directory" in err
    assert ".part" not in err
