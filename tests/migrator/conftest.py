from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def sql_dir(tmp_path: Path) -> Path:
    path = tmp_path / "sql"
    path.mkdir()
    return path


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"surrealkv://{tmp_path / 'db'}"
