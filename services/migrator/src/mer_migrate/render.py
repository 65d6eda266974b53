"""How the CLI shows the runner's work: lines per script, a progress bar on a terminal, tables."""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from mer_migrate.plan import State, VersionState
from mer_migrate.scripts import Script

_STATE_STYLE = {
    State.APPLIED: "green",
    State.PENDING: "cyan",
    State.CHANGED: "bold red",
    State.MISSING: "bold red",
    State.FAILED: "bold red",
}


class ConsoleObserver:
    """Prints a line per script; on a terminal, with several scripts, also a progress bar."""

    def __init__(self, out: Console, err: Console) -> None:
        self.out = out
        self.err = err
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> ConsoleObserver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/] {message}", highlight=False)

    def plan(self, scripts: list[Script]) -> None:
        if len(scripts) > 1 and self.out.is_terminal:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                console=self.out,
                transient=True,
            )
            self._task = self._progress.add_task("migrating", total=len(scripts))
            self._progress.start()

    def script_started(self, script: Script) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=f"applying {script.filename}")

    def script_done(self, script: Script, duration_ms: float) -> None:
        self.out.print(f"applied {script.filename} in {format_ms(duration_ms)}", highlight=False)
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)


def format_ms(duration_ms: float | None) -> str:
    if duration_ms is None:
        return ""
    if duration_ms >= 1000:
        return f"{duration_ms / 1000:.2f} s"
    return f"{duration_ms:.1f} ms"


def status_table(states: list[VersionState]) -> Table:
    table = Table(show_edge=False, header_style="bold")
    for column in ("version", "name", "state", "applied at", "duration"):
        table.add_column(column)
    for s in states:
        applied_at = s.applied_at.strftime("%Y-%m-%d %H:%M:%S") if s.applied_at else ""
        state = s.state.value
        if s.applied is not None and s.applied.kind == "baseline":
            state += " (baseline)"
        table.add_row(
            f"{s.version:02d}",
            s.name,
            f"[{_STATE_STYLE[s.state]}]{state}[/]",
            applied_at,
            format_ms(s.duration_ms) if s.applied_at else "",
        )
    return table


def status_json(states: list[VersionState], *, db_url: str, sql_dir: str) -> str:
    counts: dict[str, int] = {state.value: 0 for state in State}
    rows: list[dict[str, Any]] = []
    for s in states:
        counts[s.state.value] += 1
        row = s.applied or s.failed
        rows.append(
            {
                "version": s.version,
                "name": s.name,
                "script": s.filename,
                "state": s.state.value,
                "applied_at": s.applied_at.isoformat() if s.applied_at else None,
                "duration_ms": s.duration_ms,
                "checksum": s.script.checksum if s.script else None,
                "recorded_checksum": s.applied.checksum if s.applied else None,
                "kind": row.kind if row else None,
                "by": f"{row.user}@{row.host}" if row else None,
                "error": s.failed.error if s.failed else None,
            }
        )
    return json.dumps(
        {"database": db_url, "sql_dir": sql_dir, "counts": counts, "versions": rows}, indent=2
    )
