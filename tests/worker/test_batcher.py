"""Dynamic batching on real onnxruntime sessions: merging, splitting, idleness, failures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from mer_core.errors import Unavailable
from mer_meal.batcher import Batcher, BatchLimits, RunFailed, RunResult
from mer_meal.sessions import LoadedSession, SessionKey, build_session

from tests.support.procs import MODELS_DIR
from tests.worker.conftest import holdout
from tests.worker.onnx_files import doubler, gather


def load(tmp: Path, name: str, onnx: bytes | None = None) -> LoadedSession:
    if onnx is None:
        path = MODELS_DIR / f"{name}.onnx"
    else:
        path = tmp / f"{name}.onnx"
        path.write_bytes(onnx)
    key = SessionKey(
        artifact=name, weights=None, device="cpu", intra_op_threads=1, inter_op_threads=1
    )
    return build_session(key, name, path, None)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(4)
    yield executor
    executor.shutdown(wait=True)


async def submit(batcher: Batcher, session: LoadedSession, name: str, x: np.ndarray) -> RunResult:
    signature = x.shape[1:] if session.batchable else None
    return await batcher.submit(session, {name: x}, x.shape[0], signature)


async def test_concurrent_callers_each_get_their_own_rows(
    tmp_path: Path, pool: ThreadPoolExecutor
) -> None:
    session = load(tmp_path, "digits")
    batcher = Batcher("digits", pool, BatchLimits(max_batch_size=16, max_queue_delay_s=0.002))
    x = holdout(360)
    slices, start = [], 0
    for i in range(120):
        size = 1 + i % 5
        slices.append(x[start % 300 : start % 300 + size])
        start += size
    results = await asyncio.gather(*[submit(batcher, session, "input", s) for s in slices])
    for piece, result in zip(slices, results, strict=True):
        expected = session.session.run(None, {"input": piece})
        assert np.array_equal(result.outputs[0], expected[0])
        assert np.allclose(result.outputs[1], expected[1], atol=1e-6)
        assert result.outputs[1].shape == (piece.shape[0], 10)
    sizes = [r.batch_size for r in results]
    assert max(sizes) > 5, "concurrent requests were never merged"
    assert max(sizes) <= 16, "a batch went past max_batch_size"
    await batcher.stop()


async def test_a_lone_request_on_an_idle_model_does_not_wait(
    tmp_path: Path, pool: ThreadPoolExecutor
) -> None:
    session = load(tmp_path, "digits")
    batcher = Batcher("digits", pool, BatchLimits(max_batch_size=64, max_queue_delay_s=5.0))
    for _ in range(3):
        started = time.perf_counter()
        result = await submit(batcher, session, "input", holdout(1))
        assert time.perf_counter() - started < 1.0
        assert result.batch_size == 1
    await batcher.stop()


async def test_under_contention_the_queue_delay_fills_a_batch(
    tmp_path: Path, pool: ThreadPoolExecutor
) -> None:
    session = load(tmp_path, "digits")
    batcher = Batcher("digits", pool, BatchLimits(max_batch_size=64, max_queue_delay_s=0.3))
    first = asyncio.ensure_future(submit(batcher, session, "input", holdout(1)))
    await asyncio.sleep(0)  # the first runs at once (idle); the others find it in flight
    late = [asyncio.ensure_future(submit(batcher, session, "input", holdout(1, i))) for i in (1, 2)]
    await asyncio.sleep(0.1)
    late.append(asyncio.ensure_future(submit(batcher, session, "input", holdout(1, 3))))
    results = await asyncio.gather(first, *late)
    assert results[0].batch_size == 1
    assert [r.batch_size for r in results[1:]] == [3, 3, 3], "the delay did not gather them"
    await batcher.stop()


async def test_a_failing_batch_fails_only_the_bad_request(
    tmp_path: Path, pool: ThreadPoolExecutor
) -> None:
    session = load(tmp_path, "gather", gather())
    batcher = Batcher("gather", pool, BatchLimits(max_batch_size=32, max_queue_delay_s=0.05))
    runs: list[int] = []
    real_run = session.run

    def counting_run(feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        runs.append(len(feed["i"]))
        return real_run(feed)

    session.run = counting_run  # type: ignore[method-assign]
    indices = [np.array([1, 2]), np.array([3]), np.array([4, 99]), np.array([0]), np.array([9])]
    outcomes = await asyncio.gather(
        *[submit(batcher, session, "i", i) for i in indices], return_exceptions=True
    )
    table = np.arange(20, dtype=np.float32).reshape(10, 2)
    for idx, outcome in zip(indices, outcomes, strict=True):
        if 99 in idx:
            assert isinstance(outcome, RunFailed)
            assert outcome.status == 400
            assert "model gather could not run this input" in outcome.message
            assert "out of data bounds" in outcome.message
        else:
            assert isinstance(outcome, RunResult), outcome
            assert np.array_equal(outcome.outputs[0], table[idx])
    # the first ran alone (idle); the other four were merged, failed, and each ran again alone
    assert runs == [2, 1 + 2 + 1 + 1, 1, 2, 1, 1]
    after = await submit(batcher, session, "i", np.array([5]))
    assert after.outputs[0].tolist() == [[10.0, 11.0]]
    await batcher.stop()


async def test_requests_with_different_non_batch_dims_are_not_merged(
    tmp_path: Path, pool: ThreadPoolExecutor
) -> None:
    session = load(tmp_path, "doubler", doubler())
    batcher = Batcher("doubler", pool, BatchLimits(max_batch_size=64, max_queue_delay_s=0.05))
    pieces = [np.full((1 + i % 2, 3 if i % 3 else 5), i, dtype=np.float32) for i in range(12)]
    results = await asyncio.gather(*[submit(batcher, session, "x", p) for p in pieces])
    for piece, result in zip(pieces, results, strict=True):
        assert np.array_equal(result.outputs[0], 2 * piece)
    narrow = [r.batch_size for p, r in zip(pieces, results, strict=True) if p.shape[1] == 5]
    wide_rows = sum(p.shape[0] for p in pieces if p.shape[1] == 3)
    assert max(narrow) <= sum(p.shape[0] for p in pieces if p.shape[1] == 5)
    assert any(r.batch_size > 1 for r in results)
    assert all(r.batch_size <= max(wide_rows, *narrow) for r in results)
    await batcher.stop()


async def test_stop_fails_whoever_still_waits(tmp_path: Path) -> None:
    session = load(tmp_path, "digits")
    single = ThreadPoolExecutor(1)
    gate = asyncio.get_running_loop().run_in_executor(single, time.sleep, 0.5)  # busy thread
    batcher = Batcher("digits", single, BatchLimits(max_batch_size=4, max_queue_delay_s=0.0))
    waiting = [
        asyncio.ensure_future(submit(batcher, session, "input", holdout(1))) for _ in range(3)
    ]
    await asyncio.sleep(0.05)
    await batcher.stop()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert any(isinstance(o, Unavailable) for o in outcomes)
    with pytest.raises(Unavailable, match="shutting down"):
        await submit(batcher, session, "input", holdout(1))
    await gate
    single.shutdown(wait=True)
