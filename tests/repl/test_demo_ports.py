"""scripts/demo.py's ports: its own variables, and a hint when `mer up` finds one taken."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.procs import free_port

DEMO = Path(__file__).resolve().parents[2] / "scripts" / "demo.py"


def load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mer_demo_script", DEMO)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_ports_ignore_make_up_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    demo = load_demo()
    monkeypatch.setenv("MER_DAL_PORT", "8700")
    assert demo.demo_env()["MER_DAL_URL"] == "http://127.0.0.1:8710"
    monkeypatch.setenv("MER_DEMO_DAL_PORT", "9100")
    monkeypatch.setenv("MER_DEMO_WORKER_PORT", "9101")
    env = demo.demo_env()
    assert (env["MER_DAL_PORT"], env["MER_WORKER_PORT"]) == ("9100", "9101")
    assert env["MER_WORKER_URL"] == "http://127.0.0.1:9101"


def test_taken_port_gives_a_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    demo = load_demo()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("MER_DEMO_DAL_PORT", str(port))
        monkeypatch.setenv("MER_DEMO_WORKER_PORT", str(free_port()))
        env = demo.demo_env()
        env.update(
            MER_STATE_DIR=str(tmp_path / "state"),
            MER_DB_URL=f"surrealkv://{tmp_path / 'db'}",
            MER_CACHE_DIR=str(tmp_path / "cache"),
            MER_SPOOL_DIR=str(tmp_path / "spool"),
        )
        try:
            with pytest.raises(demo.DemoFailed) as caught:
                demo.start(env)
        finally:
            demo.subprocess.run([demo.MER, "down"], env=env, check=False, capture_output=True)
    assert "already in use" in str(caught.value).lower()
    assert str(caught.value).endswith(
        "hint: set MER_DEMO_DAL_PORT / MER_DEMO_WORKER_PORT to free ports "
        f"(the demo uses {port}/{env['MER_WORKER_PORT']})"
    )
