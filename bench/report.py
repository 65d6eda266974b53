"""The table a person reads and the JSON line a machine reads (always the last line of stdout)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.rounds import Samples


@dataclass(frozen=True)
class Goal:
    """``key`` = MER's ``num`` over the baseline's ``den``; met when it is ``op`` ``target``."""

    key: str
    label: str
    unit: str
    num: str
    den: str
    baseline: str
    op: str
    target: float

    def met(self, ratio: float | None) -> bool | None:
        if ratio is None:
            return None
        return ratio >= self.target if self.op == ">=" else ratio <= self.target


GOALS = (
    Goal(
        "throughput_c32_vs_fastapi",
        "throughput, 32 clients, JSON, 1 row",
        "req/s",
        "mer_c32_rps",
        "fastapi_c32_rps",
        "plain FastAPI",
        ">=",
        5.0,
    ),
    Goal(
        "p50_c1_vs_fastapi",
        "p50 latency, 1 client, JSON, 1 row",
        "ms",
        "mer_c1_p50_ms",
        "fastapi_c1_p50_ms",
        "plain FastAPI",
        "<=",
        1.0,
    ),
    Goal(
        "binary_b256_vs_ort",
        "binary tensors, batch 256",
        "rows/s",
        "mer_bin256_rows",
        "ort_b256_rows",
        "bare onnxruntime",
        ">=",
        0.5,
    ),
    Goal(
        "logging_on_vs_off",
        "throughput, 32 clients, access log on vs off",
        "req/s",
        "mer_c32_rps",
        "mer_nolog_c32_rps",
        "MER, log off",
        ">=",
        0.95,
    ),
    Goal(
        "ssh_vs_direct",
        "throughput, 32 clients, through SSH vs direct",
        "req/s",
        "ssh_c32_rps",
        "direct_c32_rps",
        "remote direct",
        ">=",
        0.7,
    ),
)


def _num(value: float | None, unit: str = "") -> str:
    if value is None or math.isnan(value):
        return "-"
    if unit == "ms" or abs(value) < 10:
        return f"{value:.3f}"
    return f"{value:,.0f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def ratios(samples: Samples) -> dict[str, float | None]:
    return {g.key: samples.paired_ratio(g.num, g.den) for g in GOALS}


def render(samples: Samples, ort_rows: dict[int, float | None], notes: Sequence[str]) -> str:
    got = ratios(samples)
    rows = []
    for g in GOALS:
        ratio = got[g.key]
        met = g.met(ratio)
        rows.append(
            [
                f"{g.label} ({g.unit})",
                _num(samples.median(g.num), g.unit),
                f"{_num(samples.median(g.den), g.unit)} ({g.baseline})",
                _num(ratio),
                f"{g.op} {g.target:g}",
                {True: "yes", False: "NO", None: "not measured"}[met],
            ]
        )
    lines = _table(["measure", "MER", "baseline", "ratio", "goal", "met?"], rows, {1, 2, 3})
    lines.append("")
    lines += _table(
        ["bare onnxruntime, in-process", "rows/s"],
        [[f"batch {b}", _num(v)] for b, v in ort_rows.items()],
        {1},
    )
    lines.append("")
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)


def json_line(samples: Samples, load_generator: str, extra: dict[str, Any]) -> str:
    """The final line: the goal ratios (3 places, null when not measured) and the raw figures."""
    doc: dict[str, Any] = {
        k: (round(v, 3) if v is not None else None) for k, v in ratios(samples).items()
    }
    doc["load_generator"] = load_generator
    doc["raw"] = {
        "median": {k: _round(samples.median(k)) for k in samples.values},
        "rounds": {k: [_round(v) for v in vs] for k, vs in samples.values.items()},
        "failed": samples.failed,
        **extra,
    }
    return json.dumps(doc, separators=(",", ":"))


def _round(value: float | None) -> float | None:
    if value is None:
        return None
    return round(value, 3)
