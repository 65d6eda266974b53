"""The worker's view of the registry: model configurations, weight vectors and servers, cached.

A miss asks the DAL at once; after that, a background refresher polls ``GET /revision`` every
``config_refresh_s`` and, when it moved, reloads every model configuration in one call, so an
operator's change (default weights, batching, placement, device) reaches a running worker within
one refresh interval, without a restart. Listeners hear which models changed. While the DAL is
down the cache keeps answering with what it last saw.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from mer_core.errors import MerError, NotFound
from mer_core.schemas.registry import (
    ModelPublic,
    ModelsPublic,
    ServerPublic,
    WeightsPublic,
)

from mer_meal.tasks import Background

log = logging.getLogger(__name__)


class Registry(Protocol):
    """What the worker needs of the DAL (``mer_core.dal_client.DalClient`` is one)."""

    async def revision(self) -> int: ...

    async def list_models(self) -> ModelsPublic: ...

    async def get_model(self, name: str) -> ModelPublic: ...

    async def get_weights(self, model: str, version: str) -> WeightsPublic: ...

    async def get_server(self, name: str) -> ServerPublic: ...

    async def download_blob(self, sha256: str, dest: Path) -> Path: ...


Listener = Callable[[set[str]], None]


class ModelRepository:
    def __init__(self, registry: Registry, refresh_s: float) -> None:
        self._registry = registry
        self.refresh_s = refresh_s
        self._models: dict[str, ModelPublic] = {}
        self._missing: set[str] = set()
        self._weights: dict[tuple[str, str], WeightsPublic] = {}
        self._servers: dict[str, ServerPublic] = {}
        self._listeners: list[Listener] = []
        self.revision: int | None = None
        self._dal_down = False
        self._refresher = Background("config refresher", self._refresh_loop)

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(names)`` whenever the configurations of ``names`` changed."""
        self._listeners.append(listener)

    @property
    def reached(self) -> bool:
        """Whether the registry has been read at least once."""
        return self.revision is not None

    # --- lookups ---------------------------------------------------------------------------------

    def cached(self, name: str) -> ModelPublic | None:
        return self._models.get(name)

    async def model(self, name: str) -> ModelPublic:
        """The configuration of model ``name``; ``NotFound`` when the registry has none."""
        config = self._models.get(name)
        if config is not None:
            return config
        if name in self._missing:
            raise NotFound(f"unknown model {name!r}")
        return await self.refetch(name)

    async def refetch(self, name: str) -> ModelPublic:
        """Ask the DAL now (e.g. for a version added a moment ago)."""
        try:
            config = await self._registry.get_model(name)
        except NotFound:
            self._missing.add(name)
            raise NotFound(f"unknown model {name!r}") from None
        self._missing.discard(name)
        old = self._models.get(name)
        self._models[name] = config
        if old is not None and old != config:
            self._changed({name})
        return config

    async def weights(self, model: str, version: str) -> WeightsPublic:
        found = self._weights.get((model, version))
        if found is None:
            try:
                found = await self._registry.get_weights(model, version)
            except NotFound:
                raise NotFound(f"model {model} has no weight vector {version!r}") from None
            self._weights[(model, version)] = found
        return found

    async def server(self, name: str) -> ServerPublic:
        found = self._servers.get(name)
        if found is None:
            try:
                found = await self._registry.get_server(name)
            except NotFound:
                raise NotFound(f"server {name!r} is not in the registry") from None
            self._servers[name] = found
        return found

    async def all_models(self) -> list[ModelPublic]:
        """Every configuration in the registry (one DAL call); refreshes the cache on the way."""
        models = (await self._registry.list_models()).data
        self._replace(models)
        return models

    # --- refreshing ------------------------------------------------------------------------------

    async def refresh(self) -> bool:
        """Reload everything if the registry's revision moved; whether it did."""
        revision = await self._registry.revision()
        if revision == self.revision:
            return False
        models = (await self._registry.list_models()).data
        self.revision = revision
        self._servers.clear()
        self._missing.clear()
        self._replace(models)
        return True

    def _replace(self, models: Sequence[ModelPublic]) -> None:
        fresh = {m.name: m for m in models}
        changed = {
            n for n in fresh.keys() | self._models.keys() if fresh.get(n) != self._models.get(n)
        }
        self._models = fresh
        if changed:
            self._changed(changed)

    def _changed(self, names: set[str]) -> None:
        for key in [k for k in self._weights if k[0] in names]:
            del self._weights[key]
        for listener in self._listeners:
            listener(names)

    async def _refresh_loop(self) -> None:
        while True:
            try:
                await self.refresh()
                if self._dal_down:
                    log.info("the DAL answers again; configuration refreshed")
                self._dal_down = False
            except Exception as exc:  # the refresher must outlive any one bad answer
                if not self._dal_down:
                    reason = exc.message if isinstance(exc, MerError) else repr(exc)
                    log.warning("cannot refresh model configurations: %s", reason)
                self._dal_down = True
            await asyncio.sleep(self.refresh_s)

    def start(self) -> None:
        self._refresher.start()

    async def stop(self) -> None:
        await self._refresher.stop()
