"""Per-model statistics: Triton's ``/v2/models/{m}/stats`` shape and Prometheus ``/metrics``.

Both read the same counters, kept per (model, weight version) as plain integers and bucket
lists: recording a request is a few additions and one ``bisect``. prometheus_client's own metric
objects take a lock and walk the buckets in Python on every observation, which costs more than
the rest of a small model's request, so ``/metrics`` is produced by a collector that reads these
counters at scrape time instead.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from mer_core.schemas.oip import (
    BatchStatistics,
    InferStatistics,
    ModelStatistics,
    StatDuration,
)
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
)  # fmt: skip
"""Seconds."""
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

Gauges = dict[str, tuple[str, Callable[[], float]]]
"""Gauge name -> (help text, reader)."""


class _Histogram:
    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, float]]:
        out, running = [], 0
        for bound, count in zip((*map(str, self.bounds), "+Inf"), self.counts, strict=True):
            running += count
            out.append((bound, float(running)))
        return out


@dataclass
class _Duration:
    count: int = 0
    ns: int = 0

    def public(self) -> StatDuration:
        return StatDuration(count=self.count, ns=self.ns)


@dataclass
class _ModelStats:
    last_inference_ms: int = 0
    inference_count: int = 0
    execution_count: int = 0
    success: _Duration = field(default_factory=_Duration)
    fail: _Duration = field(default_factory=_Duration)
    queue: _Duration = field(default_factory=_Duration)
    compute: _Duration = field(default_factory=_Duration)
    batches: dict[int, _Duration] = field(default_factory=dict)
    total_seconds: _Histogram = field(default_factory=lambda: _Histogram(LATENCY_BUCKETS))
    queue_seconds: _Histogram = field(default_factory=lambda: _Histogram(LATENCY_BUCKETS))
    compute_seconds: _Histogram = field(default_factory=lambda: _Histogram(LATENCY_BUCKETS))
    batch_rows: _Histogram = field(default_factory=lambda: _Histogram(BATCH_BUCKETS))


class Stats:
    """Counters per (model, weight version), for the stats route and the metrics."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, str], _ModelStats] = {}

    def _of(self, model: str, version: str | None) -> _ModelStats:
        key = (model, version or "")
        found = self._models.get(key)
        if found is None:
            found = self._models[key] = _ModelStats()
        return found

    def request(  # noqa: PLR0917 - once per request, where keywords cost
        self,
        model: str,
        version: str | None,
        ok: bool,
        rows: int,
        queue_ns: int,
        compute_ns: int,
        total_ns: int,
    ) -> None:
        """One answered infer request (``compute_ns``: the run of the batch it was part of)."""
        stats = self._of(model, version)
        stats.last_inference_ms = int(time.time() * 1000)
        stats.total_seconds.observe(total_ns / 1e9)
        if not ok:
            stats.fail.count += 1
            stats.fail.ns += total_ns
            return
        stats.success.count += 1
        stats.success.ns += total_ns
        stats.queue.count += 1
        stats.queue.ns += queue_ns
        stats.compute.count += 1
        stats.compute.ns += compute_ns
        stats.inference_count += rows
        stats.queue_seconds.observe(queue_ns / 1e9)

    def batch(self, model: str, version: str | None, rows: int, compute_ns: int) -> None:
        """One ``session.run`` of ``rows`` rows."""
        stats = self._of(model, version)
        stats.execution_count += 1
        duration = stats.batches.get(rows)
        if duration is None:
            duration = stats.batches[rows] = _Duration()
        duration.count += 1
        duration.ns += compute_ns
        stats.batch_rows.observe(rows)
        stats.compute_seconds.observe(compute_ns / 1e9)

    def public(self, model: str | None = None, version: str | None = None) -> list[ModelStatistics]:
        out = []
        for (name, ver), s in sorted(self._models.items()):
            if (model is not None and name != model) or (version is not None and ver != version):
                continue
            out.append(
                ModelStatistics(
                    name=name,
                    version=ver,
                    last_inference=s.last_inference_ms,
                    inference_count=s.inference_count,
                    execution_count=s.execution_count,
                    inference_stats=InferStatistics(
                        success=s.success.public(),
                        fail=s.fail.public(),
                        queue=s.queue.public(),
                        compute_infer=s.compute.public(),
                    ),
                    batch_stats=[
                        BatchStatistics(batch_size=size, compute_infer=d.public())
                        for size, d in sorted(s.batches.items())
                    ],
                )
            )
        return out

    def items(self) -> list[tuple[tuple[str, str], _ModelStats]]:
        return sorted(self._models.items())


class MetricsCollector(Collector):
    """Turns ``Stats`` (and two gauges) into Prometheus metric families at scrape time."""

    def __init__(self, stats: Stats, gauges: Gauges) -> None:
        self._stats = stats
        self._gauges = gauges

    def collect(self) -> Iterator[Metric]:
        labels = ["model", "version"]
        requests = CounterMetricFamily(
            "mer_infer_requests", "Infer requests answered.", labels=[*labels, "outcome"]
        )
        rows = CounterMetricFamily("mer_infer_rows", "Rows inferred.", labels=labels)
        runs = CounterMetricFamily("mer_infer_runs", "session.run calls.", labels=labels)
        histograms = {
            "total_seconds": HistogramMetricFamily(
                "mer_infer_request_seconds", "Infer request time, body to answer.", labels=labels
            ),
            "queue_seconds": HistogramMetricFamily(
                "mer_infer_queue_seconds", "Time waiting for a batch.", labels=labels
            ),
            "compute_seconds": HistogramMetricFamily(
                "mer_infer_compute_seconds", "session.run time per batch.", labels=labels
            ),
            "batch_rows": HistogramMetricFamily(
                "mer_batch_rows", "Rows per session.run.", labels=labels
            ),
        }
        for (model, version), s in self._stats.items():
            values = [model, version]
            requests.add_metric([*values, "ok"], s.success.count)
            requests.add_metric([*values, "error"], s.fail.count)
            rows.add_metric(values, s.inference_count)
            runs.add_metric(values, s.execution_count)
            for attr, family in histograms.items():
                hist: _Histogram = getattr(s, attr)
                family.add_metric(values, hist.cumulative(), sum_value=hist.total)
        yield requests
        yield rows
        yield runs
        yield from histograms.values()
        for name, (text, read) in self._gauges.items():
            yield GaugeMetricFamily(name, text, value=read())


def metrics_registry(
    stats: Stats, gauges: dict[str, tuple[str, Callable[[], float]]]
) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MetricsCollector(stats, gauges))
    return registry
