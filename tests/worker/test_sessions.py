"""Sessions: weight vectors through add_initializer, the LRU budget, shared builds, devices."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from mer_core.errors import Unavailable
from mer_meal.sessions import SessionCache, SessionKey, build_session, choose_providers

from tests.worker.onnx_files import affine, safetensors_of

RNG = np.random.default_rng(7)
W0 = RNG.normal(size=(4, 3)).astype(np.float32)
B0 = RNG.normal(size=3).astype(np.float32)


def key(name: str, weights: str | None = None, device: str = "cpu") -> SessionKey:
    return SessionKey(
        artifact=name, weights=weights, device=device, intra_op_threads=1, inter_op_threads=1
    )


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def test_a_weight_vector_replaces_two_initializers_at_once(tmp_path: Path) -> None:
    w1 = RNG.normal(size=(4, 3)).astype(np.float32)
    b1 = RNG.normal(size=3).astype(np.float32)
    graph = write(tmp_path, "affine.onnx", affine(W0, B0))
    vector = write(tmp_path, "v1.safetensors", safetensors_of(W=w1, B=b1))
    baked = write(tmp_path, "baked.onnx", affine(w1, b1))  # the same graph, new weights inside

    entry = build_session(key("affine", "v1"), "affine", graph, vector)
    assert len(entry.keepalive) == 2
    assert {id(value) for _, value in entry.keepalive} != set()
    del vector
    gc.collect()  # the buffers must live on through the entry, not through the caller

    x = RNG.normal(size=(5, 4)).astype(np.float32)
    reference = ort.InferenceSession(str(baked), providers=["CPUExecutionProvider"])
    original = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    (got,) = entry.run({"x": x})
    (want,) = reference.run(None, {"x": x})
    (before,) = original.run(None, {"x": x})
    assert np.allclose(got, want, atol=1e-6)
    assert np.allclose(want, x @ w1 + b1, atol=1e-5)
    assert not np.allclose(got, before, atol=1e-3), "the weight vector changed nothing"


def test_the_signature_and_provider_come_from_the_session(tmp_path: Path) -> None:
    entry = build_session(key("affine"), "affine", write(tmp_path, "a.onnx", affine(W0, B0)), None)
    assert entry.provider == "CPUExecutionProvider"
    assert entry.inputs["x"].datatype == "FP32"
    assert entry.inputs["x"].shape == (-1, 4)
    assert [o.name for o in entry.outputs] == ["y"]
    assert entry.batchable


def test_a_broken_onnx_file_is_a_clear_503(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="cannot load model broken"):
        build_session(key("broken"), "broken", write(tmp_path, "b.onnx", b"not onnx"), None)


@pytest.mark.skipif(
    "CUDAExecutionProvider" in ort.get_available_providers(), reason="this machine has CUDA"
)
def test_device_policy_without_cuda() -> None:
    with pytest.raises(Unavailable) as caught:
        choose_providers("digits", "cuda")
    assert caught.value.message == (
        "model digits wants device cuda but this worker has no CUDA execution provider "
        "(install onnxruntime-gpu)"
    )
    assert choose_providers("digits", "auto") == ["CPUExecutionProvider"]
    assert choose_providers("digits", "cpu") == ["CPUExecutionProvider"]


async def test_lru_eviction_keeps_the_cache_within_its_budget(tmp_path: Path) -> None:
    files = {
        name: write(tmp_path, f"{name}.onnx", affine(W0 * i, B0)) for i, name in enumerate("abc", 1)
    }
    size = files["a"].stat().st_size
    cache = SessionCache(budget_bytes=2 * size + size // 2)
    evicted: list[str] = []
    cache.on_evict = lambda k: evicted.append(k.artifact)

    def fetch(name: str):  # type: ignore[no-untyped-def]
        async def files_of() -> tuple[Path, Path | None]:
            return files[name], None

        return files_of

    a = await cache.get(key("a"), "a", fetch("a"))
    await cache.get(key("b"), "b", fetch("b"))
    assert cache.peek(key("a")) is a  # a is now the most recently used
    await cache.get(key("c"), "c", fetch("c"))
    assert evicted == ["b"]
    assert cache.peek(key("b")) is None
    assert cache.peek(key("a")) is a
    assert len(cache) == 2
    assert cache.used_bytes <= cache.budget_bytes
    # an evicted session still answers for whoever holds it
    assert a.run({"x": np.ones((1, 4), np.float32)})[0].shape == (1, 3)
    await cache.stop()


async def test_concurrent_requests_for_one_session_share_one_build(tmp_path: Path) -> None:
    path = write(tmp_path, "a.onnx", affine(W0, B0))
    calls = 0

    async def files() -> tuple[Path, Path | None]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return path, None

    cache = SessionCache(budget_bytes=1 << 30)
    entries = await asyncio.gather(*[cache.get(key("a"), "a", files) for _ in range(5)])
    assert calls == 1
    assert all(e is entries[0] for e in entries)
    await cache.stop()


async def test_a_failed_build_is_not_cached(tmp_path: Path) -> None:
    path = write(tmp_path, "a.onnx", b"garbage")

    async def files() -> tuple[Path, Path | None]:
        return path, None

    cache = SessionCache(budget_bytes=1 << 30)
    with pytest.raises(Unavailable):
        await cache.get(key("a"), "a", files)
    path.write_bytes(affine(W0, B0))
    entry = await cache.get(key("a"), "a", files)
    assert entry.run({"x": np.zeros((1, 4), np.float32)})[0].shape == (1, 3)
    await cache.stop()
