"""The servers under test, started side by side on free ports, stopped and awaited on exit.

A migrated embedded database and a DAL, the digits model imported with weight vector v1, a MER
worker with access logging on, a second one with it off, and the plain FastAPI server. Every
process gets the same environment (this one's, less ``MER_*``), so none runs with a different
BLAS or thread setting than another.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from mer_core.dal_client import DalClient
from mer_core.schemas.registry import ModelUpdate, WeightsCreate

from tests.support.procs import (
    MODELS_DIR,
    Service,
    Tokens,
    base_env,
    dal_service,
    free_port,
    service,
    worker_service,
)

MODEL = "digits"
WEIGHTS = "v1"
ONNX_FILE = MODELS_DIR / "digits.onnx"
WEIGHTS_FILE = MODELS_DIR / "digits-v1.safetensors"
PLAIN_SERVER = Path(__file__).resolve().with_name("plain_fastapi_server.py")

T = TypeVar("T")


@dataclass(frozen=True)
class Stack:
    tokens: Tokens
    dal: Service
    mer: Service
    mer_nolog: Service
    fastapi: Service

    def pids(self) -> list[int]:
        return [s.proc.pid for s in (self.dal, self.mer, self.mer_nolog, self.fastapi)]


async def import_model(dal_url: str, tokens: Tokens, max_batch_size: int | None) -> None:
    """The seeded ``digits`` configuration gets its ONNX file and weight vector v1."""
    async with DalClient(dal_url, tokens.admin, timeout=60) as dal:
        onnx = await dal.upload_blob(ONNX_FILE)
        update = ModelUpdate(artifact=onnx.sha256)
        if max_batch_size is not None:
            update = ModelUpdate(artifact=onnx.sha256, max_batch_size=max_batch_size)
        await dal.update_model(MODEL, update)
        weights = await dal.upload_blob(WEIGHTS_FILE)
        await dal.add_weights(MODEL, WeightsCreate(version=WEIGHTS, blob=weights.sha256))
        await dal.update_model(MODEL, ModelUpdate(default_weights=WEIGHTS))


@contextmanager
def plain_fastapi(workdir: Path, tokens: Tokens) -> Iterator[Service]:
    """The baseline server on a free port, in the same environment as MER's processes."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, str(PLAIN_SERVER), "--model", str(ONNX_FILE), "--port", str(port)]
    env = base_env(workdir, tokens)
    with service("fastapi", argv, env, f"{url}/health", url, workdir) as svc:
        yield svc


def enter_together(stack: ExitStack, managers: Sequence[AbstractContextManager[T]]) -> list[T]:
    """Enter ``managers`` at once (a server's start-up is mostly its imports), then hand every
    one that did start to ``stack``, even when another failed or the wait was interrupted."""
    pool = ThreadPoolExecutor(len(managers), thread_name_prefix="start")
    futures = [pool.submit(m.__enter__) for m in managers]
    try:
        wait(futures)
    finally:
        pool.shutdown(wait=True)
        for manager, future in zip(managers, futures, strict=True):
            if future.exception() is None:
                stack.push(manager.__exit__)
    return [f.result() for f in futures]


@contextmanager
def running_stack(workdir: Path, *, max_batch_size: int | None = None) -> Iterator[Stack]:
    """Everything the benchmark talks to; each process is stopped and awaited on the way out."""
    tokens = Tokens()
    with ExitStack() as stack:
        dal, fastapi = enter_together(
            stack,
            [dal_service(workdir / "dal", tokens), plain_fastapi(workdir / "fastapi", tokens)],
        )
        asyncio.run(import_model(dal.url, tokens, max_batch_size))
        mer, mer_nolog = enter_together(
            stack,
            [
                worker_service(workdir / "mer", tokens, dal.url),
                worker_service(
                    workdir / "mer-nolog", tokens, dal.url, MER_ACCESS_LOG_ENABLED="false"
                ),
            ],
        )
        yield Stack(tokens, dal, mer, mer_nolog, fastapi)


def blas_environment() -> dict[str, str]:
    """The BLAS and thread settings every measured process inherits, for the report."""
    keys = ("OPENBLAS", "OMP_", "MKL_", "ORT_")
    return {k: v for k, v in os.environ.items() if k.startswith(keys)}
