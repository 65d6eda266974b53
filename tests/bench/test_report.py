"""The table and the final JSON line: goals, ratios, what was not measured."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from bench.report import GOALS, json_line, render
from bench.rounds import Measure, Samples, run_rounds

KEYS = {g.key for g in GOALS}


def samples() -> Samples:
    return Samples(
        {
            "mer_c32_rps": [6000.0, 5000.0, 7000.0],
            "fastapi_c32_rps": [1000.0, 1000.0, 1000.0],
            "mer_nolog_c32_rps": [6000.0, 5000.0, 7000.0],
            "mer_c1_p50_ms": [0.4, 0.6, 0.5],
            "fastapi_c1_p50_ms": [0.8, 0.8, 0.8],
            "mer_bin256_rows": [100.0, 100.0, 100.0],
            "ort_b256_rows": [1000.0, 1000.0, 1000.0],
        }
    )


def test_ratios_are_medians_of_per_round_pairs() -> None:
    doc = json.loads(json_line(samples(), "wrk", {}))
    assert set(doc) == KEYS | {"load_generator", "raw"}
    assert doc["throughput_c32_vs_fastapi"] == 6.0
    assert doc["p50_c1_vs_fastapi"] == 0.625
    assert doc["binary_b256_vs_ort"] == 0.1
    assert doc["logging_on_vs_off"] == 1.0
    assert doc["ssh_vs_direct"] is None
    assert doc["raw"]["median"]["mer_c32_rps"] == 6000.0


def test_table_says_which_goals_are_met() -> None:
    text = render(samples(), {256: 1000.0}, ["load generator: wrk"])
    lines = {line.split("(")[0].strip(): line for line in text.splitlines()}
    assert lines["throughput, 32 clients, JSON, 1 row"].endswith("yes")
    assert lines["binary tensors, batch 256"].endswith("NO")
    assert lines["throughput, 32 clients, through SSH vs direct"].endswith("not measured")
    assert "note: load generator: wrk" in text


def test_a_failing_measure_is_reported_and_the_others_still_run() -> None:
    calls: list[str] = []

    def good() -> float:
        calls.append("good")
        return 2.0

    def bad() -> float:
        calls.append("bad")
        raise RuntimeError("server answered 500")

    measures = [Measure("a", "a", "x", good), Measure("b", "b", "x", bad)]
    got = run_rounds(measures, 3, lambda: None)
    assert got.values["a"] == [2.0, 2.0, 2.0]
    assert got.failed == {"b": "RuntimeError: server answered 500"}
    assert calls.count("bad") == 1
    assert got.paired_ratio("a", "b") is None
    assert got.median("b") is None


@pytest.mark.parametrize("rounds", [1, 2])
def test_rounds_alternate_their_order(rounds: int) -> None:
    order: list[str] = []

    def recorder(key: str) -> Callable[[], float]:
        def run() -> float:
            order.append(key)
            return 1.0

        return run

    measures = [Measure(k, k, "x", recorder(k)) for k in "abc"]
    run_rounds(measures, rounds, lambda: None)
    assert order == ["a", "b", "c", "c", "b", "a"][: 3 * rounds]
