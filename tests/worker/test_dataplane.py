"""The infer path in-process (no HTTP) against the real DAL: weights, errors, answers."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import orjson
from mer_core.dal_client import DalClient
from mer_meal.worker import Worker
from safetensors.numpy import load_file

from tests.support.procs import MODELS_DIR
from tests.worker.conftest import add_model, holdout, infer
from tests.worker.onnx_files import echo_text


def reference(version: str | None, x: np.ndarray) -> list[np.ndarray]:
    """digits run directly by onnxruntime, with weight vector ``version`` baked in."""
    options = ort.SessionOptions()
    keep = []
    if version is not None:
        for name, array in load_file(str(MODELS_DIR / f"digits-{version}.safetensors")).items():
            value = ort.OrtValue.ortvalue_from_numpy(array)
            options.add_initializer(name, value)
            keep.append((array, value))
    session = ort.InferenceSession(
        str(MODELS_DIR / "digits.onnx"), options, providers=["CPUExecutionProvider"]
    )
    outputs: list[np.ndarray] = session.run(None, {"input": x})
    return outputs


def error_of(body: bytes) -> str:
    doc = orjson.loads(body)
    assert set(doc) >= {"error", "kind"}
    return str(doc["error"])


async def test_versions_pick_their_weight_vector(core: Worker) -> None:
    x = holdout(20)
    _, default = await infer(core, "digits", {"input": x})
    _, v2 = await infer(core, "digits", {"input": x}, "v2")
    assert default is not None
    assert v2 is not None
    assert default.model_version == "v1"
    assert v2.model_version == "v2"
    for got, version in ((default, "v1"), (v2, "v2")):
        label, probabilities = reference(version, x)
        assert np.array_equal(got.outputs["label"], label)
        assert np.allclose(got.outputs["probabilities"], probabilities, atol=1e-6)
    assert not np.allclose(default.outputs["probabilities"], v2.outputs["probabilities"])


async def test_binary_and_json_answers_are_identical(core: Worker) -> None:
    x = holdout(7, 100)
    _, as_json = await infer(core, "digits", {"input": x}, "v2")
    answer, as_binary = await infer(core, "digits", {"input": x}, "v2", binary=True)
    assert answer.headers["content-type"] == "application/octet-stream"
    assert as_json is not None
    assert as_binary is not None
    for name in ("label", "probabilities"):
        assert np.array_equal(as_json.outputs[name], as_binary.outputs[name])
        assert as_json.outputs[name].dtype == as_binary.outputs[name].dtype


async def test_outputs_filter_and_id_echo(core: Worker) -> None:
    _, got = await infer(
        core, "iris", {"input": np.ones((2, 4), np.float32)}, outputs=["label"], request_id="abc-1"
    )
    assert got is not None
    assert list(got.outputs) == ["label"]
    assert got.id == "abc-1"
    assert got.model_name == "iris"
    assert got.model_version is None


async def test_bad_requests_are_answered_with_what_is_wrong(core: Worker) -> None:
    x = holdout(2)
    cases = [
        ("nope", None, {"input": x}, 404, "unknown model 'nope'"),
        ("digits", "v9", {"input": x}, 404,
         "model digits has no version 'v9'; available versions: v1, v2"),
        ("digits", None, {"input": x[:, :10]}, 400,
         "input 'input': shape [2, 10] given, model digits expects [-1, 64]"),
        ("digits", None, {"input": x.astype(np.float64)}, 400,
         "input 'input': datatype FP64 given, model digits expects FP32"),
        ("digits", None, {"pixels": x}, 400,
         "model digits has no input 'pixels'; its inputs are: input (FP32 [-1, 64])"),
        ("digits", None, {"input": x[0]}, 400, "input 'input': shape [64] given"),
    ]  # fmt: skip
    for model, version, inputs, status, message in cases:
        answer, _ = await infer(core, model, inputs, version)
        assert answer.status == status, answer.body
        assert message in error_of(answer.body)
    answer = await core.dataplane.infer("digits", None, b'{"inputs": [', {}, "t")
    assert answer.status == 400
    assert "not valid JSON" in error_of(answer.body)
    answer, _ = await infer(core, "digits", {"input": x}, outputs=["logits"])
    assert answer.status == 400
    assert "model digits has no output 'logits'; its outputs are: label, probabilities" in error_of(
        answer.body
    )
    answer = await core.dataplane.infer(
        "digits", None, b"{}", {"inference-header-content-length": "x"}, "t"
    )
    assert answer.status == 400


async def test_text_tensors_reach_onnxruntime_from_json_and_binary(
    core: Worker, admin: DalClient
) -> None:
    await add_model(admin, "echo-text", echo_text())
    words = np.array(["héllo", "", "world"], dtype=object)
    for binary in (False, True):
        answer, got = await infer(core, "echo-text", {"x": words}, binary=binary)
        assert answer.status == 200, answer.body
        assert got is not None
        assert [w.decode() if isinstance(w, bytes) else w for w in got.outputs["y"]] == list(words)


async def test_stats_count_requests_rows_and_runs(core: Worker) -> None:
    x = holdout(3)
    for _ in range(4):
        await infer(core, "iris", {"input": np.ones((3, 4), np.float32)})
    await infer(core, "iris", {"input": x})  # wrong shape
    (stats,) = core.stats.public("iris")
    assert stats.inference_stats.success.count == 4
    assert stats.inference_stats.fail.count == 1
    assert stats.inference_count == 12
    assert 1 <= stats.execution_count <= 4
    assert stats.inference_stats.compute_infer.ns > 0
    assert sum(b.compute_infer.count for b in stats.batch_stats) == stats.execution_count
