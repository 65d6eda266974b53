"""Access logs, written in batches off the request path, and never lost.

``record`` only appends a tuple to a list. An owned flusher turns them into plain rows (the
fields of ``AccessLogCreate``) and sends them to the DAL every
``access_log_flush_ms`` (sooner once ``max_rows`` wait). When the DAL cannot take them they go to
the spool (fsync'd), and the spool is replayed, oldest first, as soon as the DAL answers again;
while it is down, attempts back off up to ``MAX_BACKOFF_S``. ``stop`` flushes, or spools, what is
left. The DAL is idempotent on ``request_id`` (a random prefix per process and a counter), so a
replay after a crash between "posted" and "spool cleared" adds nothing twice.

A request forwarded to a remote worker gets its id up front (``new_id``), sent as
``X-Mer-Request-Id``: the remote worker logs it under that id and so does the gateway when it
answers 502/503/504 itself, so a request both answered (the answer then lost with the SSH
connection) leaves one row, not two: the DAL keeps the first to arrive.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from time import monotonic, time
from typing import Any, Protocol

from mer_core.errors import MerError

from mer_meal.log_sink import RowsRefused
from mer_meal.spool import Spool
from mer_meal.tasks import Background

log = logging.getLogger(__name__)

POST_CHUNK = 5000
"""Rows per POST /access-logs (the DAL takes at most 10,000)."""

MAX_BACKOFF_S = 30.0

MAX_POST_ROWS = 20_000
"""Rows one flush sends at most; more go to the spool, so a slow DAL cannot grow memory."""

_Row = tuple[
    float, str, str | None, str, bool, int, str | None, int, int, float, float, float, str | None
]
"""at, model, weights, caller, ok, status, error kind, rows, batch, queue, compute, total, id
(``None``: one is counted out at flush time)."""

REQUEST_ID_HEADER = "x-mer-request-id"
"""The request id a gateway assigns to a forwarded request (lower case, as ASGI has it)."""

_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def checked_request_id(raw: str) -> str | None:
    """``raw`` if it may be an access-log request id (1..64 of ``A-Za-z0-9_.:-``), else None."""
    return raw if _REQUEST_ID.fullmatch(raw) else None


Row = dict[str, Any]
"""The fields of ``AccessLogCreate``, by name."""


class AccessLogSink(Protocol):
    async def post_rows(self, rows: Sequence[Row]) -> int: ...


class AccessLogger:
    def __init__(
        self,
        sink: AccessLogSink,
        *,
        server: str,
        spool: Spool,
        flush_s: float,
        max_rows: int = 2000,
        enabled: bool = True,
    ) -> None:
        self._sink = sink
        self.server = server
        self.spool = spool
        self.flush_s = flush_s
        self.max_rows = max_rows
        self.enabled = enabled
        self._pending: list[_Row] = []
        self._unsent: list[Row] = []
        self._wake = asyncio.Event()
        self._flusher = Background("access-log flusher", self._loop)
        self._lock = asyncio.Lock()
        self._retry_at = 0.0
        self._backoff = 0.0
        self.posted = 0
        self.dropped = 0
        # Request ids: random per process, then counted; unique without a uuid4 per row.
        self._id_prefix = uuid.uuid4().hex[:20]
        self._next_id = 0

    @property
    def pending(self) -> int:
        return len(self._pending) + len(self._unsent)

    def record(  # noqa: PLR0917 - once per request, where keywords cost
        self,
        model: str,
        weights: str | None,
        caller: str,
        ok: bool,
        status: int,
        error_kind: str | None = None,
        rows: int = 0,
        batch_size: int = 0,
        queue_ms: float = 0.0,
        compute_ms: float = 0.0,
        total_ms: float = 0.0,
        request_id: str | None = None,
    ) -> None:
        """Note one answered request; never blocks, never fails. ``request_id`` is a valid id
        (``checked_request_id``) given up front; without one, the row gets a fresh one."""
        if not self.enabled:
            return
        self._pending.append(
            (
                time(),
                model,
                weights,
                caller,
                ok,
                status,
                error_kind,
                rows,
                batch_size,
                queue_ms,
                compute_ms,
                total_ms,
                request_id,
            )
        )
        if len(self._pending) >= self.max_rows:
            self._wake.set()

    def new_id(self) -> str:
        """A fresh request id, from the same counter as those assigned at flush time."""
        self._next_id += 1
        return f"{self._id_prefix}{self._next_id - 1:012x}"

    def _rows(self, raw: list[_Row]) -> list[Row]:
        server, prefix, first = self.server, self._id_prefix, self._next_id
        self._next_id += len(raw)
        return [
            {
                    "at": datetime.fromtimestamp(at, UTC),
                    "model": model,
                    "weights": weights,
                    "server": server,
                    "caller": caller,
                    "request_id": rid or f"{prefix}{first + i:012x}",
                    "outcome": "ok" if ok else "error",
                    "status": status,
                    "error_kind": error_kind,
                    "rows": rows,
                    "batch_size": batch,
                    "queue_ms": queue,
                    "compute_ms": compute,
                    "total_ms": total,
            }
            for i, (at, model, weights, caller, ok, status, error_kind, rows, batch, queue,
                    compute, total, rid) in enumerate(raw)
        ]  # fmt: skip

    # --- flushing --------------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.flush_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # e.g. the spool's disk is full: keep trying, say so
                log.exception("access-log flush failed")

    async def flush(self) -> None:
        """Send what waits (spool first); what the DAL cannot take goes to the spool."""
        async with self._lock:
            raw, self._pending = self._pending, []
            rows = self._unsent + self._rows(raw)
            self._unsent = []
            # When the DAL falls behind, the surplus waits on disk, not in memory.
            head, surplus = rows[:MAX_POST_ROWS], rows[MAX_POST_ROWS:]
            keep = rows
            try:
                keep = surplus if await self._deliver(head) else rows
                await self.spool.append(keep)
            except OSError:
                self._unsent = keep  # the spool cannot be written: keep them for next time
                raise
            except asyncio.CancelledError:
                # Stopped mid-flush (shutdown cancels the flusher): these rows are in no list and
                # no file yet. Keep them all for the final flush; the DAL ignores any it has.
                self._unsent = rows + self._unsent
                raise

    async def _deliver(self, rows: list[Row]) -> bool:
        """Post the spool, then ``rows``; whether ``rows`` reached the DAL."""
        if monotonic() < self._retry_at:
            return False
        if self.spool.rows and not await self._replay():
            return False
        return not rows or await self._post(rows)

    async def _replay(self) -> bool:
        rows = await self.spool.read()
        if rows and not await self._post(rows):
            return False
        await self.spool.clear()
        log.info("replayed %d spooled access-log rows", len(rows))
        return True

    async def _post(self, rows: list[Row]) -> bool:
        """Whether the DAL took every row it did not refuse; a row it refuses (a 4xx for what it
        holds) is dropped, loudly, and never blocks the others. Only a DAL that cannot take
        rows (unreachable, 5xx, wrong token) keeps them for the spool."""
        for start in range(0, len(rows), POST_CHUNK):
            chunk = rows[start : start + POST_CHUNK]
            refused: list[str] = []
            try:
                await self._post_sorting(chunk, refused)
            except MerError as exc:
                self._failed(exc)
                return False
            except Exception as exc:  # e.g. a garbled answer: keep the rows, try again later
                self._failed(MerError(f"unexpected answer: {exc!r}"))
                return False
            finally:
                if refused:
                    self.dropped += len(refused)
                    log.error(
                        "the DAL refused %d of %d access-log rows; dropped them: %s",
                        len(refused),
                        len(chunk),
                        refused[0],
                    )
        if self._backoff:
            log.info("the DAL takes access logs again")
        self._backoff = 0.0
        self._retry_at = 0.0
        return True

    async def _post_sorting(self, rows: list[Row], refused: list[str]) -> None:
        """Post ``rows``; when the DAL refuses them, post each half (a bisection), so that only
        the rows it refuses on their own end in ``refused`` (its messages)."""
        try:
            await self._sink.post_rows(rows)
        except RowsRefused as exc:
            if len(rows) == 1:
                refused.append(exc.message)
                return
            middle = len(rows) // 2
            await self._post_sorting(rows[:middle], refused)
            await self._post_sorting(rows[middle:], refused)
            return
        self.posted += len(rows)

    def _failed(self, exc: MerError) -> None:
        if not self._backoff:
            log.warning(
                "cannot write access logs (%s); spooling to %s", exc.message, self.spool.path
            )
        self._backoff = min(MAX_BACKOFF_S, max(0.5, self._backoff * 2))
        self._retry_at = monotonic() + self._backoff

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        if self.enabled:
            self._flusher.start()

    async def stop(self) -> None:
        await self._flusher.stop()
        self._retry_at = 0.0  # one last try at the DAL before spooling
        await self.flush()
