"""The worker's HTTP routes: thin handlers over ``Control``, ``Stats`` and ``Dataplane``.

Open Inference Protocol v2 (REST) plus Triton's binary-tensor, model-repository and statistics
extensions. Only ``/v2/health/live`` and ``/v2/health/ready`` answer without the token;
``/metrics`` needs it too (Prometheus sends it with ``authorization: {credentials: ...}``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from mer_core.schemas.oip import (
    LiveResponse,
    ModelStatisticsResponse,
    ReadyResponse,
    ServerMetadataResponse,
)
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mer_meal import __version__
from mer_meal.auth import TokenCheck
from mer_meal.infer_route import InferEndpoint
from mer_meal.worker import Worker

EXTENSIONS = ["binary_tensor_data", "model_repository", "statistics", "mer_placement"]

Handler = Callable[[Request], Awaitable[Response]]


def json_response(body: BaseModel | list[Any] | dict[str, Any], status: int = 200) -> Response:
    if isinstance(body, BaseModel):
        content = body.model_dump_json().encode()
    else:
        content = orjson.dumps(
            [b.model_dump(mode="json") if isinstance(b, BaseModel) else b for b in body]
            if isinstance(body, list)
            else body
        )
    return Response(content, status_code=status, media_type="application/json")


def build_routes(worker: Worker, auth: TokenCheck) -> list[BaseRoute]:
    control, stats = worker.control, worker.stats

    def guarded(handler: Handler) -> Handler:
        async def check(request: Request) -> Response:
            header = request.headers.get("authorization")
            auth.require(header.encode("latin-1") if header is not None else None)
            return await handler(request)

        return check

    async def live(_: Request) -> Response:
        return json_response(LiveResponse(live=True))

    async def ready(_: Request) -> Response:
        ok = worker.repo.reached
        return json_response(ReadyResponse(ready=ok), 200 if ok else 503)

    async def server_metadata(_: Request) -> Response:
        return json_response(
            ServerMetadataResponse(name="mer-meal", version=__version__, extensions=EXTENSIONS)
        )

    async def model_metadata(request: Request) -> Response:
        model, version = _model_version(request)
        return json_response(await control.metadata(model, version))

    async def model_ready(request: Request) -> Response:
        model, version = _model_version(request)
        answer = await control.ready(model, version)
        return json_response(answer, 200 if answer.ready else 503)

    async def statistics(request: Request) -> Response:
        model, version = request.path_params.get("model"), request.path_params.get("version")
        if model is not None:
            await worker.repo.model(model)  # 404 for a model the registry does not know
        return json_response(ModelStatisticsResponse(model_stats=stats.public(model, version)))

    async def repository_index(_: Request) -> Response:
        return json_response(await control.index())

    async def load(request: Request) -> Response:
        target = await control.load(request.path_params["model"])
        return json_response({"name": target.model, "version": target.version, "loaded": True})

    async def unload(request: Request) -> Response:
        dropped = await control.unload(request.path_params["model"])
        return json_response({"name": request.path_params["model"], "unloaded": dropped})

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(worker.metrics), media_type=CONTENT_TYPE_LATEST)

    infer = InferEndpoint(worker.dataplane, auth)
    model = "/v2/models/{model}"
    versioned = "/v2/models/{model}/versions/{version}"
    return [
        Route(f"{model}/infer", infer, methods=["POST"]),
        Route(f"{versioned}/infer", infer, methods=["POST"]),
        Route("/v2/health/live", live),
        Route("/v2/health/ready", ready),
        Route("/v2", guarded(server_metadata)),
        Route("/v2/models/stats", guarded(statistics)),
        Route(f"{model}/stats", guarded(statistics)),
        Route(f"{versioned}/stats", guarded(statistics)),
        Route(model, guarded(model_metadata)),
        Route(versioned, guarded(model_metadata)),
        Route(f"{model}/ready", guarded(model_ready)),
        Route(f"{versioned}/ready", guarded(model_ready)),
        Route("/v2/repository/index", guarded(repository_index), methods=["POST"]),
        Route("/v2/repository/models/{model}/load", guarded(load), methods=["POST"]),
        Route("/v2/repository/models/{model}/unload", guarded(unload), methods=["POST"]),
        Route("/metrics", guarded(metrics)),
    ]


def _model_version(request: Request) -> tuple[str, str | None]:
    return request.path_params["model"], request.path_params.get("version")
