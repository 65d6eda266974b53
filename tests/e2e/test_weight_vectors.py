"""Weight vectors on real services: a default switch under load, and dtype refusals."""

from __future__ import annotations

import asyncio
import json
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from mer_core.dal_client import DalClient
from mer_core.errors import InvalidRequest
from mer_core.oip_client import OipClient
from mer_core.schemas.registry import ModelUpdate, WeightsCreate

from tests.e2e.test_demo_claims import wait_for_log_rows
from tests.support.demo_models import holdout, import_demo_models, sklearn_labels
from tests.support.procs import Tokens, dal_service, worker_service

pytestmark = pytest.mark.slow


def raw_safetensors(name: str, dtype: str, shape: list[int], itemsize: int) -> bytes:
    """A safetensors file written by hand: numpy has no BF16, safetensors' writer needs one."""
    size = int(np.prod(shape)) * itemsize
    header = json.dumps({name: {"dtype": dtype, "shape": shape, "data_offsets": [0, size]}})
    encoded = header.encode()
    return struct.pack("<Q", len(encoded)) + encoded + bytes(size)


async def test_default_switch_under_load_fails_nothing_and_logs_the_right_versions(
    tmp_path: Path, tokens: Tokens
) -> None:
    x, _ = holdout()
    expected = {v: sklearn_labels(v, x) for v in ("v1", "v2")}
    with dal_service(tmp_path, tokens) as dal, worker_service(tmp_path, tokens, dal.url) as wrk:
        async with DalClient(dal.url, tokens.admin) as admin:
            await import_demo_models(admin, default="v1")
            switched = asyncio.Event()
            answers: list[tuple[str | None, np.ndarray]] = []

            async with OipClient(wrk.url, tokens.token) as oip:

                async def client(seed: int) -> None:
                    rng = np.random.default_rng(seed)
                    # Until the switch has reached the worker (its refresher polls the registry's
                    # revision) and v2 has answered a few requests.
                    while not switched.is_set() or sum(v == "v2" for v, _ in answers) < 20:
                        idx = rng.choice(len(x), size=4, replace=False)
                        answer = await oip.infer_response("digits", {"input": x[idx]})
                        label = answer.outputs["label"].astype(np.int64)
                        version = answer.model_version
                        assert version in expected, version
                        assert np.array_equal(label, expected[version][idx]), version
                        answers.append((version, label))

                async def switch() -> None:
                    while len(answers) < 60:
                        await asyncio.sleep(0.01)
                    await admin.update_model("digits", ModelUpdate(default_weights="v2"))
                    switched.set()

                await asyncio.wait_for(
                    asyncio.gather(*(client(s) for s in range(8)), switch()), timeout=120
                )
            by_version = Counter(version for version, _ in answers)
            assert by_version["v1"] >= 60, by_version
            assert by_version["v2"] >= 20, by_version

        async with DalClient(dal.url, tokens.token) as reader:
            assert await wait_for_log_rows(reader, len(answers)) == len(answers)
            rows = (await reader.list_access_logs(model="digits", limit=10_000)).data
        assert all(r.outcome == "ok" for r in rows)
        assert Counter(r.weights for r in rows) == by_version


@pytest.mark.parametrize(
    ("dtype", "itemsize", "shape", "message"),
    [
        ("BF16", 2, [64, 64], "'coefficient' is BF16 but the model's initializer is FP32"),
        ("F16", 2, [64, 64], "'coefficient' is FP16 but the model's initializer is FP32"),
        ("F32", 4, [64, 63], "coefficient"),
    ],
)
async def test_weight_vector_with_wrong_dtype_or_shape_is_refused_naming_the_tensor(
    tmp_path: Path, tokens: Tokens, dtype: str, itemsize: int, shape: list[int], message: str
) -> None:
    with dal_service(tmp_path, tokens) as dal:
        async with DalClient(dal.url, tokens.admin) as admin:
            await import_demo_models(admin)
            blob = await admin.upload_blob(raw_safetensors("coefficient", dtype, shape, itemsize))
            with pytest.raises(InvalidRequest, match=message):
                await admin.add_weights("digits", WeightsCreate(version="bad", blob=blob.sha256))
            versions = (await admin.get_model("digits")).versions
        assert "bad" not in versions
