"""Fixtures of the worker tests: one real DAL for the package, the demo models imported into it,
and helpers that run a worker's core in-process (no HTTP) or as a real ``mer-meal`` subprocess."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mer_core.dal_client import DalClient
from mer_core.errors import NotFound
from mer_core.schemas.registry import ModelCreate, ModelPublic, ModelUpdate, WeightsCreate
from mer_core.settings import WorkerSettings
from mer_core.tensors import (
    HEADER_LENGTH,
    InferResponse,
    decode_infer_response,
    encode_infer_request,
)
from mer_meal.dataplane import Answer
from mer_meal.worker import Worker
from pydantic import SecretStr

from tests.support.procs import MODELS_DIR, Dal, Tokens, dal_service


async def import_demo(dal: DalClient) -> None:
    """What ``make demo`` does: the ONNX files of iris and digits, digits' weights v1 and v2."""
    for name, file in (("iris", "iris.onnx"), ("digits", "digits.onnx")):
        blob = await dal.upload_blob(MODELS_DIR / file)
        try:
            await dal.update_model(name, ModelUpdate(artifact=blob.sha256))
        except NotFound:
            await dal.create_model(ModelCreate(name=name, artifact=blob.sha256))
    for version in ("v1", "v2"):
        blob = await dal.upload_blob(MODELS_DIR / f"digits-{version}.safetensors")
        await dal.add_weights("digits", WeightsCreate(version=version, blob=blob.sha256))


async def add_model(dal: DalClient, name: str, onnx: bytes, **config: Any) -> ModelPublic:
    blob = await dal.upload_blob(onnx)
    return await dal.create_model(ModelCreate(name=name, artifact=blob.sha256, **config))


async def add_weights(dal: DalClient, model: str, version: str, data: bytes) -> None:
    blob = await dal.upload_blob(data)
    await dal.add_weights(model, WeightsCreate(version=version, blob=blob.sha256))


@pytest.fixture(scope="package")
def dal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dal]:
    """One real DAL (subprocess, migrated surrealkv database) for every worker test."""
    tmp = tmp_path_factory.mktemp("worker-dal")
    tokens = Tokens()
    with dal_service(tmp, tokens) as service:
        found = Dal(service, tokens)

        async def demo() -> None:
            async with found.admin() as admin:
                await import_demo(admin)

        asyncio.run(demo())
        yield found


@pytest.fixture
async def admin(dal: Dal) -> AsyncIterator[DalClient]:
    async with dal.admin() as client:
        yield client


def worker_settings(dal_url: str, token: str, tmp: Path, **overrides: Any) -> WorkerSettings:
    values: dict[str, Any] = {
        "dal_url": dal_url,
        "token": SecretStr(token),
        "cache_dir": tmp / "cache",
        "spool_dir": tmp / "spool",
        "config_refresh_s": 0.2,
        "access_log_flush_ms": 50,
    }
    values.update(overrides)
    return WorkerSettings(**values)


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[Worker]:
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


@pytest.fixture
async def core(dal: Dal, tmp_path: Path) -> AsyncIterator[Worker]:
    """A worker's core, in-process, reading the package's DAL."""
    async with running(Worker(worker_settings(dal.url, dal.tokens.token, tmp_path))) as worker:
        yield worker


async def infer(
    worker: Worker,
    model: str,
    inputs: Mapping[str, np.ndarray],
    version: str | None = None,
    *,
    binary: bool = False,
    outputs: list[str] | None = None,
    caller: str = "pytest",
    request_id: str | None = None,
) -> tuple[Answer, InferResponse | None]:
    """One request through ``Dataplane.infer``: the answer and, when 200, its decoded outputs."""
    body, json_length = encode_infer_request(
        inputs,
        binary_inputs=binary,
        binary_outputs=binary,
        outputs=outputs,
        request_id=request_id,
    )
    headers = {} if json_length is None else {HEADER_LENGTH.lower(): str(json_length)}
    answer = await worker.dataplane.infer(model, version, body, headers, caller)
    if answer.status != 200:
        return answer, None
    length = answer.headers.get(HEADER_LENGTH.lower())
    return answer, decode_infer_response(answer.body, int(length) if length else None)


def holdout(rows: int, start: int = 0) -> np.ndarray:
    x: np.ndarray = np.load(MODELS_DIR / "digits-holdout.npz")["X"].astype(np.float32)
    return x[start : start + rows]
