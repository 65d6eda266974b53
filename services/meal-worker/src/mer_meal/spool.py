"""A local, append-only spool of access-log rows the DAL could not take yet.

One JSON object (the fields of ``AccessLogCreate``) a line, appended and fsync'd before
``append`` returns, so rows survive a crash of the worker. ``read`` returns every complete row
(a torn last line from a crash is skipped); ``clear`` removes the file once its rows are in the
DAL. Replaying twice is harmless: the DAL ignores a request id it already holds. Blocking file
work runs in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from mer_core.schemas.registry import AccessLogCreate
from pydantic import ValidationError

log = logging.getLogger(__name__)


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = self._count() if path.exists() else 0

    def _count(self) -> int:
        with self.path.open("rb") as f:
            return sum(1 for line in f if line.strip())

    async def append(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            await asyncio.to_thread(self._append, rows)
            self.rows += len(rows)

    def _append(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = b"".join(orjson.dumps(r) + b"\n" for r in rows)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    async def read(self) -> list[dict[str, Any]]:
        """Every readable row, checked against ``AccessLogCreate``, as JSON-ready dicts."""
        return await asyncio.to_thread(self._read)

    def _read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        rows = []
        for number, line in enumerate(self.path.read_bytes().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = AccessLogCreate.model_validate(orjson.loads(line))
                rows.append(row.model_dump(mode="json"))
            except (orjson.JSONDecodeError, ValidationError):
                log.warning(
                    "skipping unreadable line %d of the access-log spool %s", number, self.path
                )
        return rows

    async def clear(self) -> None:
        await asyncio.to_thread(self.path.unlink, missing_ok=True)
        self.rows = 0
