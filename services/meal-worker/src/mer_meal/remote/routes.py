"""HTTP routes of remote execution, behind the worker's token.

    GET  /mer/info                  every worker: its server name, version, providers, GPU
    GET  /mer/servers/{name}/check  the gateway: SSH round trip, remote worker health and info
    POST /mer/servers/{name}/start  the gateway: start the remote worker over SSH

Thin: they read the server's record from the DAL and call ``check_server`` / ``Starter``.
"""

from __future__ import annotations

import glob
from typing import TYPE_CHECKING

import onnxruntime as ort
from mer_core.errors import InvalidRequest, Unavailable
from mer_core.schemas.registry import ServerPublic
from mer_core.schemas.remote import WorkerInfoPublic
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mer_meal import __version__
from mer_meal.remote.checker import check_server
from mer_meal.remote.executor import SshExecutor
from mer_meal.remote.starter import Starter

if TYPE_CHECKING:
    from mer_meal.auth import TokenCheck
    from mer_meal.worker import Worker


def remote_routes(worker: Worker, auth: TokenCheck) -> list[BaseRoute]:
    settings = worker.settings

    def require_token(request: Request) -> None:
        header = request.headers.get("authorization")
        auth.require(header.encode("latin-1") if header is not None else None)

    def executor() -> SshExecutor:
        if not isinstance(worker.remote, SshExecutor):
            raise Unavailable("this worker has no SSH executor: it cannot reach remote servers")
        return worker.remote

    async def ssh_server(request: Request) -> ServerPublic:
        name = request.path_params["name"]
        server = await worker.registry.get_server(name)
        if server.kind != "ssh":
            raise InvalidRequest(
                f"server {name} is {server.kind}, not reached over SSH: nothing to check or start"
            )
        return server

    async def info(request: Request) -> Response:
        require_token(request)
        return _json(
            WorkerInfoPublic(
                server=settings.server_name,
                version=__version__,
                providers=ort.get_available_providers(),
                has_gpu=_has_gpu(),
            )
        )

    async def check(request: Request) -> Response:
        require_token(request)
        return _json(await check_server(executor(), await ssh_server(request)))

    async def start(request: Request) -> Response:
        require_token(request)
        starter = Starter(executor(), settings.token)
        return _json(await starter.start(await ssh_server(request)))

    return [
        Route("/mer/info", info),
        Route("/mer/servers/{name}/check", check),
        Route("/mer/servers/{name}/start", start, methods=["POST"]),
    ]


def _has_gpu() -> bool:
    return bool(glob.glob("/dev/nvidia[0-9]*"))


def _json(body: BaseModel) -> Response:
    return Response(body.model_dump_json(), media_type="application/json")
