"""The ``mer`` command: ``repl``, ``exec``, and ``up`` / ``down`` / ``status`` of the local stack.

Exit codes: 0 done, 1 the command or a service failed, 2 usage error (unknown command, wrong
argument, a change without ``--allow-config-changes``, a missing token), 3 a service cannot be
reached. Errors go to stderr; ``--output json`` prints exactly one JSON document on stdout.
"""

from __future__ import annotations

import asyncio
import enum
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from mer_core.settings import (
    DalSettings,
    DatabaseSettings,
    MigratorSettings,
    ReplSettings,
    WorkerSettings,
)
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from mer_repl.commands import build_registry
from mer_repl.execute import Outcome, describe_validation, execute
from mer_repl.problems import EXIT_FAILED, EXIT_USAGE, CommandFailed, UsageError
from mer_repl.render import show_outcome
from mer_repl.result import Result
from mer_repl.session import Session
from mer_repl.stack import control

app = typer.Typer(
    name="mer",
    help="MER, the Model Executor Runtime: drive the registry and run models.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

AllowChanges = Annotated[
    bool,
    typer.Option(
        "--allow-config-changes",
        help="Allow commands that change the registry (they use MER_ADMIN_TOKEN).",
    ),
]


class OutputFormat(enum.StrEnum):
    table = "table"
    json = "json"


def _stdout() -> Console:
    return Console(width=None if sys.stdout.isatty() else 160)


def _stderr() -> Console:
    return Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def _settings() -> ReplSettings:
    try:
        return ReplSettings()
    except ValidationError as exc:
        _stderr().print(f"error: bad setting: {escape(describe_validation(exc))}", style="red")
        raise typer.Exit(EXIT_USAGE) from None


@app.command()
def repl(allow_config_changes: AllowChanges = False) -> None:
    """Start the interactive REPL (history, completion, tables)."""
    from mer_repl.history import PrivateFileHistory  # prompt_toolkit: only for the REPL
    from mer_repl.loop import run_repl

    settings = _settings()

    async def main() -> int:
        console = _stdout()
        async with Session(settings, allow_changes=allow_config_changes) as session:
            history = PrivateFileHistory(settings.history_file)
            return await run_repl(session, build_registry(), console, history=history)

    raise typer.Exit(asyncio.run(main()))


@app.command(
    "exec",
    context_settings={"ignore_unknown_options": True},
)
def exec_(
    command: Annotated[
        list[str],
        typer.Argument(help='One command, quoted: mer exec "run iris [[5.1, 3.5, 1.4, 0.2]]"'),
    ],
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="table for people, json for programs.")
    ] = OutputFormat.table,
    allow_config_changes: AllowChanges = False,
) -> None:
    """Run one command and exit: 0 done, 1 failed, 2 usage error, 3 a service unreachable."""
    settings = _settings()
    line = command[0] if len(command) == 1 else shlex.join(command)

    async def main() -> Outcome:
        async with Session(settings, allow_changes=allow_config_changes) as session:
            return await execute(session, build_registry(), line)

    outcome = asyncio.run(main())
    show_outcome(outcome, _stdout(), _stderr(), output.value)
    raise typer.Exit(outcome.exit_code)


DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default MER_DB_URL or surrealkv://.mer/db)."),
]
SqlDirOption = Annotated[
    Path | None, typer.Option("--sql-dir", help="Migration scripts (default: MER's own).")
]


@app.command()
def up(
    db: DbOption = None,
    dal_port: Annotated[int | None, typer.Option(help="Default MER_DAL_PORT or 8700.")] = None,
    worker_port: Annotated[
        int | None, typer.Option(help="Default MER_WORKER_PORT or 8701.")
    ] = None,
    sql_dir: SqlDirOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each health check.")] = 60.0,
) -> None:
    """Migrate, then start the DAL and a worker in the background and wait until healthy."""
    settings = _settings()
    config = control.StackConfig(
        state_dir=settings.state_dir,
        db_url=db or DatabaseSettings().db_url,
        dal_port=dal_port or DalSettings().port,
        worker_port=worker_port or WorkerSettings().port,
        sql_dir=sql_dir or _default_sql_dir(),
        timeout=timeout,
    )
    _finish(lambda: control.up(config, settings))


@app.command()
def down(
    timeout: Annotated[float, typer.Option(help="Seconds before SIGKILL.")] = 15.0,
) -> None:
    """Stop the local stack (worker, then DAL): SIGTERM, then SIGKILL after a timeout."""
    settings = _settings()
    config = control.StackConfig(settings.state_dir, "", 0, 0, None)
    _finish(lambda: control.down(config, timeout))


@app.command()
def status() -> None:
    """What of the local stack runs where, and whether each part is healthy."""
    settings = _settings()
    config = control.StackConfig(settings.state_dir, "", 0, 0, None)
    _finish(lambda: control.status(config))


def _finish(action: Callable[[], Result]) -> None:
    try:
        result = action()
    except UsageError as exc:
        outcome = Outcome(error=str(exc), kind=exc.kind, exit_code=EXIT_USAGE)
    except CommandFailed as exc:
        outcome = Outcome(error=exc.message, kind=exc.kind, exit_code=EXIT_FAILED)
    else:
        outcome = Outcome(result=result, exit_code=result.exit_code)
    show_outcome(outcome, _stdout(), _stderr(), "table")
    raise typer.Exit(outcome.exit_code)


def _default_sql_dir() -> Path | None:
    """``MER_SQL_DIR``, or the migrations beside this checkout, or the migrator's own default."""
    configured = MigratorSettings().sql_dir
    if configured.is_dir():
        return configured
    beside = Path(__file__).resolve().parents[3] / "services" / "migrator" / "sql"
    return beside if beside.is_dir() else None


def main() -> None:
    app()
