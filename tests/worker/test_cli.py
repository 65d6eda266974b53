"""``mer-meal`` refuses to start without its token, saying how to set it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.procs import BIN, Tokens, base_env


def test_no_token_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    env = base_env(tmp_path, Tokens())
    del env["MER_TOKEN"]
    done = subprocess.run(
        [str(BIN / "mer-meal")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "MER_TOKEN is not set" in lines[0]
    assert "Traceback" not in done.stderr


def test_the_token_is_never_an_option(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(BIN / "mer-meal"), "--token", "x"],
        env=base_env(tmp_path, Tokens()),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "unrecognized arguments: --token" in done.stderr
