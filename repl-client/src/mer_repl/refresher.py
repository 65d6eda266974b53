"""The background task that keeps the completion catalog fresh (pgcli's completion_refresher).

It runs at start and after every command that changed the registry; a refresh in flight is
cancelled by the next one. A failure leaves the previous catalog in place and is remembered in
``error`` for the toolbar: completion never breaks the prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from mer_core.errors import MerError

from mer_repl.completer import Catalog
from mer_repl.problems import UsageError
from mer_repl.session import Session


class CatalogRefresher:
    """Owns one refresh task at a time; ``aclose`` cancels and awaits it."""

    def __init__(self, fetch: Callable[[], Awaitable[Catalog]]) -> None:
        self._fetch = fetch
        self._task: asyncio.Task[None] | None = None
        self.catalog = Catalog()
        self.error: str | None = None

    def current(self) -> Catalog:
        return self.catalog

    def refresh(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="mer-refresh")

    async def wait(self) -> None:
        """Until the refresh in flight (if any) is done; for tests and shutdown."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await self.wait()
            self._task = None

    async def _run(self) -> None:
        try:
            self.catalog = await self._fetch()
            self.error = None
        except (MerError, UsageError) as exc:
            self.error = str(exc)


async def fetch_catalog(session: Session) -> Catalog:
    dal = await session.dal()
    models = (await dal.list_models()).data
    servers = (await dal.list_servers()).data
    return Catalog(
        models=tuple(m.name for m in models),
        servers=tuple(s.name for s in servers),
        versions={m.name: tuple(m.versions) for m in models},
    )
