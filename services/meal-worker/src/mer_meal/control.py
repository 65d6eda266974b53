"""The control plane, HTTP-free: model metadata and readiness, and Triton's repository extension.

Models load lazily, on their first request; ``load`` warms one up (its default weights) and
``unload`` forgets its sessions (the next request loads them again).
"""

from __future__ import annotations

from typing import Any

from mer_core.errors import InvalidRequest, MerError, NotFound
from mer_core.schemas.oip import (
    MetadataTensor,
    ModelMetadataResponse,
    ModelReadyResponse,
    RepositoryIndexEntry,
)
from mer_core.schemas.registry import ModelPublic

from mer_meal.repository import ModelRepository
from mer_meal.sessions import SessionCache, choose_providers
from mer_meal.targets import Target, Targets, no_onnx_message


class Control:
    def __init__(
        self,
        *,
        server_name: str,
        repo: ModelRepository,
        targets: Targets,
        sessions: SessionCache,
        remote_enabled: bool,
    ) -> None:
        self.server_name = server_name
        self._repo = repo
        self._targets = targets
        self._sessions = sessions
        self._remote_enabled = remote_enabled

    def _is_remote(self, config: ModelPublic) -> bool:
        return config.server != self.server_name

    def _check_version(self, config: ModelPublic, version: str | None) -> None:
        if version is not None and version not in config.versions:
            available = ", ".join(config.versions) or "none"
            raise NotFound(
                f"model {config.name} has no version {version!r}; available versions: {available}",
                versions=config.versions,
            )

    async def metadata(self, model: str, version: str | None) -> ModelMetadataResponse:
        config = await self._repo.model(model)
        if version is not None and version not in config.versions:
            config = await self._repo.refetch(model)
        self._check_version(config, version)
        params: dict[str, Any] = {
            "server": config.server,
            "default_weights": config.default_weights,
            "weights": version if version is not None else config.default_weights,
            "device": config.device,
            "max_batch_size": config.max_batch_size,
            "max_queue_delay_us": config.max_queue_delay_us,
            "instances": config.instances,
            "artifact": config.artifact,
            "loaded": False,
            "provider": None,
        }
        if config.artifact is None:
            params["reason"] = no_onnx_message(model)
        elif not self._is_remote(config):
            target = await self._targets.resolve(config, version)
            session = self._sessions.peek(target.key)
            if session is not None:
                params.update(loaded=True, provider=session.provider)
        return ModelMetadataResponse(
            name=model,
            versions=config.versions,
            platform=config.platform,
            inputs=[MetadataTensor(**t.model_dump()) for t in config.inputs],
            outputs=[MetadataTensor(**t.model_dump()) for t in config.outputs],
            parameters=params,
        )

    async def ready(self, model: str, version: str | None) -> ModelReadyResponse:
        config = await self._repo.model(model)
        self._check_version(config, version)
        reason = self._not_ready_reason(config)
        return ModelReadyResponse(name=model, version=version, ready=not reason, reason=reason)

    def _not_ready_reason(self, config: ModelPublic) -> str:
        if self._is_remote(config):
            if self._remote_enabled:
                return ""
            return f"placed on server {config.server}, which this worker cannot reach"
        if config.artifact is None:
            return no_onnx_message(config.name)
        try:
            choose_providers(config.name, config.device)
        except MerError as exc:
            return exc.message
        return ""

    async def index(self) -> list[RepositoryIndexEntry]:
        entries = []
        for config in await self._repo.all_models():
            loaded = self._loaded(config)
            reason = self._not_ready_reason(config)
            if self._is_remote(config) and not reason:
                reason = f"runs on server {config.server}"
            state = "READY" if loaded is not None else "UNAVAILABLE"
            entries.append(
                RepositoryIndexEntry(
                    name=config.name,
                    version=loaded.version if loaded is not None else config.default_weights,
                    state=state,
                    reason="" if loaded is not None else (reason or "not loaded yet"),
                )
            )
        return entries

    def _loaded(self, config: ModelPublic) -> Target | None:
        target = self._targets.cached(config.name, None)
        if target is not None and self._sessions.peek(target.key) is not None:
            return target
        return None

    async def load(self, model: str) -> Target:
        config = await self._repo.model(model)
        if self._is_remote(config):
            raise InvalidRequest(
                f"model {model} is placed on server {config.server}: load it on that server"
            )
        target = await self._targets.resolve(config, None)
        await self._targets.session(target)
        return target

    async def unload(self, model: str) -> int:
        """Forget every session of ``model``; how many were loaded."""
        await self._repo.model(model)
        dropped = sum(self._sessions.drop(t.key) for t in self._targets.known(model))
        self._targets.forget({model})
        return dropped
