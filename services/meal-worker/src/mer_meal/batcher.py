"""Adaptive dynamic batching: concurrent requests for one session run as one ``session.run``.

Like Triton's dynamic batcher and MLServer's adaptive batching, with one difference that keeps
single-client latency at the bare minimum: a request that finds its model idle (no run in flight,
nobody queued) runs at once. Only under contention (all ``instances`` busy, or others queued)
does the batcher wait, up to ``max_queue_delay`` after the oldest queued request, to fill a batch
of up to ``max_batch_size`` rows; requests arriving while a run is in flight are merged anyway.

Requests are merged only when their inputs agree on names, datatypes and every non-batch
dimension, and only for sessions whose inputs and outputs all have a free first dimension. A
request larger than ``max_batch_size`` runs alone. When a merged run fails, each of its requests
is run again alone, so a bad request gets its own error and the others their answers.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Executor
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any

import numpy as np
from mer_core.errors import InvalidRequest, MerError, Unavailable

from mer_meal.sessions import LoadedSession
from mer_meal.tasks import Background, TaskSet

Array = np.ndarray[Any, Any]


class RunFailed(InvalidRequest):
    """onnxruntime refused an input that matched the signature (e.g. an index out of range)."""

    kind = "run_failed"


@dataclass(frozen=True, slots=True)
class BatchLimits:
    max_batch_size: int = 32
    max_queue_delay_s: float = 0.0005
    instances: int = 1


@dataclass(slots=True)
class RunResult:
    """One request's share of a run: its rows of every output, in the session's output order."""

    outputs: list[Array]
    batch_size: int
    queue_ns: int
    compute_ns: int
    run: int = 0
    """Which ``session.run`` answered (requests merged into one run share it)."""


@dataclass(slots=True, eq=False)
class _Item:
    session: LoadedSession
    feed: dict[str, Array]
    rows: int
    signature: Hashable | None
    future: asyncio.Future[RunResult]
    enqueued_ns: int


BatchObserver = Callable[[int, int], None]
"""Told (rows in the run, compute ns) after every run."""


class Batcher:
    """The queue and the runs of one (model, session)."""

    def __init__(
        self,
        name: str,
        executor: Executor,
        limits: BatchLimits,
        observer: BatchObserver | None = None,
    ) -> None:
        self.name = name
        self.limits = limits
        self._executor = executor
        self._observer = observer
        self._queue: deque[_Item] = deque()
        self._running = 0
        self._arrived = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._drainer = Background(f"batcher {name}", self._drain, on_death=self._fail_queued)
        self._runs = TaskSet(f"runs of {name}")
        self._stopped = False
        self._run_ids = itertools.count()

    @property
    def idle(self) -> bool:
        return not self._queue and self._running == 0

    async def submit(
        self,
        session: LoadedSession,
        feed: dict[str, Array],
        rows: int,
        signature: Hashable | None,
        limits: BatchLimits | None = None,
    ) -> RunResult:
        """Run ``feed`` (``rows`` rows), merged with others of the same ``signature``."""
        if self._stopped:
            raise Unavailable(f"model {self.name} is shutting down")
        if limits is not None:
            self.limits = limits
        now = perf_counter_ns()
        loop = asyncio.get_running_loop()
        item = _Item(session, feed, rows, signature, loop.create_future(), now)
        if not self._queue and self._running < self.limits.instances:
            # Idle: run this request now, in the caller's own task.
            self._running += 1
            try:
                (result,) = await loop.run_in_executor(self._executor, self._execute, [item])
            finally:
                self._slot_released()
            if isinstance(result, MerError):
                raise result
            self._observe(result)
            return result
        self._queue.append(item)
        self._arrived.set()
        self._drainer.start()
        return await item.future

    def _slot_released(self) -> None:
        self._running -= 1
        self._slot_free.set()
        if self._queue and not self._stopped:
            self._drainer.start()

    # --- the drainer: forms batches while anything is queued ------------------------------------

    async def _drain(self) -> None:
        while self._queue:
            limits = self.limits
            contended = self._running > 0 or len(self._queue) > 1
            if contended and limits.max_queue_delay_s > 0:
                await self._fill(limits)
            while self._running >= limits.instances:
                self._slot_free.clear()
                await self._slot_free.wait()
            batch = self._take(limits.max_batch_size)
            if not batch:
                continue
            self._running += 1
            self._runs.spawn(self._run(batch), name=f"run {self.name}")

    async def _fill(self, limits: BatchLimits) -> None:
        """Wait until the head's batch is full or the oldest request waited ``max_queue_delay``."""
        loop = asyncio.get_running_loop()
        deadline = self._queue[0].enqueued_ns + int(limits.max_queue_delay_s * 1e9)
        while self._queue and self._mergeable_rows(limits.max_batch_size) < limits.max_batch_size:
            left = (deadline - perf_counter_ns()) / 1e9
            if left <= 0:
                return
            self._arrived.clear()
            timer = loop.call_later(left, self._arrived.set)
            try:
                await self._arrived.wait()
            finally:
                timer.cancel()

    def _mergeable_rows(self, limit: int) -> int:
        head = self._queue[0]
        if head.signature is None:
            return limit
        rows = 0
        for item in self._queue:
            if item.signature == head.signature and item.session is head.session:
                rows += item.rows
                if rows >= limit:
                    break
        return rows

    def _take(self, limit: int) -> list[_Item]:
        """The head request and every queued request that merges with it, up to ``limit`` rows."""
        while self._queue and self._queue[0].future.done():
            self._queue.popleft()  # its caller went away
        if not self._queue:
            return []
        head = self._queue.popleft()
        batch = [head]
        if head.signature is None or head.rows >= limit:
            return batch
        rows, kept = head.rows, deque[_Item]()
        while self._queue:
            item = self._queue.popleft()
            if item.future.done():
                continue
            fits = rows + item.rows <= limit
            if fits and item.signature == head.signature and item.session is head.session:
                batch.append(item)
                rows += item.rows
            else:
                kept.append(item)
            if rows >= limit:
                break
        kept.extend(self._queue)
        self._queue = kept
        return batch

    async def _run(self, batch: list[_Item]) -> None:
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self._executor, self._execute, batch)
        except BaseException as exc:
            error = Unavailable(f"model {self.name} stopped before answering")
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        finally:
            self._slot_released()
        seen: set[int] = set()
        for result in results:
            if isinstance(result, RunResult) and result.run not in seen:
                seen.add(result.run)
                self._observe(result)
        for item, result in zip(batch, results, strict=True):
            if item.future.done():
                continue
            if isinstance(result, MerError):
                item.future.set_exception(result)
            else:
                item.future.set_result(result)

    def _observe(self, result: RunResult) -> None:
        if self._observer is not None:
            self._observer(result.batch_size, result.compute_ns)

    # --- in a worker thread ---------------------------------------------------------------------

    def _execute(self, batch: list[_Item]) -> list[RunResult | MerError]:
        session = batch[0].session
        start = perf_counter_ns()
        if len(batch) == 1:
            feed = batch[0].feed
        else:
            feed = {n: np.concatenate([it.feed[n] for it in batch]) for n in batch[0].feed}
        try:
            outputs = session.run(feed)
        except Exception as exc:  # onnxruntime raises plain exceptions
            if len(batch) > 1:
                return [self._execute([item])[0] for item in batch]
            return [RunFailed(f"model {self.name} could not run this input: {_ort_message(exc)}")]
        compute = perf_counter_ns() - start
        total = sum(it.rows for it in batch)
        run = next(self._run_ids)
        if len(batch) == 1:
            item = batch[0]
            return [RunResult(outputs, total, start - item.enqueued_ns, compute, run)]
        if any(o.shape[:1] != (total,) for o in outputs):
            return [self._execute([item])[0] for item in batch]
        results: list[RunResult | MerError] = []
        offset = 0
        for item in batch:
            end = offset + item.rows
            share = [o[offset:end] for o in outputs]
            results.append(RunResult(share, total, start - item.enqueued_ns, compute, run))
            offset = end
        return results

    # --- stopping -------------------------------------------------------------------------------

    def _fail_queued(self, exc: BaseException) -> None:
        error = Unavailable(f"model {self.name} could not be scheduled: {exc!r}")
        while self._queue:
            item = self._queue.popleft()
            if not item.future.done():
                item.future.set_exception(error)

    async def stop(self) -> None:
        self._stopped = True
        await self._drainer.stop()
        await self._runs.stop()
        self._fail_queued(RuntimeError("the worker is shutting down"))


def _ort_message(exc: Exception) -> str:
    text = str(exc).strip()
    # "[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : ..." -> the part a user can act on
    return text.rsplit(" : ", 1)[-1] if text.startswith("[ONNXRuntimeError]") else text
