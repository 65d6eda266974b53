"""A big weight vector's round trip through a real DAL and worker, with times and peak memory.

Builds an ONNX model ``big`` (``input`` FP32 [N, K] -> ReduceSum(MatMul(input, W), axis 1)) whose
initializer W is about ``--mb`` MiB, and a safetensors file holding a different W of the same
shape. Starts a migrated DAL and a worker, uploads both, registers the weights as ``v1``, runs
``v1`` twice (the first run downloads and loads the session), checks the answer against numpy,
and downloads the weights back to check the sha256. Peak memory is each process's high-water
RSS: ``VmHWM`` of the DAL and worker, reset before each phase so each phase's own peak shows, and
``ru_maxrss`` of this client. The files are written in a
child process so that building them does not count against the client.

    .venv/bin/python bench/weights_200mb.py [--mb 200]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make ``tests.support`` importable
    sys.path.insert(0, str(REPO))

from mer_core.dal_client import DalClient  # noqa: E402
from mer_core.oip_client import OipClient  # noqa: E402
from mer_core.schemas.registry import ModelCreate, WeightsCreate  # noqa: E402

from tests.support.procs import Service, Tokens, dal_service, worker_service  # noqa: E402

K = 4096
"""Rows of W; its columns are chosen so that W is about the size asked for."""
ROWS = 2
"""Rows of the input fed to the model."""
MODEL = "big"
SEED_BASE, SEED_V1, SEED_INPUT = 1, 2, 3
MIB = 1 << 20


@dataclass
class Figures:
    """Everything one round trip measured; times in seconds, memory in MiB."""

    weights_mib: float
    onnx_mib: float
    phases: dict[str, dict[str, float]]
    """Per phase: seconds, and the DAL's and worker's peak RSS within it (MiB)."""
    answer_ok: bool
    sha256_ok: bool
    dal_base_mib: float
    dal_peak_mib: float
    worker_base_mib: float
    worker_peak_mib: float
    worker_rss_end_mib: float
    client_base_mib: float
    client_peak_mib: float

    def multiple(self, mib: float) -> float:
        """``mib`` as a multiple of the weight file's size."""
        return mib / self.weights_mib


def columns_for(mb: float) -> int:
    return max(1, round(mb * MIB / 4 / K))


def weights_of(seed: int, columns: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((K, columns), dtype=np.float32)


def input_rows() -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.random.default_rng(SEED_INPUT).uniform(-1, 1, (ROWS, K)).astype(np.float32)


def build_files(folder: Path, columns: int) -> None:
    """Write ``big.onnx`` (W from SEED_BASE), ``v1.safetensors`` (W from SEED_V1) and
    ``expected.npy`` (v1's answer to ``input_rows``)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import save_file

    base = weights_of(SEED_BASE, columns)
    graph = helper.make_graph(
        [
            helper.make_node(
                "Constant", [], ["axes"], value=numpy_helper.from_array(np.array([1], np.int64))
            ),
            helper.make_node("MatMul", ["input", "W"], ["product"]),
            helper.make_node("ReduceSum", ["product", "axes"], ["output"], keepdims=0),
        ],
        MODEL,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", K])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N"])],
        [numpy_helper.from_array(base, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    del base
    onnx.save_model(model, str(folder / "big.onnx"))
    del model, graph
    v1 = weights_of(SEED_V1, columns)
    save_file({"W": v1}, str(folder / "v1.safetensors"))
    # What ``v1`` must answer, in float64.
    np.save(
        folder / "expected.npy", (input_rows().astype(np.float64) @ v1.astype(np.float64)).sum(1)
    )


def proc_mib(pid: int, field: str) -> float:
    """A ``/proc/PID/status`` memory field (``VmHWM``, ``VmRSS``) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while piece := file.read(MIB):
            digest.update(piece)
    return digest.hexdigest()


class Phases:
    """Times each phase and the DAL's and worker's peak RSS within it.

    Before a phase the processes' high-water mark is reset (``5`` into ``/proc/PID/clear_refs``),
    so each phase's ``VmHWM`` is that phase's own peak; where the reset is refused, the peak so far.
    """

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.seen: dict[str, dict[str, float]] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        for pid in self.pids.values():
            with suppress(OSError):
                Path(f"/proc/{pid}/clear_refs").write_text("5")
        start = time.perf_counter()
        yield
        found = {"s": time.perf_counter() - start}
        for role, pid in self.pids.items():
            found[f"{role}_peak_mib"] = proc_mib(pid, "VmHWM")
        self.seen[name] = found

    def peak(self, role: str) -> float:
        return max(found[f"{role}_peak_mib"] for found in self.seen.values())


async def _timed_round_trip(
    dal: Service, worker: Service, tokens: Tokens, folder: Path, phases: Phases
) -> dict[str, Any]:
    onnx_file, weights_file = folder / "big.onnx", folder / "v1.safetensors"
    x = input_rows()
    found: dict[str, Any] = {}
    async with (
        DalClient(dal.url, tokens.admin, timeout=600) as admin,
        OipClient(worker.url, tokens.token, timeout=600) as oip,
    ):
        with phases.phase("upload_onnx"):
            artifact = await admin.upload_blob(onnx_file)
        with phases.phase("upload_weights"):
            blob = await admin.upload_blob(weights_file)
        with phases.phase("create_model"):
            await admin.create_model(ModelCreate(name=MODEL, artifact=artifact.sha256))
        with phases.phase("add_weights"):
            await admin.add_weights(MODEL, WeightsCreate(version="v1", blob=blob.sha256))
        with phases.phase("first_infer"):
            first = await oip.infer(MODEL, {"input": x}, version="v1", binary_inputs=True)
        with phases.phase("second_infer"):
            second = await oip.infer(MODEL, {"input": x}, version="v1", binary_inputs=True)
        with phases.phase("download_weights"):
            back = await admin.download_blob(blob.sha256, folder / "v1-back.safetensors")

    want = np.load(folder / "expected.npy")
    found["answer_ok"] = all(
        np.allclose(np.asarray(got["output"], np.float64), want, rtol=1e-3, atol=1e-2)
        for got in (first, second)
    )
    found["sha256_ok"] = sha256_of(back) == sha256_of(weights_file) == blob.sha256
    found["answer"] = [float(v) for v in np.asarray(first["output"]).ravel()]
    found["expected"] = [float(v) for v in want]
    return found


def round_trip(mb: float, workdir: Path) -> Figures:
    """One measured round trip of a ``mb`` MiB weight vector, everything under ``workdir``."""
    columns = columns_for(mb)
    files = workdir / "files"
    files.mkdir(parents=True, exist_ok=True)
    builder = multiprocessing.get_context("spawn").Process(
        target=build_files, args=(files, columns)
    )
    builder.start()
    builder.join()
    if builder.exitcode != 0:
        raise RuntimeError(f"building the model files failed (exit code {builder.exitcode})")

    client_base = proc_mib(os.getpid(), "VmRSS")
    tokens = Tokens()
    with (
        dal_service(workdir / "stack", tokens) as dal,
        worker_service(workdir / "stack", tokens, dal.url) as worker,
    ):
        dal_base = proc_mib(dal.proc.pid, "VmRSS")
        worker_base = proc_mib(worker.proc.pid, "VmRSS")
        phases = Phases({"dal": dal.proc.pid, "worker": worker.proc.pid})
        found = asyncio.run(_timed_round_trip(dal, worker, tokens, files, phases))
        worker_end = proc_mib(worker.proc.pid, "VmRSS")
    client_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if not found["answer_ok"]:
        raise AssertionError(f"wrong answer: got {found['answer']}, want {found['expected']}")
    return Figures(
        weights_mib=(files / "v1.safetensors").stat().st_size / MIB,
        onnx_mib=(files / "big.onnx").stat().st_size / MIB,
        phases=phases.seen,
        answer_ok=found["answer_ok"],
        sha256_ok=found["sha256_ok"],
        dal_base_mib=dal_base,
        dal_peak_mib=phases.peak("dal"),
        worker_base_mib=worker_base,
        worker_peak_mib=phases.peak("worker"),
        worker_rss_end_mib=worker_end,
        client_base_mib=client_base,
        client_peak_mib=client_peak,
    )


def table(f: Figures) -> str:
    rows = [
        f"weight file {f.weights_mib:.1f} MiB, ONNX file {f.onnx_mib:.1f} MiB; "
        f"answer ok: {f.answer_ok}, sha256 round trip ok: {f.sha256_ok}",
        f"start RSS (MiB): DAL {f.dal_base_mib:.0f}, worker {f.worker_base_mib:.0f}, "
        f"client {f.client_base_mib:.0f}",
        "phase                 time s   DAL peak MiB (x W)   worker peak MiB (x W)",
    ]
    for name, seen in f.phases.items():
        dal, worker = seen["dal_peak_mib"], seen["worker_peak_mib"]
        dal_x = f.multiple(dal - f.dal_base_mib)
        worker_x = f.multiple(worker - f.worker_base_mib)
        rows.append(
            f"{name:18s} {seen['s']:9.3f}   {dal:8.0f} ({dal_x:+5.2f})"
            f"      {worker:8.0f} ({worker_x:+5.2f})"
        )
    rows.append("(x W: growth over the start RSS as a multiple of the weight file's size)")
    for name, base, peak in (
        ("DAL", f.dal_base_mib, f.dal_peak_mib),
        ("worker", f.worker_base_mib, f.worker_peak_mib),
        ("client", f.client_base_mib, f.client_peak_mib),
    ):
        grown = peak - base
        rows.append(
            f"{name:7s} peak RSS {peak:6.0f} MiB, growth {grown:6.0f} MiB "
            f"= {f.multiple(grown):.2f} x W"
        )
    rows.append(f"worker RSS at the end {f.worker_rss_end_mib:.0f} MiB")
    return "\n".join(rows)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200.0, help="size of W in MiB (default 200)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mer-bigweights-") as tmp:
        figures = round_trip(args.mb, Path(tmp))
    print(table(figures))
    print(json.dumps(_rounded(asdict(figures))))
    return 0 if figures.answer_ok and figures.sha256_ok else 1


if __name__ == "__main__":
    sys.exit(main())
