"""The placement seam: a model placed on another server goes through a ``RemoteExecutor``.

The executor here forwards over plain HTTP to a second real worker (``MER_SERVER_NAME=edge``);
the SSH one (``mer_meal.remote``) is tested with the SSH suite."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import numpy as np
import pytest
from mer_core.dal_client import DalClient
from mer_core.errors import Unavailable
from mer_core.schemas.registry import ServerCreate, ServerPublic
from mer_meal.placement import RemoteAnswer, RemoteExecutor
from mer_meal.worker import Worker

from tests.support.procs import MODELS_DIR, Dal, worker_service
from tests.worker.conftest import add_model, infer, running, worker_settings

pytestmark = pytest.mark.slow


class HttpExecutor:
    """``RemoteExecutor`` over plain HTTP to the server's ``worker_url``."""

    def __init__(self, token: str) -> None:
        self.calls = 0
        self._http = httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"})

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self._http.aclose()

    async def infer(
        self, server: ServerPublic, model: str, version: str | None, body: bytes,
        headers: Mapping[str, str],
    ) -> RemoteAnswer:  # fmt: skip
        self.calls += 1
        path = f"/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/infer"
        try:
            answer = await self._http.post(
                server.worker_url + path, content=body, headers=dict(headers)
            )
        except httpx.TransportError as exc:
            raise Unavailable(f"server {server.name} cannot be reached: {exc!r}") from exc
        return answer.status_code, dict(answer.headers), answer.content


async def rows_of(dal: Dal, model: str, expected: int) -> list:  # type: ignore[type-arg]
    deadline = time.monotonic() + 10
    async with dal.reader() as reader:
        while True:
            rows = (await reader.list_access_logs(model=model, limit=1000)).data
            if len(rows) >= expected or time.monotonic() > deadline:
                return rows
            await asyncio.sleep(0.1)


async def test_a_remote_model_runs_on_its_server_which_logs_it(
    dal: Dal, admin: DalClient, tmp_path: Path
) -> None:
    executor = HttpExecutor(dal.tokens.token)
    assert isinstance(executor, RemoteExecutor)
    env = {"MER_SERVER_NAME": "edge", "MER_ACCESS_LOG_FLUSH_MS": "50"}
    with worker_service(tmp_path / "edge", dal.tokens, dal.url, **env) as edge:
        await admin.create_server(ServerCreate(name="edge", kind="local", worker_url=edge.url))
        await add_model(
            admin, "iris-placed", (MODELS_DIR / "iris.onnx").read_bytes(), server="edge"
        )
        gateway = Worker(
            worker_settings(dal.url, dal.tokens.token, tmp_path / "gw"), remote=executor
        )
        async with running(gateway):
            x = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], np.float32)
            answer, as_json = await infer(gateway, "iris-placed", {"input": x}, caller="far")
            assert answer.status == 200, answer.body
            answer, as_binary = await infer(gateway, "iris-placed", {"input": x}, binary=True)
            assert answer.status == 200, answer.body
            assert as_json is not None
            assert as_binary is not None
            assert as_json.outputs["label"].tolist() == [0, 2]
            assert np.array_equal(
                as_json.outputs["probabilities"], as_binary.outputs["probabilities"]
            )
            bad, _ = await infer(gateway, "iris-placed", {"input": x[:, :3]})
            assert bad.status == 400
            assert b"shape [2, 3] given" in bad.body
            assert executor.calls == 3
            rows = await rows_of(dal, "iris-placed", 3)
            assert sorted(r.status for r in rows) == [200, 200, 400]
            assert {r.server for r in rows} == {"edge"}, "the gateway logged a forwarded request"
            assert "far" in {r.caller for r in rows}
        edge_url = edge.url
    # the remote worker is gone: the gateway answers, and logs, itself
    gateway = Worker(
        worker_settings(dal.url, dal.tokens.token, tmp_path / "gw2"),
        remote=HttpExecutor(dal.tokens.token),
    )
    async with running(gateway):
        answer, _ = await infer(gateway, "iris-placed", {"input": np.ones((1, 4), np.float32)})
    assert answer.status == 503
    assert b"server edge cannot be reached" in answer.body
    rows = await rows_of(dal, "iris-placed", 4)
    assert [(r.server, r.status) for r in rows if r.server == "local"] == [("local", 503)]
    assert edge_url
