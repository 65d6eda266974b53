"""The interactive loop: prompt, run, show, until ``exit`` or Ctrl-D.

Ctrl-C at the prompt drops the line; Ctrl-C while a command runs cancels that command.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.history import History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from rich.console import Console

from mer_repl.completer import MerCompleter
from mer_repl.execute import Outcome, execute
from mer_repl.keys import build_key_bindings
from mer_repl.refresher import CatalogRefresher, fetch_catalog
from mer_repl.registry import Registry
from mer_repl.render import show_outcome
from mer_repl.session import FLAG, Session


async def run_repl(
    session: Session,
    registry: Registry,
    console: Console,
    *,
    history: History | None = None,
    input: Input | None = None,
    output: Output | None = None,
) -> int:
    refresher = CatalogRefresher(lambda: fetch_catalog(session))
    prompt: PromptSession[str] = PromptSession(
        history=history or InMemoryHistory(),
        completer=MerCompleter(registry, refresher.current),
        complete_while_typing=True,
        auto_suggest=AutoSuggestFromHistory(),
        key_bindings=build_key_bindings(),
        bottom_toolbar=lambda: _toolbar(session, refresher),
        input=input,
        output=output,
    )
    marker = "mer*> " if session.allow_changes else "mer> "
    changes = "allowed" if session.allow_changes else f"refused (start with {FLAG} to allow)"
    console.print(f"MER at {session.settings.dal_url}; configuration changes {changes}.")
    console.print("Type help for the commands, Tab to complete, Ctrl-D to leave.")
    refresher.refresh()
    try:
        while True:
            try:
                line = await prompt.prompt_async(marker)
            except KeyboardInterrupt:
                continue
            except EOFError:
                break
            if not line.strip():
                continue
            outcome = await _cancellable(execute(session, registry, line))
            if outcome is None:
                console.print("cancelled", style="yellow")
                continue
            show_outcome(outcome, console, console, "table")
            if outcome.result is not None and outcome.result.quit:
                break
            if outcome.result is not None and outcome.result.changed:
                refresher.refresh()
    finally:
        await refresher.aclose()
    return 0


async def _cancellable(work: Coroutine[Any, Any, Outcome]) -> Outcome | None:
    """Run one command so that Ctrl-C cancels it instead of ending the REPL."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    handled = False
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        handled = True
    try:
        return await task
    except asyncio.CancelledError:
        if task.cancelled() and not _current_cancelling():
            return None
        raise
    finally:
        if handled:
            loop.remove_signal_handler(signal.SIGINT)


def _current_cancelling() -> bool:
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0


def _toolbar(session: Session, refresher: CatalogRefresher) -> str:
    changes = "changes allowed" if session.allow_changes else "read-only"
    names = f"names: {refresher.error}" if refresher.error else "Tab completes"
    return f" {session.settings.dal_url} | {changes} | {names} | F4 vi/emacs"
