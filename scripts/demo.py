"""`make demo`: MER end to end on real input, through the driver, with an embedded database.

Starts a fresh stack (migrator, DAL over embedded SurrealDB, worker) under ``.mer/demo``, imports
the demo models and the two digits weight vectors, classifies the held-out digits split through
the worker with each weight vector, and prints each accuracy beside scikit-learn's on the same
rows with the same weights. Then it switches the default weight vector, shows the last
access-log rows and stops the stack. Every step is a `mer` command, as an operator would type it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
STATE = ROOT / ".mer" / "demo"
MER = str(Path(sys.executable).parent / "mer")
sys.path.insert(0, str(MODELS))

import train_demo_models as demo_models  # noqa: E402


class DemoFailed(Exception):
    """A step of the demo failed; its message says which and why."""


def demo_env() -> dict[str, str]:
    """The demo's own state dir, database and ports, so it never touches a stack of `make up`."""
    env = dict(os.environ)
    env.update(
        MER_DAL_PORT=os.environ.get("MER_DEMO_DAL_PORT", "8710"),
        MER_WORKER_PORT=os.environ.get("MER_DEMO_WORKER_PORT", "8711"),
    )
    env.update(
        MER_STATE_DIR=str(STATE),
        MER_DB_URL=f"surrealkv://{STATE / 'db'}",
        MER_CACHE_DIR=str(STATE / "cache"),
        MER_SPOOL_DIR=str(STATE / "spool"),
        MER_HISTORY_FILE=str(STATE / "history"),
        MER_DAL_URL=f"http://127.0.0.1:{env['MER_DAL_PORT']}",
        MER_WORKER_URL=f"http://127.0.0.1:{env['MER_WORKER_PORT']}",
    )
    return env


def mer(env: dict[str, str], *args: str, show: bool = True) -> str:
    """Run one `mer` command, echo it and its output, and fail the demo if it fails."""
    print(f"\n$ mer {shlex.join(args)}", flush=True)
    done = subprocess.run(
        [MER, *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    if show and done.stdout.strip():
        print(done.stdout.rstrip())
    if done.returncode != 0:
        command = shlex.join(args)
        raise DemoFailed(f"`mer {command}` exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def change(env: dict[str, str], command: str) -> None:
    mer(env, "exec", "--allow-config-changes", command)


def served_labels(env: dict[str, str], weights: str | None) -> np.ndarray[Any, Any]:
    """Classify the held-out CSV through the worker; the labels it answered."""
    command = f"run digits {MODELS / 'digits-holdout.csv'}"
    if weights:
        command += f" --weights {weights}"
    answer = json.loads(mer(env, "exec", "--output", "json", command, show=False))
    label = answer["outputs"]["label"]
    print(f"  answered {label['shape'][0]} rows ({label['datatype']})")
    return np.asarray(label["data"], dtype=np.int64)


def sklearn_labels(version: str, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """scikit-learn's own predictions with the tensors of weight vector ``version``."""
    manifest = json.loads((MODELS / "manifest.json").read_text())["models"]["digits"]
    layout = [(t["name"], tuple(t["shape"])) for t in manifest["weight_initializers"]]
    tensors = load_file(str(MODELS / demo_models.weights_file(version)))
    model = demo_models.sklearn_mlp_from_tensors(tensors, layout, x, 10)
    return np.asarray(model.predict(x), dtype=np.int64)


def start(env: dict[str, str]) -> None:
    """`mer up`, with a hint when a port is taken (a `make up` stack, another demo)."""
    try:
        mer(env, "up")
    except DemoFailed as exc:
        if "already in use" not in str(exc).lower():
            raise
        ports = f"{env['MER_DAL_PORT']}/{env['MER_WORKER_PORT']}"
        hint = f"set MER_DEMO_DAL_PORT / MER_DEMO_WORKER_PORT to free ports (the demo uses {ports})"
        raise DemoFailed(f"{exc}\nhint: {hint}") from None


def run_demo(env: dict[str, str]) -> None:
    mer(env, "exec", "servers")
    change(env, f"model import iris {MODELS / 'iris.onnx'}")
    change(env, f"model import digits {MODELS / 'digits.onnx'}")
    for version in ("v1", "v2"):
        change(
            env,
            f"weights add digits {version} {MODELS / demo_models.weights_file(version)}"
            f" --note 'MLP trained with seed {version[1:]}'",
        )
    change(env, "weights default digits v1")
    mer(env, "exec", "models")
    mer(env, "exec", "weights digits")
    mer(env, "exec", "run iris [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]")

    x, y = demo_models.load_holdout(MODELS)
    print(f"\nHeld-out digits: {len(y)} real 8x8 images from scikit-learn's digits set.")
    results: dict[str, tuple[float, float]] = {}
    for version in ("v1", "v2"):
        served = served_labels(env, version)
        reference = sklearn_labels(version, x)
        if not np.array_equal(served, reference):
            differ = int(np.sum(served != reference))
            raise DemoFailed(f"weights {version}: MER and scikit-learn differ on {differ} rows")
        results[version] = (float(np.mean(served == y)), float(np.mean(reference == y)))

    print("\nWeight switch: `weights default digits v2`, then the same rows with no --weights.")
    change(env, "weights default digits v2")
    switched = served_labels(env, None)
    if not np.array_equal(switched, sklearn_labels("v2", x)):
        raise DemoFailed("after `weights default digits v2` the default did not answer with v2")
    mer(env, "exec", "logs --limit 5")

    print("\n== digits held-out accuracy, MER worker vs scikit-learn (same rows, same weights) ==")
    for version, (served_acc, sklearn_acc) in results.items():
        verdict = "equal" if served_acc == sklearn_acc else "DIFFERENT"
        print(
            f"weights {version}: MER {served_acc:.4f}   scikit-learn {sklearn_acc:.4f}   "
            f"({verdict}, {len(y)} rows)"
        )
    print(f"default switched to v2: MER answered with v2 on all {len(y)} rows")


def main() -> int:
    if STATE.exists():
        shutil.rmtree(STATE)
    STATE.mkdir(parents=True)
    env = demo_env()
    try:
        start(env)
        run_demo(env)
    except DemoFailed as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        for log in sorted((STATE / "logs").glob("*.log")):
            print(f"--- last lines of {log}", file=sys.stderr)
            print("\n".join(log.read_text(errors="replace").splitlines()[-15:]), file=sys.stderr)
        return 1
    finally:
        subprocess.run([MER, "down"], env=env, cwd=ROOT, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
