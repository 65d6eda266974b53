"""``mer-migrate``: the typer command line over the runner. Exit codes: 0 done, 1 a script
failed, 2 usage or validation error, 3 the database cannot be reached (or is in use / locked)."""

from __future__ import annotations

import asyncio
import enum
import sys
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import pydantic
import typer
from mer_core.errors import MerError
from mer_core.settings import MigratorSettings
from rich.console import Console

from mer_migrate.errors import MigrateError, UsageError
from mer_migrate.render import ConsoleObserver, format_ms, status_json, status_table
from mer_migrate.runner import Migrator
from mer_migrate.scripts import format_version, new_script

T = TypeVar("T")

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Apply the numbered SurrealQL scripts of --sql-dir to the MER-DB, and keep their history.",
)


class _Consoles:
    """stdout and stderr consoles, made on first use (a pipe gets wide lines, not 80 columns)."""

    @property
    def out(self) -> Console:
        return Console(highlight=False, width=None if sys.stdout.isatty() else 160)

    @property
    def err(self) -> Console:
        return Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)


_consoles = _Consoles()


class Output(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


@dataclass
class Options:
    settings: MigratorSettings
    lock_timeout_s: float


def _options(ctx: typer.Context) -> Options:
    options = ctx.obj
    assert isinstance(options, Options)
    return options


def _fail(exc: MerError) -> typer.Exit:
    _consoles.err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(exc.exit_code if isinstance(exc, MigrateError) else 3)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except MerError as exc:
        raise _fail(exc) from None


def _version(text: str, what: str) -> int:
    if not text.isdigit():
        raise _fail(UsageError(f"{what} {text!r}: expected a script number such as 03"))
    return int(text)


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option("--db", help="surrealkv://DIR, mem:// or ws://HOST:PORT [MER_DB_URL]"),
    ] = None,
    sql_dir: Annotated[
        Path | None, typer.Option("--sql-dir", help="the scripts' folder [MER_SQL_DIR]")
    ] = None,
    lock_timeout: Annotated[
        float | None,
        typer.Option(
            "--lock-timeout", help="seconds to wait for another migrator [MER_LOCK_TIMEOUT_S]"
        ),
    ] = None,
) -> None:
    """Options shared by every command."""
    overrides: dict[str, Any] = {}
    if db is not None:
        overrides["db_url"] = db
    if sql_dir is not None:
        overrides["sql_dir"] = sql_dir
    try:
        settings = MigratorSettings(**overrides)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"MER_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise _fail(UsageError(f"bad setting: {problems}")) from None
    timeout = settings.lock_timeout_s if lock_timeout is None else lock_timeout
    if timeout < 0:
        raise _fail(UsageError("--lock-timeout must be 0 or more seconds"))
    ctx.obj = Options(settings, timeout)


def _migrator(ctx: typer.Context, observer: ConsoleObserver) -> Migrator:
    options = _options(ctx)
    return Migrator(options.settings, observer=observer, lock_timeout_s=options.lock_timeout_s)


@app.command()
def up(
    ctx: typer.Context,
    target: Annotated[
        str | None, typer.Option("--target", help="apply up to this script number (NN)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="change nothing; print what would run")
    ] = False,
    allow_missing: Annotated[
        bool, typer.Option("--allow-missing", help="go on although applied scripts are gone")
    ] = False,
) -> None:
    """Apply the pending scripts in order, each in one transaction with its history row."""
    version = None if target is None else _version(target, "--target")
    with ConsoleObserver(_consoles.out, _consoles.err) as observer:
        result = _run(
            _migrator(ctx, observer).up(
                target=version, dry_run=dry_run, allow_missing=allow_missing
            )
        )
    if dry_run:
        if not result.planned:
            _consoles.out.print("dry run: nothing to apply")
        for script in result.planned:
            _consoles.out.print(f"would apply {script.filename}")
        return
    total = sum(ms for _, ms in result.applied)
    if result.applied:
        _consoles.out.print(f"{len(result.applied)} script(s) applied in {format_ms(total)}")
    else:
        _consoles.out.print("database is up to date: nothing to apply")


@app.command()
def status(
    ctx: typer.Context,
    output: Annotated[Output, typer.Option("--output", "-o", help="text or json")] = Output.TEXT,
) -> None:
    """Show every script: applied, pending, changed, missing or failed."""
    options = _options(ctx)
    with ConsoleObserver(_consoles.out, _consoles.err) as observer:
        states = _run(_migrator(ctx, observer).status())
    if output is Output.JSON:
        sys.stdout.write(
            status_json(
                states, db_url=options.settings.db_url, sql_dir=str(options.settings.sql_dir)
            )
            + "\n"
        )
    elif not states:
        _consoles.out.print(f"no scripts in {options.settings.sql_dir} and no history")
    else:
        _consoles.out.print(status_table(states))


@app.command()
def validate(ctx: typer.Context) -> None:
    """Check the scripts and that every applied one still matches its file."""
    with ConsoleObserver(_consoles.out, _consoles.err) as observer:
        states = _run(_migrator(ctx, observer).validate())
    applied = sum(1 for s in states if s.is_applied)
    _consoles.out.print(f"valid: {applied} applied, {len(states) - applied} pending")


@app.command()
def repair(ctx: typer.Context) -> None:
    """Record the current checksums of edited scripts and remove failed attempts."""
    with ConsoleObserver(_consoles.out, _consoles.err) as observer:
        result = _run(_migrator(ctx, observer).repair())
    for s in result.checksums_updated:
        _consoles.out.print(f"recorded the current checksum of {s.filename}")
    _consoles.out.print(
        f"repaired: {len(result.checksums_updated)} checksum(s) updated, "
        f"{result.failed_rows_removed} failed attempt(s) removed"
    )


@app.command()
def baseline(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="mark 00..NN as applied without running them")],
) -> None:
    """Mark scripts 00..NN as applied, for a database that was set up by hand."""
    number = _version(version, "baseline")
    with ConsoleObserver(_consoles.out, _consoles.err) as observer:
        scripts = _run(_migrator(ctx, observer).baseline(number))
    _consoles.out.print(
        f"baseline: marked {format_version(number)} and below as applied ({len(scripts)})"
    )


@app.command()
def new(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="CamelCase name, e.g. AddModelOwner")],
) -> None:
    """Write the next numbered script file, NN-NAME.sql, to fill in."""
    try:
        path = new_script(_options(ctx).settings.sql_dir, name)
    except MerError as exc:
        raise _fail(exc) from None
    _consoles.out.print(f"wrote {path}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        # A script runs in one transaction, so an interrupted one left nothing behind.
        _consoles.err.print("interrupted: the script that was running was not applied")
        sys.exit(130)
