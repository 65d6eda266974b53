"""The benchmark run: start everything, check every answer once, measure in rounds, report.

Measures (every one, every round, interleaved; see ``bench.rounds``):

- bare onnxruntime in this process, rows/s at batch 1, 32 and 256;
- 32 connections posting a 1-row JSON request: plain FastAPI, MER (access log on), MER (off);
- 1 connection, the same request: p50 latency of plain FastAPI and of MER;
- MER with binary tensors at batch 256 (``BINARY_CONNECTIONS`` connections), rows/s;
- through SSH vs the same remote worker reached directly (``bench.ssh_pair``), when it can run.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from mer_core.errors import MerError

from bench import ssh_pair
from bench.bare_ort import BareSession, rows
from bench.bodies import WrongAnswer, binary_target, check_answer, json_target
from bench.loadgen import LoadError, LoadGenerator, Target, pick_load_generator
from bench.report import json_line, render
from bench.rounds import Measure, run_rounds, settle
from bench.stack import MODEL, ONNX_FILE, WEIGHTS_FILE, blas_environment, running_stack
from tests.support.procs import MODELS_DIR

CONNECTIONS = 32
BINARY_BATCH = 256
BINARY_CONNECTIONS = 4
"""Enough requests in flight to keep a 2-core machine busy without queueing behind each other."""
ORT_BATCHES = (1, 32, 256)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (default 4)")
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="seconds per load run (default 3)"
    )
    parser.add_argument(
        "--ort-seconds", type=float, default=1.0, help="seconds per bare onnxruntime batch size"
    )
    parser.add_argument("--load-generator", choices=("auto", "wrk", "builtin"), default="auto")
    parser.add_argument("--no-ssh", action="store_true", help="skip the SSH measurement")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and its logs")
    return parser.parse_args(argv)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load(gen: LoadGenerator, target: Target, connections: int, seconds: float) -> Any:
    """One load run; any error answer during it fails the measure (its count is reported)."""
    result = gen.run(target, connections, seconds)
    if result.errors:
        raise LoadError(f"{result.errors} failed requests out of {result.requests + result.errors}")
    if result.requests == 0:
        raise LoadError("no request completed")
    return result


def _throughput(gen: LoadGenerator, target: Target, conns: int, secs: float) -> Callable[[], float]:
    return lambda: float(load(gen, target, conns, secs).rps)


def _p50(gen: LoadGenerator, target: Target, secs: float) -> Callable[[], float]:
    return lambda: float(load(gen, target, 1, secs).p50_ms)


def _rows(gen: LoadGenerator, target: Target, batch: int, secs: float) -> Callable[[], float]:
    return lambda: float(load(gen, target, BINARY_CONNECTIONS, secs).rps * batch)


def bench(args: argparse.Namespace, workdir: Path) -> int:
    gen, gen_line = pick_load_generator(workdir, args.load_generator)
    progress(gen_line)
    holdout = np.load(MODELS_DIR / "digits-holdout.npz")["X"].astype(np.float32)
    one, big = rows(holdout, 1), rows(holdout, BINARY_BATCH)
    bare = BareSession(ONNX_FILE, WEIGHTS_FILE)
    secs = args.seconds

    with ExitStack() as stack:
        progress("starting the DAL, two MER workers and the plain FastAPI server ...")
        servers = stack.enter_context(running_stack(workdir))
        token = servers.tokens.token
        targets = {
            "plain FastAPI": (json_target(servers.fastapi.url, MODEL, one, token), one),
            "MER": (json_target(servers.mer.url, MODEL, one, token), one),
            "MER, log off": (json_target(servers.mer_nolog.url, MODEL, one, token), one),
            "MER binary": (binary_target(servers.mer.url, MODEL, big, token), big),
        }
        for name, (target, batch) in targets.items():
            check_answer(name, target, bare.run(batch)[0])
        fastapi, mer, nolog, binary = (t for t, _ in targets.values())

        measures = [
            Measure(
                f"ort_b{b}_rows",
                f"bare onnxruntime, batch {b}",
                "rows/s",
                _ort(bare, rows(holdout, b), args.ort_seconds),
            )
            for b in ORT_BATCHES
        ]
        measures += [
            Measure(
                "fastapi_c32_rps",
                "plain FastAPI, c32",
                "req/s",
                _throughput(gen, fastapi, CONNECTIONS, secs),
            ),
            Measure("mer_c32_rps", "MER, c32", "req/s", _throughput(gen, mer, CONNECTIONS, secs)),
            Measure(
                "mer_nolog_c32_rps",
                "MER log off, c32",
                "req/s",
                _throughput(gen, nolog, CONNECTIONS, secs),
            ),
            Measure("fastapi_c1_p50_ms", "plain FastAPI, c1, p50", "ms", _p50(gen, fastapi, secs)),
            Measure("mer_c1_p50_ms", "MER, c1, p50", "ms", _p50(gen, mer, secs)),
            Measure(
                "mer_bin256_rows",
                f"MER binary b256, c{BINARY_CONNECTIONS}",
                "rows/s",
                _rows(gen, binary, BINARY_BATCH, secs),
            ),
        ]
        pids = servers.pids()
        warm = [(fastapi, CONNECTIONS), (mer, CONNECTIONS), (nolog, CONNECTIONS)]
        warm.append((binary, BINARY_CONNECTIONS))
        ssh_note = "ssh_vs_direct: skipped (--no-ssh)"
        if not args.no_ssh:
            pair = stack.enter_context(ssh_pair.remote_pair(workdir, servers, one, bare))
            ssh_note = pair.note
            if pair.ready:
                measures += [
                    Measure(
                        "ssh_c32_rps",
                        "MER through SSH, c32",
                        "req/s",
                        _throughput(gen, pair.through_ssh, CONNECTIONS, secs),
                    ),
                    Measure(
                        "direct_c32_rps",
                        "remote worker direct, c32",
                        "req/s",
                        _throughput(gen, pair.direct, CONNECTIONS, secs),
                    ),
                ]
                pids += pair.pids
                warm += [(pair.through_ssh, CONNECTIONS), (pair.direct, CONNECTIONS)]
        progress(ssh_note)

        progress("warming up ...")
        _warm(gen, warm)
        progress(f"measuring: {args.rounds} rounds of {len(measures)} runs, {secs:g} s each ...")
        samples = run_rounds(measures, args.rounds, lambda: settle(pids))

    ort_rows = {b: samples.median(f"ort_b{b}_rows") for b in ORT_BATCHES}
    notes = [
        gen_line,
        "MER and baseline columns are medians over rounds; ratio is the median of the per-round "
        "ratios (each pair measured seconds apart).",
        f"{args.rounds} rounds x {secs:g} s per load run; binary: {BINARY_CONNECTIONS} connections "
        f"x {BINARY_BATCH} rows; plain FastAPI: one uvicorn process, its access log off.",
        ssh_note,
        f"machine: {os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}, onnxruntime {ort.__version__}; "
        f"BLAS/threads env: {blas_environment() or 'none'}",
    ]
    print(render(samples, ort_rows, notes))
    extra = {
        "load_generator_line": gen_line,
        "config": {"rounds": args.rounds, "seconds": secs, "ort_seconds": args.ort_seconds},
    }
    print(json_line(samples, gen.name, extra), flush=True)
    return 0


def _ort(bare: BareSession, batch: Any, seconds: float) -> Callable[[], float]:
    return lambda: bare.rows_per_second(batch, seconds)


def _warm(gen: LoadGenerator, targets: list[tuple[Target, int]]) -> None:
    """A first short run per target, so no round pays for lazy loads and cold caches."""
    for target, connections in targets:
        try:
            gen.run(target, connections, 1.0)
        except LoadError as exc:
            progress(f"  warm-up of {target.url} failed: {exc}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="mer-bench-"))
    try:
        return bench(args, workdir)
    except KeyboardInterrupt:
        progress("interrupted; every process was stopped")
        return 130
    except (WrongAnswer, LoadError, RuntimeError, MerError) as exc:
        progress(f"bench failed: {exc}")
        return 1
    finally:
        if args.keep:
            progress(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
