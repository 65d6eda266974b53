"""``create_app(settings)``: the one place that assembles a worker's HTTP app.

A plain Starlette app (no request-body models: the infer route is a bare ASGI endpoint). Its
lifespan starts and stops the ``Worker``; errors are mapped to HTTP once, here, answering
``{"error": "...", "kind": "..."}``, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from mer_core.errors import MerError
from mer_core.settings import WorkerSettings
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mer_meal.access_log import AccessLogSink
from mer_meal.auth import TokenCheck
from mer_meal.infer_route import InferEndpoint, match_infer
from mer_meal.placement import RemoteExecutor
from mer_meal.remote.routes import remote_routes
from mer_meal.repository import Registry
from mer_meal.routes import build_routes, json_response
from mer_meal.worker import Worker

log = logging.getLogger(__name__)

Default = Literal["default"]


class MissingToken(ValueError):
    pass


class WorkerApp(Starlette):
    """Starlette, with infer requests sent straight to their endpoint: the hot path skips the
    middleware stack and the route table (the same endpoint is also routed normally)."""

    infer: InferEndpoint | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.infer is not None:
            params = match_infer(scope)
            if params is not None:
                scope["path_params"] = params
                await self.infer(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(
    settings: WorkerSettings,
    *,
    registry: Registry | None = None,
    log_sink: AccessLogSink | None = None,
    remote: RemoteExecutor | Default | None = "default",
) -> Starlette:
    """The worker app. ``remote="default"`` uses ``mer_meal.remote.create_executor`` if present."""
    if settings.token is None or not settings.token.get_secret_value():
        raise MissingToken(
            "MER_TOKEN is not set: put MER_TOKEN=... in the environment or in .env "
            "(`make setup` writes a .env with fresh random tokens)"
        )
    if remote == "default":
        remote = default_remote(settings)
    worker = Worker(settings, registry=registry, log_sink=log_sink, remote=remote)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await worker.start()
        try:
            yield
        finally:
            await worker.stop()

    auth = TokenCheck(settings.token)
    app = WorkerApp(
        routes=[*build_routes(worker, auth), *remote_routes(worker, auth)],
        lifespan=lifespan,
        exception_handlers={
            MerError: _mer_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
    )
    app.infer = InferEndpoint(worker.dataplane, auth)
    app.state.worker = worker
    return app


def default_remote(settings: WorkerSettings) -> RemoteExecutor | None:
    """The SSH executor of ``mer_meal.remote``, when that package provides one."""
    try:
        from mer_meal import remote as remote_package
    except ImportError:
        return None
    factory = getattr(remote_package, "create_executor", None)
    if factory is None:
        return None
    executor: RemoteExecutor = factory(settings)
    return executor


async def _mer_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, MerError)
    return json_response(exc.to_body(), exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_request")
    message = {
        404: f"no route {request.url.path}",
        405: f"{request.method} is not allowed on {request.url.path}",
    }.get(exc.status_code, str(exc.detail))
    return json_response({"error": message, "kind": kind}, exc.status_code)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_response({"error": "internal error", "kind": "internal"}, 500)
