from __future__ import annotations

import stat
from pathlib import Path

from mer_repl.history import PrivateFileHistory, looks_secret


def test_history_is_private_and_skips_secrets(tmp_path: Path) -> None:
    path = tmp_path / "state" / "history"
    history = PrivateFileHistory(path)
    history.append_string("models")
    history.append_string("run iris [[1, 2, 3, 4]] --note MER_ADMIN_TOKEN=abc")
    history.append_string("logs --limit 5")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "models" in text
    assert "logs --limit 5" in text
    assert "abc" not in text
    assert list(PrivateFileHistory(path).load_history_strings()) == ["logs --limit 5", "models"]


def test_secret_patterns() -> None:
    assert looks_secret("export MER_TOKEN=x")
    assert looks_secret("password=hunter2")
    assert not looks_secret("weights add digits v1 models/digits-v1.safetensors")
