"""Files of the registry (ONNX graphs, safetensors weight vectors) cached on disk by sha256.

A blob is downloaded once, verified by the DAL client against its sha256, and renamed into
``cache_dir/ab/abcdef...`` only when whole; concurrent requests for the same blob share one
download.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

from mer_meal.tasks import TaskSet


class BlobSource(Protocol):
    async def download_blob(self, sha256: str, dest: Path) -> Path: ...


class BlobCache:
    def __init__(self, source: BlobSource, cache_dir: Path) -> None:
        self._source = source
        self.cache_dir = cache_dir
        self._downloads: dict[str, asyncio.Task[Path]] = {}
        self._tasks = TaskSet("blob downloads")

    def path_of(self, sha256: str) -> Path:
        return self.cache_dir / sha256[:2] / sha256

    async def get(self, sha256: str) -> Path:
        """The local path of blob ``sha256``, downloading it first if needed."""
        path = self.path_of(sha256)
        if path.is_file():
            return path
        task = self._downloads.get(sha256)
        if task is None:
            task = self._tasks.spawn(self._download(sha256, path), name=f"blob {sha256[:12]}")
            self._downloads[sha256] = task
        return await asyncio.shield(task)

    async def _download(self, sha256: str, path: Path) -> Path:
        try:
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
            return await self._source.download_blob(sha256, path)
        finally:
            self._downloads.pop(sha256, None)

    async def stop(self) -> None:
        await self._tasks.stop()
