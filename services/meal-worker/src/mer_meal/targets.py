"""Resolve (model, version) to what runs it: a configuration snapshot, a weight vector, a session.

A ``Target`` is immutable and built from one configuration: a request that resolved it finishes
on it (and on the session it got) even if the default weights switch or the session is evicted
meanwhile. Targets are cached until the repository says their model changed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from mer_core.errors import NotFound, Unavailable
from mer_core.schemas.registry import ModelPublic

from mer_meal.batcher import BatchLimits
from mer_meal.blobs import BlobCache
from mer_meal.repository import ModelRepository
from mer_meal.sessions import LoadedSession, SessionCache, SessionKey


@dataclass(frozen=True, slots=True)
class Target:
    model: str
    config: ModelPublic
    version: str | None
    """The weight vector in use (the request's OIP version, else the default), if any."""
    weights_blob: str | None
    key: SessionKey
    limits: BatchLimits


def no_onnx_message(model: str) -> str:
    return f"model {model} has no ONNX file yet: import one with `model import {model} FILE.onnx`"


class Targets:
    def __init__(
        self,
        repo: ModelRepository,
        sessions: SessionCache,
        blobs: BlobCache,
        *,
        intra_op_threads: int = 0,
        inter_op_threads: int = 0,
    ) -> None:
        self._repo = repo
        self._sessions = sessions
        self._blobs = blobs
        self._intra = intra_op_threads
        self._inter = inter_op_threads
        self._targets: dict[tuple[str, str | None], Target] = {}
        repo.subscribe(self.forget)

    def forget(self, models: set[str]) -> None:
        for key in [k for k in self._targets if k[0] in models]:
            del self._targets[key]

    def cached(self, model: str, version: str | None) -> Target | None:
        return self._targets.get((model, version))

    def known(self, model: str) -> list[Target]:
        return [t for (name, _), t in self._targets.items() if name == model]

    async def resolve(self, config: ModelPublic, version: str | None) -> Target:
        model = config.name
        found = self._targets.get((model, version))
        if found is not None:
            return found
        if config.artifact is None:
            config = await self._repo.refetch(model)  # it may have been imported a moment ago
            if config.artifact is None:
                raise Unavailable(no_onnx_message(model))
        if version is not None and version not in config.versions:
            config = await self._repo.refetch(model)  # it may have been added a moment ago
            if version not in config.versions:
                available = ", ".join(config.versions) or "none"
                raise NotFound(
                    f"model {model} has no version {version!r}; available versions: {available}",
                    versions=config.versions,
                )
        label = version if version is not None else config.default_weights
        blob = (await self._repo.weights(model, label)).blob if label else None
        key = SessionKey(
            artifact=config.artifact or "",
            weights=blob,
            device=config.device,
            intra_op_threads=config.intra_op_threads or self._intra,
            inter_op_threads=config.inter_op_threads or self._inter,
        )
        limits = BatchLimits(
            max_batch_size=config.max_batch_size,
            max_queue_delay_s=config.max_queue_delay_us / 1e6,
            instances=config.instances,
        )
        target = Target(model, config, label, blob, key, limits)
        if self._repo.cached(model) is config:  # only a current configuration is remembered
            self._targets[(model, version)] = target
        return target

    async def session(self, target: Target) -> LoadedSession:
        found = self._sessions.peek(target.key)
        if found is not None:
            return found

        async def files() -> tuple[Path, Path | None]:
            artifact = self._blobs.get(target.key.artifact)
            if target.weights_blob is None:
                return await artifact, None
            a, w = await asyncio.gather(artifact, self._blobs.get(target.weights_blob))
            return a, w

        return await self._sessions.get(target.key, target.model, files)
