"""Owners of background tasks: nothing in the worker calls a bare ``asyncio.create_task``.

``Background`` runs one long-lived loop (a refresher, a flusher); ``TaskSet`` holds short-lived
tasks (a batch run, a session build). Both keep their handles, log a task that dies of an error,
tell the caller's ``on_death`` so it can fail its waiters, and cancel and await on ``stop``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Background:
    """One named loop; ``start`` it once, ``stop`` cancels and awaits it."""

    def __init__(
        self,
        name: str,
        factory: Callable[[], Coroutine[Any, Any, None]],
        *,
        on_death: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.name = name
        self._factory = factory
        self._on_death = on_death
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            return
        self._task = asyncio.get_running_loop().create_task(self._factory(), name=self.name)
        self._task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("background task %s died: %r", self.name, exc, exc_info=exc)
            if self._on_death is not None:
                self._on_death(exc)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise


class TaskSet:
    """Short-lived tasks with one owner; ``stop`` cancels and awaits whatever still runs."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, T], name: str | None = None) -> asyncio.Task[T]:
        if self._closed:
            coro.close()
            raise RuntimeError(f"{self.name} is stopped")
        task = asyncio.get_running_loop().create_task(coro, name=name or self.name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            # Waiters get the error through the task itself; this only leaves a trace.
            log.debug("task %s of %s failed: %r", task.get_name(), self.name, exc)

    async def stop(self) -> None:
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
