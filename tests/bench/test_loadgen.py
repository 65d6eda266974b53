"""The load generators against the real plain FastAPI server: counts, latencies, error answers."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bench.bare_ort import BareSession, rows
from bench.bodies import WrongAnswer, check_answer, json_target
from bench.loadgen import AsyncioLoad, LoadGenerator, Target, Wrk, _lua_string
from bench.stack import ONNX_FILE, WEIGHTS_FILE, plain_fastapi
from tests.support.procs import MODELS_DIR, Service, Tokens


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    workdir = tmp_path_factory.mktemp("fastapi")
    with plain_fastapi(workdir, Tokens()) as svc:
        yield svc


@pytest.fixture(scope="module")
def one_row() -> np.ndarray:
    holdout = np.load(MODELS_DIR / "digits-holdout.npz")["X"].astype(np.float32)
    return rows(holdout, 1)


def generators(tmp: Path) -> list[LoadGenerator]:
    found: list[LoadGenerator] = [AsyncioLoad()]
    executable = shutil.which("wrk")
    if executable:
        found.append(Wrk(executable, tmp))
    return found


def test_lua_string_cannot_be_closed_by_its_content() -> None:
    assert _lua_string("abc") == "[[abc]]"
    assert _lua_string("a]]b") == "[=[a]]b]=]"
    assert _lua_string("a]]b]=]c") == "[==[a]]b]=]c]==]"


def test_wrk_is_installed_where_ci_runs() -> None:
    # .ci/run installs Debian's wrk; without it the benchmark falls back and says so.
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed here (apt-get install wrk)")
    assert Wrk(shutil.which("wrk") or "", Path()).version().startswith("wrk")


def test_each_generator_counts_answers_and_latency(
    server: Service, one_row: np.ndarray, tmp_path: Path
) -> None:
    target = json_target(server.url, "digits", one_row, "unused-token")
    for gen in generators(tmp_path):
        result = gen.run(target, 4, 1.0)
        assert result.errors == 0, gen.name
        assert result.requests > 10, gen.name
        assert 0.9 <= result.seconds <= 3.0, gen.name
        assert 0 < result.p50_ms <= result.p99_ms, gen.name
        assert result.rps == pytest.approx(result.requests / result.seconds)


def test_each_generator_counts_error_answers(server: Service, tmp_path: Path) -> None:
    bad = Target(f"{server.url}/v2/models/digits/infer", b'{"inputs": 3}', {})
    for gen in generators(tmp_path):
        result = gen.run(bad, 2, 1.0)
        assert result.errors > 0, gen.name
        assert result.requests == 0, gen.name


def test_check_answer_accepts_onnxruntime_labels_and_refuses_others(
    server: Service, one_row: np.ndarray
) -> None:
    bare = BareSession(ONNX_FILE, WEIGHTS_FILE)
    target = json_target(server.url, "digits", one_row, "unused-token")
    expected = bare.run(one_row)[0]
    check_answer("plain FastAPI", target, expected)
    with pytest.raises(WrongAnswer, match="differ from onnxruntime"):
        check_answer("plain FastAPI", target, (expected + 1) % 10)
    broken = Target(target.url, b"{}", target.headers)
    with pytest.raises(WrongAnswer, match="HTTP 422"):
        check_answer("plain FastAPI", broken, expected)
