"""``mer exec`` exit codes and output channels, with no service running."""

from __future__ import annotations

import json
from pathlib import Path

from tests.repl.cli import mer

DOWN = {"MER_DAL_URL": "http://127.0.0.1:9", "MER_WORKER_URL": "http://127.0.0.1:9"}


def test_usage_error_exits_2_on_stderr() -> None:
    done = mer("exec", "modles", env={"MER_TOKEN": "t"})
    assert done.returncode == 2
    assert done.stdout == ""
    assert "unknown command 'modles' — did you mean 'models'? type help" in done.stderr
    assert "Traceback" not in done.stderr


def test_unreachable_dal_exits_3_with_one_json_document() -> None:
    done = mer("exec", "--output", "json", "models", env={**DOWN, "MER_TOKEN": "t"})
    assert done.returncode == 3
    doc = json.loads(done.stdout)
    assert doc["kind"] == "unavailable"
    assert doc["exit_code"] == 3
    assert "cannot reach the DAL at http://127.0.0.1:9" in doc["error"]
    assert "cannot reach the DAL" in done.stderr


def test_change_without_flag_is_refused() -> None:
    done = mer("exec", "weights default digits v2", env={"MER_ADMIN_TOKEN": "a"})
    assert done.returncode == 2
    assert "start mer with --allow-config-changes" in done.stderr


def test_admin_token_comes_from_dotenv(tmp_path: Path) -> None:
    cwd = tmp_path / "project"
    cwd.mkdir()
    (cwd / ".env").write_text("MER_ADMIN_TOKEN=from-dotenv\n")
    env = {**DOWN}
    done = mer("exec", "--allow-config-changes", "weights default digits v2", env=env, cwd=cwd)
    assert done.returncode == 3, done.stderr  # got past the token check, to the network
    bare = mer("exec", "--allow-config-changes", "weights default digits v2", env=env)
    assert bare.returncode == 2
    assert "MER_ADMIN_TOKEN" in bare.stderr


def test_words_after_exec_are_one_command() -> None:
    done = mer("exec", "-o", "json", "help", "model", "import")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["syntax"] == (
        "model import NAME FILE [--description TEXT] [--replace]"
    )
