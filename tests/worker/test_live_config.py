"""Configuration changes reach a running worker through the revision refresher, no restart;
a request in flight finishes on the configuration and session it started with."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from mer_core.dal_client import DalClient
from mer_core.schemas.registry import ModelUpdate, ServerCreate
from mer_meal.worker import Worker

from tests.support.procs import MODELS_DIR, Dal
from tests.worker.conftest import (
    add_model,
    add_weights,
    holdout,
    infer,
    running,
    worker_settings,
)
from tests.worker.test_dataplane import error_of, reference


async def digits_copy(admin: DalClient, name: str) -> None:
    await add_model(admin, name, (MODELS_DIR / "digits.onnx").read_bytes())
    for version in ("v1", "v2"):
        await add_weights(
            admin, name, version, (MODELS_DIR / f"digits-{version}.safetensors").read_bytes()
        )
    await admin.update_model(name, ModelUpdate(default_weights="v1"))


async def until(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the worker did not see the change in time"
        await asyncio.sleep(0.05)


async def test_a_request_in_flight_keeps_its_weights_when_the_default_switches(
    dal: Dal, admin: DalClient, tmp_path: Path
) -> None:
    await digits_copy(admin, "digits-switch")
    single = ThreadPoolExecutor(1)
    worker = Worker(worker_settings(dal.url, dal.tokens.token, tmp_path), executor=single)
    x = holdout(5, 200)
    async with running(worker):
        _, warm = await infer(worker, "digits-switch", {"input": x})
        assert warm is not None
        assert warm.model_version == "v1"
        gate = threading.Event()
        blocked = asyncio.get_running_loop().run_in_executor(single, gate.wait)
        in_flight = asyncio.ensure_future(infer(worker, "digits-switch", {"input": x}))
        await asyncio.sleep(0.2)
        assert not in_flight.done()
        await admin.update_model("digits-switch", ModelUpdate(default_weights="v2"))
        await until(lambda: worker.repo.cached("digits-switch").default_weights == "v2")  # type: ignore[union-attr]
        later = asyncio.ensure_future(infer(worker, "digits-switch", {"input": x}))
        await asyncio.sleep(0.2)
        gate.set()
        await blocked
        (_, first), (_, second) = await asyncio.gather(in_flight, later)
    single.shutdown(wait=True)
    assert first is not None
    assert second is not None
    assert first.model_version == "v1"
    assert second.model_version == "v2"
    assert np.allclose(first.outputs["probabilities"], reference("v1", x)[1], atol=1e-6)
    assert np.allclose(second.outputs["probabilities"], reference("v2", x)[1], atol=1e-6)


async def test_batching_and_placement_changes_reach_a_running_worker(
    core: Worker, admin: DalClient
) -> None:
    await add_model(admin, "iris-live", (MODELS_DIR / "iris.onnx").read_bytes(), max_batch_size=8)
    x = np.ones((1, 4), np.float32)
    answer, _ = await infer(core, "iris-live", {"input": x})
    assert answer.status == 200
    assert core.targets.cached("iris-live", None).limits.max_batch_size == 8  # type: ignore[union-attr]

    await admin.update_model("iris-live", ModelUpdate(max_batch_size=3, max_queue_delay_us=0))
    await until(lambda: core.repo.cached("iris-live").max_batch_size == 3)  # type: ignore[union-attr]
    await infer(core, "iris-live", {"input": x})
    limits = core.targets.cached("iris-live", None).limits  # type: ignore[union-attr]
    assert (limits.max_batch_size, limits.max_queue_delay_s) == (3, 0.0)

    await admin.create_server(
        ServerCreate(name="far-away", kind="local", worker_url="http://127.0.0.1:9")
    )
    await admin.update_model("iris-live", ModelUpdate(server="far-away"))
    await until(lambda: core.repo.cached("iris-live").server == "far-away")  # type: ignore[union-attr]
    answer, _ = await infer(core, "iris-live", {"input": x})
    assert answer.status == 503
    assert error_of(answer.body) == (
        "model iris-live is placed on server far-away, which this worker cannot reach "
        "(no SSH support configured)"
    )
    await admin.update_model("iris-live", ModelUpdate(server="local"))
    await until(lambda: core.repo.cached("iris-live").server == "local")  # type: ignore[union-attr]
    answer, _ = await infer(core, "iris-live", {"input": x})
    assert answer.status == 200


async def test_a_version_added_a_moment_ago_is_found(core: Worker, admin: DalClient) -> None:
    await digits_copy(admin, "digits-new-version")
    answer, _ = await infer(core, "digits-new-version", {"input": holdout(1)}, "v3")
    assert answer.status == 404
    await add_weights(
        admin, "digits-new-version", "v3", (MODELS_DIR / "digits-v2.safetensors").read_bytes()
    )
    answer, got = await infer(core, "digits-new-version", {"input": holdout(1)}, "v3")
    assert answer.status == 200, answer.body
    assert got is not None
    assert got.model_version == "v3"
