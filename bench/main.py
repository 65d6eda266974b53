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
import signal
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
from mer_core.errors import MerError

from bench import ssh_pair
from bench.bare_ort import BareSession, rows
from bench.bodies import WrongAnswer, binary_target, check_answer, json_target
from bench.loadgen import LoadError, pick_load_generator
from bench.plan import Plan
from bench.report import json_line, render
from bench.rounds import run_rounds, settle
from bench.stack import MODEL, ONNX_FILE, WEIGHTS_FILE, Stack, blas_environment, running_stack
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


def local_plan(plan: Plan, servers: Stack, bare: BareSession, holdout: Any, ort_s: float) -> None:
    """Every measure but SSH; each server's answer is checked once first."""
    token = servers.tokens.token
    one, big = rows(holdout, 1), rows(holdout, BINARY_BATCH)
    fastapi = json_target(servers.fastapi.url, MODEL, one, token)
    mer = json_target(servers.mer.url, MODEL, one, token)
    nolog = json_target(servers.mer_nolog.url, MODEL, one, token)
    binary = binary_target(servers.mer.url, MODEL, big, token)
    for name, target, batch in (
        ("plain FastAPI", fastapi, one),
        ("MER", mer, one),
        ("MER, log off", nolog, one),
        ("MER binary", binary, big),
    ):
        check_answer(name, target, bare.run(batch)[0])
    for b in ORT_BATCHES:
        plan.ort(f"ort_b{b}_rows", f"bare onnxruntime, batch {b}", bare, rows(holdout, b), ort_s)
    plan.throughput("fastapi_c32_rps", "plain FastAPI, c32", fastapi, CONNECTIONS)
    plan.throughput("mer_c32_rps", "MER, c32", mer, CONNECTIONS)
    plan.throughput("mer_nolog_c32_rps", "MER log off, c32", nolog, CONNECTIONS)
    plan.p50("fastapi_c1_p50_ms", "plain FastAPI, c1, p50", fastapi)
    plan.p50("mer_c1_p50_ms", "MER, c1, p50", mer)
    label = f"MER binary b{BINARY_BATCH}, c{BINARY_CONNECTIONS}"
    plan.rows("mer_bin256_rows", label, binary, BINARY_BATCH, BINARY_CONNECTIONS)


def rows_per_run(url: str, token: str) -> float | None:
    """Rows per ``session.run`` the worker reports for the model (its dynamic batching at work)."""
    try:
        answer = httpx.get(
            f"{url}/v2/models/{MODEL}/stats",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        stats = answer.json()["model_stats"]
        inferences = sum(s["inference_count"] for s in stats)
        runs = sum(s["execution_count"] for s in stats)
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
    return round(inferences / runs, 2) if runs else None


def bench(args: argparse.Namespace, workdir: Path) -> int:
    gen, gen_line = pick_load_generator(workdir, args.load_generator)
    progress(gen_line)
    holdout = np.load(MODELS_DIR / "digits-holdout.npz")["X"].astype(np.float32)
    bare = BareSession(ONNX_FILE, WEIGHTS_FILE)
    plan = Plan(gen, args.seconds)
    with ExitStack() as stack:
        progress("starting the DAL, two MER workers and the plain FastAPI server ...")
        servers = stack.enter_context(running_stack(workdir))
        local_plan(plan, servers, bare, holdout, args.ort_seconds)
        pids = servers.pids()
        ssh_note = "ssh_vs_direct: skipped (--no-ssh)"
        if not args.no_ssh:
            progress("starting sshd and the remote worker ...")
            pair = stack.enter_context(
                ssh_pair.remote_pair(workdir, servers, rows(holdout, 1), bare)
            )
            ssh_note = pair.note
            if pair.ready:
                plan.throughput(
                    "ssh_c32_rps", "MER through SSH, c32", pair.through_ssh, CONNECTIONS
                )
                plan.throughput(
                    "direct_c32_rps", "remote worker direct, c32", pair.direct, CONNECTIONS
                )
                pids += pair.pids
        progress(ssh_note)
        progress("warming up ...")
        plan.warm_up()
        progress(f"measuring: {args.rounds} rounds of {len(plan.measures)} runs ...")
        samples = run_rounds(plan.measures, args.rounds, lambda: settle(pids))
        token = servers.tokens.token
        batching = {
            "mer": rows_per_run(servers.mer.url, token),
            "mer_nolog": rows_per_run(servers.mer_nolog.url, token),
        }

    ort_rows = {b: samples.median(f"ort_b{b}_rows") for b in ORT_BATCHES}
    print(render(samples, ort_rows, notes(args, gen_line, ssh_note, batching)))
    extra = {
        "load_generator_line": gen_line,
        "rows_per_session_run": batching,
        "config": {"rounds": args.rounds, "seconds": args.seconds, "ort_seconds": args.ort_seconds},
    }
    print(json_line(samples, gen.name, extra), flush=True)
    return 0


def notes(
    args: argparse.Namespace, gen_line: str, ssh_note: str, batching: dict[str, float | None]
) -> list[str]:
    return [
        gen_line,
        "MER and baseline columns are medians over rounds; ratio is the median of the per-round "
        "ratios (each pair measured seconds apart).",
        f"{args.rounds} rounds x {args.seconds:g} s per load run; binary: {BINARY_CONNECTIONS} "
        f"connections x {BINARY_BATCH} rows; plain FastAPI: one uvicorn process, its access log "
        "off.",
        "MER rows per session.run over the whole run (dynamic batching): "
        f"{batching['mer']} with the access log on (1-row JSON and 256-row binary requests), "
        f"{batching['mer_nolog']} with it off (1-row JSON requests)",
        ssh_note,
        f"machine: {os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}, onnxruntime {ort.__version__}; "
        f"BLAS/threads env: {blas_environment() or 'none'}",
    ]


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: every server is stopped and awaited


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
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
