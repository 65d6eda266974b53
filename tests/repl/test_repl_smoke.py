"""Drive the real prompt loop through a pipe, as a person at a terminal would."""

from __future__ import annotations

import asyncio
import io
import os
import signal
from pathlib import Path

from mer_repl.execute import Outcome
from mer_repl.history import PrivateFileHistory
from mer_repl.loop import _cancellable, run_repl
from mer_repl.registry import Registry
from mer_repl.session import Session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from tests.repl.conftest import make_settings


async def drive(registry: Registry, keys: str, history: Path, allow: bool = False) -> str:
    out = io.StringIO()
    console = Console(file=out, width=120)
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        async with Session(make_settings(admin="a"), allow_changes=allow) as session:
            code = await run_repl(
                session,
                registry,
                console,
                history=PrivateFileHistory(history),
                input=pipe,
                output=DummyOutput(),
            )
    assert code == 0
    return out.getvalue()


async def test_help_bad_command_and_exit(registry: Registry, tmp_path: Path) -> None:
    history = tmp_path / "history"
    text = await drive(registry, "help\rmodles\rmodel set iris x=1\rexit\r", history)
    assert "configuration changes refused" in text
    assert "model import NAME FILE" in text
    assert "unknown command 'modles' — did you mean 'models'? type help" in text
    assert "start mer with --allow-config-changes" in text
    assert "Traceback" not in text
    assert history.read_text().count("\n+") == 4


async def test_ctrl_c_drops_the_line_and_ctrl_d_leaves(registry: Registry, tmp_path: Path) -> None:
    text = await drive(registry, "modles\x03help status\r\x04", tmp_path / "history")
    assert "unknown command" not in text
    assert "whether the DAL and the worker answer" in text


async def test_service_errors_are_one_line(registry: Registry, tmp_path: Path) -> None:
    text = await drive(registry, "models\rmodel set iris device=tpu\rquit\r", tmp_path / "h", True)
    assert "error: cannot reach the DAL at http://127.0.0.1:9" in text
    assert "error: invalid device: Input should be 'cpu', 'cuda' or 'auto'" in text
    assert "Traceback" not in text


async def test_ctrl_c_cancels_a_running_command() -> None:
    started = asyncio.Event()

    async def slow() -> Outcome:
        started.set()
        await asyncio.sleep(30)
        return Outcome()

    loop = asyncio.get_running_loop()
    waiting = _cancellable(slow())
    loop.call_soon(lambda: loop.create_task(_interrupt(started)))
    assert await asyncio.wait_for(waiting, 10) is None
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler given back


async def _interrupt(started: asyncio.Event) -> None:
    await started.wait()
    os.kill(os.getpid(), signal.SIGINT)
