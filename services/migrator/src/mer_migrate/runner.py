"""The migrator's commands as plain async methods: up, status, validate, repair, baseline.

The CLI renders what these return and report through an ``Observer``; nothing here prints.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from mer_core.settings import MigratorSettings

from mer_migrate.apply import apply_script
from mer_migrate.db import SERVER_SCHEMES, Database, open_database
from mer_migrate.errors import UsageError, ValidationError
from mer_migrate.history import HistoryStore
from mer_migrate.lock import MigrationLock, migration_lock
from mer_migrate.plan import State, VersionState, compare
from mer_migrate.scripts import Script, ScriptSet, discover, format_version


class Observer(Protocol):
    """What the runner tells its user while it works."""

    def warn(self, message: str) -> None: ...

    def plan(self, scripts: list[Script]) -> None: ...

    def script_started(self, script: Script) -> None: ...

    def script_done(self, script: Script, duration_ms: float) -> None: ...


class QuietObserver:
    def warn(self, message: str) -> None:
        pass

    def plan(self, scripts: list[Script]) -> None:
        pass

    def script_started(self, script: Script) -> None:
        pass

    def script_done(self, script: Script, duration_ms: float) -> None:
        pass


@dataclass
class UpResult:
    planned: list[Script]
    applied: list[tuple[Script, float]] = field(default_factory=list)
    dry_run: bool = False


@dataclass(frozen=True)
class RepairResult:
    checksums_updated: list[VersionState]
    failed_rows_removed: int


def history_problems(states: list[VersionState], *, allow_missing: bool) -> list[str]:
    """Why the history and the files disagree (empty when ``up`` may go on)."""
    problems = []
    for s in states:
        if s.state is State.CHANGED:
            assert s.script is not None
            assert s.applied is not None
            problems.append(
                f"{s.filename} changed since it was applied: recorded checksum "
                f"{s.applied.checksum}, current {s.script.checksum} "
                "(restore the file, or run `mer-migrate repair` after a deliberate edit)"
            )
        elif s.state is State.MISSING and not allow_missing:
            problems.append(
                f"{s.filename} was applied but its file is gone (restore it, or pass "
                "--allow-missing)"
            )
    last_applied = max((s.version for s in states if s.is_applied), default=-1)
    for s in states:
        if s.state in (State.PENDING, State.FAILED) and s.script and s.version < last_applied:
            problems.append(
                f"{s.filename} is not applied but {format_version(last_applied)} is: "
                "scripts apply in order (was a script renumbered?)"
            )
    return problems


class Migrator:
    def __init__(
        self,
        settings: MigratorSettings,
        *,
        observer: Observer | None = None,
        lock_timeout_s: float | None = None,
    ) -> None:
        self.settings = settings
        self.observer: Observer = observer or QuietObserver()
        self.lock_timeout_s = settings.lock_timeout_s if lock_timeout_s is None else lock_timeout_s

    def scripts(self) -> ScriptSet:
        scripts = discover(self.settings.sql_dir)
        for warning in scripts.warnings:
            self.observer.warn(warning)
        return scripts

    @asynccontextmanager
    async def _session(
        self, *, write: bool
    ) -> AsyncIterator[tuple[HistoryStore, MigrationLock | None]]:
        """The open database and its history; for writes, also the schema and the lock."""
        async with AsyncExitStack() as stack:
            db: Database = await stack.enter_async_context(
                open_database(self.settings, lock_timeout_s=self.lock_timeout_s)
            )
            history = HistoryStore(db)
            lock = None
            if write:
                await history.ensure_schema()
                if self.settings.db_url.startswith(SERVER_SCHEMES):
                    lock = await stack.enter_async_context(
                        migration_lock(
                            db, ttl_s=self.settings.lock_ttl_s, timeout_s=self.lock_timeout_s
                        )
                    )
            yield history, lock

    async def up(
        self, *, target: int | None = None, dry_run: bool = False, allow_missing: bool = False
    ) -> UpResult:
        scripts = self.scripts()
        if target is not None and target not in scripts.by_version():
            raise UsageError(
                f"--target {format_version(target)}: no such script in {scripts.directory}"
            )
        for script in scripts.scripts:
            script.statements()  # refuse a malformed script before touching the database
        async with self._session(write=not dry_run) as (history, lock):
            states = compare(scripts, await history.rows())
            problems = history_problems(states, allow_missing=allow_missing)
            if problems:
                raise ValidationError("refusing to migrate", problems)
            pending = [
                s.script
                for s in states
                if s.state in (State.PENDING, State.FAILED)
                and s.script is not None
                and (target is None or s.version <= target)
            ]
            result = UpResult(pending, dry_run=dry_run)
            self.observer.plan(pending)
            if dry_run:
                return result
            for script in pending:
                self.observer.script_started(script)
                duration_ms = await apply_script(history.db, history, script)
                result.applied.append((script, duration_ms))
                self.observer.script_done(script, duration_ms)
                if lock is not None:
                    await lock.refresh()
            return result

    async def status(self) -> list[VersionState]:
        scripts = self.scripts()
        async with self._session(write=False) as (history, _):
            return compare(scripts, await history.rows())

    async def validate(self) -> list[VersionState]:
        """The states, or ``ValidationError`` if an applied script changed, went missing or
        failed, or a script is out of order."""
        states = await self.status()
        problems = history_problems(states, allow_missing=False)
        problems += [
            f"a failed attempt is recorded, {s.failed.error if s.failed else s.filename} "
            "(fix the script and run `up`, or `repair` to clear it)"
            for s in states
            if s.state is State.FAILED
        ]
        for script in (s.script for s in states if s.state is State.PENDING and s.script):
            try:
                script.statements()
            except ValidationError as exc:
                problems.append(str(exc))
        if problems:
            raise ValidationError("validation failed", problems)
        return states

    async def repair(self) -> RepairResult:
        scripts = self.scripts()
        async with self._session(write=True) as (history, _):
            states = compare(scripts, await history.rows())
            changed = [s for s in states if s.state is State.CHANGED]
            for s in changed:
                assert s.script is not None
                await history.update_checksum(s.version, s.script)
            removed = await history.delete_failed()
            return RepairResult(changed, removed)

    async def baseline(self, version: int) -> list[Script]:
        """Record 00..``version`` as applied without running them (a database set up by hand)."""
        scripts = self.scripts()
        if version not in scripts.by_version():
            raise UsageError(f"baseline {format_version(version)}: no such script")
        chosen = [s for s in scripts.scripts if s.version <= version]
        async with self._session(write=True) as (history, _):
            applied = [r for r in await history.rows() if r.success]
            if applied:
                raise ValidationError(
                    "baseline is for a database without a migration history; this one has "
                    f"{len(applied)} applied script(s) (see `mer-migrate status`)"
                )
            await history.record_baseline(chosen)
            return chosen
