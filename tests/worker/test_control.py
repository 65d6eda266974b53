"""Model metadata, readiness and Triton's repository extension, in-process."""

from __future__ import annotations

import numpy as np
import pytest
from mer_core.dal_client import DalClient
from mer_core.errors import InvalidRequest, NotFound
from mer_core.schemas.oip import RepositoryIndexEntry
from mer_core.schemas.registry import ServerCreate
from mer_meal.worker import Worker

from tests.support.procs import MODELS_DIR
from tests.worker.conftest import add_model, infer


async def test_metadata_reports_signature_weights_and_the_provider_in_use(core: Worker) -> None:
    before = await core.control.metadata("digits", None)
    assert before.name == "digits"
    assert before.versions == ["v1", "v2"]
    assert [(t.name, t.datatype, t.shape) for t in before.inputs] == [("input", "FP32", [-1, 64])]
    assert [t.name for t in before.outputs] == ["label", "probabilities"]
    assert before.parameters["weights"] == "v1"
    assert before.parameters["loaded"] is False
    assert before.parameters["provider"] is None
    await infer(core, "digits", {"input": np.zeros((1, 64), np.float32)}, "v2")
    after = await core.control.metadata("digits", "v2")
    assert after.parameters["weights"] == "v2"
    assert after.parameters["loaded"] is True
    assert after.parameters["provider"] == "CPUExecutionProvider"
    with pytest.raises(NotFound, match="available versions: v1, v2"):
        await core.control.metadata("digits", "v5")
    with pytest.raises(NotFound, match="unknown model 'ghost'"):
        await core.control.metadata("ghost", None)


async def test_readiness_says_why_not(core: Worker, admin: DalClient) -> None:
    assert (await core.control.ready("iris", None)).ready
    await admin.create_server(
        ServerCreate(name="gpu-box", kind="local", worker_url="http://127.0.0.1:9")
    )
    await add_model(admin, "iris-cuda", (MODELS_DIR / "iris.onnx").read_bytes(), device="cuda")
    await add_model(admin, "iris-away", (MODELS_DIR / "iris.onnx").read_bytes(), server="gpu-box")
    away = await core.control.ready("iris-away", None)
    assert not away.ready
    assert "placed on server gpu-box" in away.reason
    cuda = await core.control.ready("iris-cuda", None)
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        assert not cuda.ready
        assert "wants device cuda but this worker has no CUDA execution provider" in cuda.reason
        answer, _ = await infer(core, "iris-cuda", {"input": np.ones((1, 4), np.float32)})
        assert answer.status == 503
        assert b"install onnxruntime-gpu" in answer.body


async def test_repository_index_load_and_unload(core: Worker) -> None:
    def state(entries: list[RepositoryIndexEntry], name: str) -> str:
        return next(e.state for e in entries if e.name == name)

    index = await core.control.index()
    names = {e.name for e in index}
    assert {"iris", "digits"} <= names
    assert state(index, "iris") == "UNAVAILABLE"
    target = await core.control.load("iris")
    assert target.model == "iris"
    assert state(await core.control.index(), "iris") == "READY"
    assert await core.control.unload("iris") == 1
    assert state(await core.control.index(), "iris") == "UNAVAILABLE"
    answer, _ = await infer(core, "iris", {"input": np.ones((1, 4), np.float32)})
    assert answer.status == 200  # an unloaded model loads again on demand
    with pytest.raises(NotFound):
        await core.control.load("ghost")


async def test_a_remote_model_is_not_loaded_here(core: Worker, admin: DalClient) -> None:
    await admin.create_server(
        ServerCreate(name="edge-x", kind="local", worker_url="http://127.0.0.1:9")
    )
    await add_model(admin, "iris-edge", (MODELS_DIR / "iris.onnx").read_bytes(), server="edge-x")
    with pytest.raises(InvalidRequest, match="placed on server edge-x: load it on that server"):
        await core.control.load("iris-edge")
