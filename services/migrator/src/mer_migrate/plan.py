"""Compare the scripts on disk with the history: the state of every version (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from mer_migrate.history import HistoryRow
from mer_migrate.scripts import Script, ScriptSet, format_version


class State(StrEnum):
    APPLIED = "applied"  # recorded, and the file still has the recorded checksum
    PENDING = "pending"  # a file never applied
    CHANGED = "changed"  # recorded, but the file's checksum differs
    MISSING = "missing"  # recorded, but the file is gone
    FAILED = "failed"  # the last attempt failed (nothing of it was applied)


@dataclass(frozen=True)
class VersionState:
    version: int
    name: str
    state: State
    script: Script | None
    applied: HistoryRow | None
    failed: HistoryRow | None

    @property
    def label(self) -> str:
        return f"{format_version(self.version)}-{self.name}"

    @property
    def filename(self) -> str:
        if self.script is not None:
            return self.script.filename
        row = self.applied or self.failed
        return row.script if row is not None else f"{self.label}.sql"

    @property
    def applied_at(self) -> datetime | None:
        row = self.applied or self.failed
        return row.applied_at if row is not None else None

    @property
    def duration_ms(self) -> float | None:
        row = self.applied or self.failed
        return row.duration_ms if row is not None else None

    @property
    def is_applied(self) -> bool:
        return self.applied is not None


def compare(scripts: ScriptSet, rows: list[HistoryRow]) -> list[VersionState]:
    """One state per version seen on disk or in the history, by version."""
    applied = {r.version: r for r in rows if r.success}
    failed: dict[int, HistoryRow] = {}
    for row in rows:
        if not row.success and (
            row.version not in failed or row.applied_at >= failed[row.version].applied_at
        ):
            failed[row.version] = row
    on_disk = scripts.by_version()
    states = []
    for version in sorted(set(on_disk) | set(applied) | set(failed)):
        script, done, last_failure = on_disk.get(version), applied.get(version), failed.get(version)
        if done is not None:
            last_failure = None
            if script is None:
                state = State.MISSING
            elif script.checksum != done.checksum:
                state = State.CHANGED
            else:
                state = State.APPLIED
        elif script is None:
            # A failed attempt of a script that has since been removed: nothing was applied.
            state = State.FAILED
        else:
            state = State.FAILED if last_failure is not None else State.PENDING
        name = script.name if script else (done or last_failure).name  # type: ignore[union-attr]
        states.append(VersionState(version, name, state, script, done, last_failure))
    return states
