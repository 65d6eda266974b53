"""``server check``: connect to a remote server and ask its worker how it is, through SSH.

The round trip is timed on the worker's liveness request (an SSH channel open, one HTTP
exchange and back); a worker that is not running still gives a round trip (sshd answers that
nothing listens), and the check says how to start it. Providers and GPU come from the remote
worker's ``GET /mer/info``; without a running worker the GPU is looked for over SSH.
"""

from __future__ import annotations

import time

from mer_core.errors import BadGateway, MerError
from mer_core.schemas.registry import ServerPublic
from mer_core.schemas.remote import ServerCheckPublic, WorkerHealth, WorkerInfoPublic
from pydantic import ValidationError

from mer_meal.remote.executor import SshExecutor
from mer_meal.remote.shell import run
from mer_meal.remote.target import target_of

CHECK_TIMEOUT_S = 10.0
GPU_PROBE = "ls /dev/nvidia[0-9]* >/dev/null 2>&1 || nvidia-smi -L >/dev/null 2>&1"


async def check_server(executor: SshExecutor, server: ServerPublic) -> ServerCheckPublic:
    target = target_of(server)
    link = await executor.link(server)
    connects = link.connects
    started = time.monotonic()
    conn = await link.connection()
    connect_ms = (time.monotonic() - started) * 1000 if link.connects > connects else None
    problem: str | None = None
    started = time.monotonic()
    try:
        live = await _ok(executor, server, "/v2/health/live")
    except BadGateway as exc:
        live, problem = False, exc.message
    rtt_ms = (time.monotonic() - started) * 1000
    ready = live and await _ok(executor, server, "/v2/health/ready")
    info: WorkerInfoPublic | None = None
    if live:
        info, problem = await _info(executor, server)
    if info is None:
        has_gpu = (await run(conn, target, GPU_PROBE, timeout_s=CHECK_TIMEOUT_S)).status == 0
    return ServerCheckPublic(
        server=server.name,
        ssh=target.display if link.endpoint is None else _display(target.user, str(link.endpoint)),
        rtt_ms=round(rtt_ms, 3),
        connect_ms=None if connect_ms is None else round(connect_ms, 3),
        worker_url=target.worker_url,
        worker=WorkerHealth(live=live, ready=ready),
        version=info.version if info else None,
        providers=info.providers if info else [],
        has_gpu=info.has_gpu if info else has_gpu,
        problem=problem,
    )


async def _ok(executor: SshExecutor, server: ServerPublic, path: str) -> bool:
    status, _, _ = await executor.request(server, "GET", path, timeout_s=CHECK_TIMEOUT_S)
    return status == 200


async def _info(
    executor: SshExecutor, server: ServerPublic
) -> tuple[WorkerInfoPublic | None, str | None]:
    try:
        status, _, body = await executor.request(
            server, "GET", "/mer/info", timeout_s=CHECK_TIMEOUT_S
        )
    except MerError as exc:
        return None, exc.message
    if status != 200:
        return None, f"its worker answered /mer/info with {status}: is it an older MER?"
    try:
        return WorkerInfoPublic.model_validate_json(body), None
    except ValidationError:
        return None, "its worker answered /mer/info with an unexpected body"


def _display(user: str | None, endpoint: str) -> str:
    return f"{user}@{endpoint}" if user else endpoint
