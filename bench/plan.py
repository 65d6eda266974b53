"""The list of measures a run goes through, and the load runs that warm each server up first."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from bench.bare_ort import BareSession
from bench.loadgen import LoadError, LoadGenerator, LoadResult, Target
from bench.rounds import Measure

WARM_SECONDS = 1.0


def load(gen: LoadGenerator, target: Target, connections: int, seconds: float) -> LoadResult:
    """One load run; any error answer during it fails the measure (its count is reported)."""
    result = gen.run(target, connections, seconds)
    if result.errors:
        raise LoadError(f"{result.errors} failed requests out of {result.requests + result.errors}")
    if result.requests == 0:
        raise LoadError("no request completed")
    return result


@dataclass
class Plan:
    gen: LoadGenerator
    seconds: float
    measures: list[Measure] = field(default_factory=list)
    warm: list[tuple[Target, int]] = field(default_factory=list)

    def ort(self, key: str, label: str, bare: BareSession, batch: Any, seconds: float) -> None:
        self.measures.append(
            Measure(key, label, "rows/s", lambda: bare.rows_per_second(batch, seconds))
        )

    def throughput(self, key: str, label: str, target: Target, connections: int) -> None:
        gen, secs = self.gen, self.seconds
        run = lambda: load(gen, target, connections, secs).rps  # noqa: E731
        self.measures.append(Measure(key, label, "req/s", run))
        self.warm.append((target, connections))

    def p50(self, key: str, label: str, target: Target) -> None:
        gen, secs = self.gen, self.seconds
        self.measures.append(Measure(key, label, "ms", lambda: load(gen, target, 1, secs).p50_ms))

    def rows(self, key: str, label: str, target: Target, batch: int, connections: int) -> None:
        gen, secs = self.gen, self.seconds
        run = lambda: load(gen, target, connections, secs).rps * batch  # noqa: E731
        self.measures.append(Measure(key, label, "rows/s", run))
        self.warm.append((target, connections))

    def warm_up(self) -> None:
        """A first short run per target, so no round pays for lazy loads and cold caches."""
        for target, connections in self.warm:
            try:
                self.gen.run(target, connections, WARM_SECONDS)
            except LoadError as exc:
                print(f"  warm-up of {target.url} failed: {exc}", file=sys.stderr)
