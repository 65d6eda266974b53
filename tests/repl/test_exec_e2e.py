"""``mer exec`` and the commands against a real DAL (embedded SurrealDB) and a real worker."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from mer_core.settings import ReplSettings
from mer_repl.commands import build_registry
from mer_repl.execute import execute
from mer_repl.main import app
from mer_repl.refresher import CatalogRefresher, fetch_catalog
from mer_repl.session import Session
from pydantic import SecretStr
from typer.testing import CliRunner

from tests.repl.cli import mer
from tests.support.procs import MODELS_DIR, Tokens, dal_service, worker_service

pytestmark = pytest.mark.slow

SEED_DESCRIPTION = "Handwritten digit 0-9 from an 8x8 image (MLP); weight vectors v1 and v2."


@dataclass
class Stack:
    env: dict[str, str]
    settings: ReplSettings
    imports: list[tuple[str, int, str, str]]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    tokens = Tokens()
    with (
        dal_service(tmp, tokens) as dal,
        worker_service(tmp, tokens, dal.url) as worker,
    ):
        env = {
            "MER_DAL_URL": dal.url,
            "MER_WORKER_URL": worker.url,
            "MER_TOKEN": tokens.token,
            "MER_ADMIN_TOKEN": tokens.admin,
            "MER_HISTORY_FILE": str(tmp / "history"),
        }
        imports = []
        for i, line in enumerate(
            (
                f"model import iris {MODELS_DIR / 'iris.onnx'} --description 'iris flowers'",
                f"model import digits {MODELS_DIR / 'digits.onnx'}",
                f"weights add digits v1 {MODELS_DIR / 'digits-v1.safetensors'} --note 'seed 1'",
                f"weights add digits v2 {MODELS_DIR / 'digits-v2.safetensors'}",
            )
        ):
            if i == 0:  # the installed script once; the same typer app in-process after
                done = mer("exec", "--allow-config-changes", line, env=env, cwd=tmp)
                imports.append((line, done.returncode, done.stdout, done.stderr))
            else:
                with contextlib.chdir(tmp):
                    res = CliRunner().invoke(app, ["exec", "--allow-config-changes", line], env=env)
                imports.append((line, res.exit_code, res.stdout, res.stderr))
        settings = ReplSettings(
            dal_url=dal.url,
            worker_url=worker.url,
            token=SecretStr(tokens.token),
            admin_token=SecretStr(tokens.admin),
        )
        yield Stack(env, settings, imports)


@pytest.fixture
async def admin(stack: Stack) -> AsyncIterator[Session]:
    async with Session(stack.settings, allow_changes=True) as session:
        yield session


async def run(session: Session, line: str) -> Any:
    """The JSON document of a command that must succeed."""
    outcome = await execute(session, build_registry(), line)
    assert outcome.error is None, outcome.error
    assert outcome.result is not None
    return outcome.result.data


def test_imports_through_the_cli(stack: Stack) -> None:
    for line, code, _, stderr in stack.imports:
        assert code == 0, f"{line}: {stderr}"
        assert "Traceback" not in stderr
    assert "imported model iris from iris.onnx" in stack.imports[0][2]
    assert "inputs: input FP32[?, 64]" in stack.imports[1][2]
    assert "added weights digits/v1: 4 tensors" in stack.imports[2][2]


def test_models_and_servers_as_json(stack: Stack) -> None:
    done = mer("exec", "--output", "json", "models", env=stack.env)
    assert done.returncode == 0, done.stderr
    models = {m["name"]: m for m in json.loads(done.stdout)["data"]}
    assert models["digits"]["versions"] == ["v1", "v2"]
    assert models["digits"]["default_weights"] == "v1"
    assert models["digits"]["description"] == SEED_DESCRIPTION  # the seed was patched, not replaced
    assert models["iris"]["description"] == "iris flowers"
    assert models["iris"]["artifact"] is not None
    table = CliRunner().invoke(app, ["exec", "servers"], env=stack.env)
    assert table.exit_code == 0, table.stderr
    assert "local" in table.stdout
    assert "http://127.0.0.1:8701" in table.stdout
    assert table.stderr == ""


async def test_run_json_literal_matches_onnxruntime(admin: Session) -> None:
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    outcome = await run(admin, f"run iris {json.dumps(rows)}")
    outputs = outcome["outputs"]
    session = ort.InferenceSession(
        str(MODELS_DIR / "iris.onnx"), providers=["CPUExecutionProvider"]
    )
    label, probabilities = session.run(None, {"input": np.asarray(rows, dtype=np.float32)})
    assert outputs["label"] == {"shape": [2], "datatype": "INT64", "data": label.tolist()}
    np.testing.assert_allclose(
        outputs["probabilities"]["data"], probabilities.reshape(-1), rtol=1e-5
    )


async def test_run_npy_csv_and_binary_agree(admin: Session, tmp_path: Path) -> None:
    holdout = np.load(MODELS_DIR / "digits-holdout.npz")
    np.save(tmp_path / "x.npy", holdout["X"])
    answers = []
    for line in (
        f"run digits {MODELS_DIR / 'digits-holdout.csv'} --weights v2",
        f"run digits {tmp_path / 'x.npy'} --weights v2 --binary",
        f"run digits {tmp_path / 'x.npy'} --weights v2 --output-name label",
    ):
        outcome = await run(admin, line)
        answers.append(outcome["outputs"])
    assert answers[0]["label"] == answers[1]["label"] == answers[2]["label"]
    assert list(answers[2]) == ["label"]
    labels = np.asarray(answers[0]["label"]["data"])
    assert labels.shape == (360,)
    assert float(np.mean(labels == holdout["y"])) > 0.95


async def test_weights_pick_the_answer(admin: Session) -> None:
    holdout = np.load(MODELS_DIR / "digits-holdout.npz")
    x = json.dumps(holdout["X"][:40].tolist())
    v1 = await run(admin, f"run digits {x} --weights v1")
    v2 = await run(admin, f"run digits {x} --weights v2")
    p1 = v1["outputs"]["probabilities"]["data"]
    p2 = v2["outputs"]["probabilities"]["data"]
    assert p1 != p2


async def test_logs_show_the_runs(admin: Session) -> None:
    await run(admin, "run iris [[5.1, 3.5, 1.4, 0.2]]")
    outcome = await run(admin, "logs --model iris --limit 3")
    rows = outcome["data"]
    assert 1 <= len(rows) <= 3
    assert {row["model"] for row in rows} == {"iris"}
    assert rows[0]["caller"].startswith("mer:")
    assert rows[0]["outcome"] == "ok"


async def test_settings_placement_and_default(admin: Session, tmp_path: Path) -> None:
    changed = await run(admin, "model set digits max_batch_size=16 threads=2")
    assert changed["max_batch_size"] == 16
    assert changed["intra_op_threads"] == 2
    placed = await run(admin, "model place digits local")
    assert placed["server"] == "local"
    nowhere = await execute(admin, build_registry(), "model place digits nowhere")
    assert nowhere.exit_code == 1
    assert "nowhere" in (nowhere.error or "")
    default = await run(admin, "weights default digits v2")
    assert default["default_weights"] == "v2"
    refused = await execute(admin, build_registry(), "weights rm digits v2")
    assert refused.exit_code == 1
    assert "--force" in (refused.error or "")
    await run(admin, "weights default digits v1")
    exported = await run(admin, f"weights export digits v2 {tmp_path / 'v2.safetensors'}")
    assert exported["size"] == (MODELS_DIR / "digits-v2.safetensors").stat().st_size
    assert (tmp_path / "v2.safetensors").read_bytes() == (
        MODELS_DIR / "digits-v2.safetensors"
    ).read_bytes()


async def test_reimport_needs_replace(admin: Session) -> None:
    outcome = await execute(
        admin, build_registry(), f"model import iris {MODELS_DIR / 'iris.onnx'}"
    )
    assert outcome.exit_code == 1
    assert "add --replace" in (outcome.error or "")


async def test_refresher_reads_names(stack: Stack) -> None:
    async with Session(stack.settings) as session:
        refresher = CatalogRefresher(lambda: fetch_catalog(session))
        refresher.refresh()
        await refresher.wait()
        await refresher.aclose()
    assert refresher.error is None
    assert {"digits", "iris"} <= set(refresher.catalog.models)
    assert refresher.catalog.servers == ("local",)
    assert refresher.catalog.versions["digits"] == ("v1", "v2")


@pytest.mark.parametrize(
    ("line", "code", "message"),
    [
        ("run nosuch [[1, 2, 3, 4]]", 1, "nosuch"),
        ("run iris [[1, 2, 3]]", 2, "input 'input' expects shape [?, 4], INPUT has [1, 3]"),
    ],
)
def test_exit_codes(stack: Stack, line: str, code: int, message: str) -> None:
    done = CliRunner().invoke(app, ["exec", "-o", "json", line], env=stack.env)
    assert done.exit_code == code, done.stderr
    doc = json.loads(done.stdout)
    assert doc["exit_code"] == code
    assert message in doc["error"]
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("line", "code", "message"),
    [
        ("model nosuch", 1, "nosuch"),
        ("server nosuch", 1, "nosuch"),
        ("weights add digits v9 /no/such.safetensors", 2, "no such file"),
        ("weights add digits v9 models/iris.onnx", 2, "no such file"),
        ("model set nosuch device=cpu", 1, "nosuch"),
    ],
)
async def test_failures_in_process(admin: Session, line: str, code: int, message: str) -> None:
    outcome = await execute(admin, build_registry(), line)
    assert outcome.exit_code == code
    assert message in (outcome.error or "")


async def test_servers_read_in_process(admin: Session) -> None:
    outcome = await run(admin, "server local")
    assert outcome["kind"] == "local"
    assert "digits" in outcome["models"]
