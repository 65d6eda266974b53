"""Interleaved rounds: every measure once per round, order reversed every other round.

The machine is small and shared, so one long run per measure would compare a quiet minute with a
busy one. Instead each round runs every measure back to back (A, B, C, then C, B, A), and a ratio
is the median of the per-round ratios: the two sides of each ratio always ran within seconds of
each other. Before each run the servers' processes must have gone quiet (a worker still writing
access logs from the previous run would otherwise slow the next one down).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    unit: str
    run: Callable[[], float]


@dataclass
class Samples:
    """Per-round values of each measure; a measure that failed keeps its reason instead."""

    values: dict[str, list[float]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def median(self, key: str) -> float | None:
        got = self.values.get(key)
        return statistics.median(got) if got and key not in self.failed else None

    def paired_ratio(self, num: str, den: str) -> float | None:
        """Median over rounds of ``num / den``, each pair measured in the same round."""
        if num in self.failed or den in self.failed:
            return None
        pairs = zip(self.values.get(num, []), self.values.get(den, []), strict=False)
        ratios = [a / b for a, b in pairs if b > 0]
        return statistics.median(ratios) if ratios else None


def _cpu_ticks(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def settle(pids: Sequence[int], *, quiet: float = 0.1, timeout: float = 5.0) -> None:
    """Wait until ``pids`` together use under ``quiet`` of one core (or ``timeout`` passes)."""
    if not os.path.isdir("/proc/self"):
        time.sleep(0.5)
        return
    hz = os.sysconf("SC_CLK_TCK")
    window = 0.2
    deadline = time.monotonic() + timeout
    before = _cpu_ticks(pids)
    while time.monotonic() < deadline:
        time.sleep(window)
        after = _cpu_ticks(pids)
        if (after - before) / hz < quiet * window:
            return
        before = after


def run_rounds(
    measures: Sequence[Measure], rounds: int, before_each: Callable[[], None]
) -> Samples:
    samples = Samples({m.key: [] for m in measures})
    for index in range(rounds):
        order = list(measures) if index % 2 == 0 else list(reversed(measures))
        for measure in order:
            if measure.key in samples.failed:
                continue
            before_each()
            try:
                value = measure.run()
            except Exception as exc:  # one broken measure must not hide the others
                samples.failed[measure.key] = f"{type(exc).__name__}: {exc}"
                print(f"  {measure.label}: FAILED: {exc}", file=sys.stderr)
                continue
            samples.values[measure.key].append(value)
            print(
                f"  round {index + 1}/{rounds}  {measure.label:<44} {value:>12.3f} {measure.unit}",
                file=sys.stderr,
            )
    return samples
