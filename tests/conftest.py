"""Hermetic tests: every service, database, history and config lives under a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.procs import Tokens


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No MER_* setting leaks in from the developer's shell or a .env in the repo."""
    import os

    for key in list(os.environ):
        if key.startswith("MER_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir(exist_ok=True)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def tokens() -> Tokens:
    return Tokens()
