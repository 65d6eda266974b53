"""The demo's claims, on real services: migrator, DAL over embedded SurrealDB, worker.

MER's answers on the held-out digits equal scikit-learn's with the same weights, for each weight
vector, and every answered request (good or bad) leaves exactly one access-log row.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest
from mer_core.dal_client import DalClient
from mer_core.errors import InvalidRequest, NotFound
from mer_core.oip_client import OipClient

from tests.support.demo_models import VERSIONS, holdout, import_demo_models, sklearn_labels
from tests.support.procs import Tokens, dal_service, worker_service

pytestmark = pytest.mark.slow


async def wait_for_log_rows(reader: DalClient, expected: int, timeout: float = 20.0) -> int:
    """Access logs are written off the request path: poll until they are all there."""
    deadline = time.monotonic() + timeout
    count = -1
    while time.monotonic() < deadline:
        count = (await reader.list_access_logs(limit=10_000)).count
        if count >= expected:
            break
        await asyncio.sleep(0.2)
    return count


async def test_accuracy_equals_sklearn_and_one_log_row_per_request(
    tmp_path: Path, tokens: Tokens
) -> None:
    x, y = holdout()
    assert len(y) >= 300
    with dal_service(tmp_path, tokens) as dal, worker_service(tmp_path, tokens, dal.url) as wrk:
        async with DalClient(dal.url, tokens.admin) as admin:
            await import_demo_models(admin)
        answered = 0
        async with OipClient(wrk.url, tokens.token, caller="e2e") as oip:
            for version in VERSIONS:
                # 36 concurrent requests of 10 rows each: the worker batches them.
                chunks = np.array_split(np.arange(len(y)), 36)
                answers = await asyncio.gather(
                    *(oip.infer("digits", {"input": x[idx]}, version=version) for idx in chunks)
                )
                answered += len(chunks)
                served = np.concatenate([a["label"] for a in answers]).astype(np.int64)
                reference = sklearn_labels(version, x)
                assert np.array_equal(served, reference), f"{version}: MER != scikit-learn"
                assert float(np.mean(served == y)) > 0.9
            default = await oip.infer("digits", {"input": x})
            answered += 1
            assert np.array_equal(default["label"], sklearn_labels("v1", x))
            iris = await oip.infer("iris", {"input": np.array([[5.1, 3.5, 1.4, 0.2]], np.float32)})
            answered += 1
            assert iris["label"].tolist() == [0]

            with pytest.raises(NotFound, match="nosuchmodel"):
                await oip.infer("nosuchmodel", {"input": x[:1]})
            with pytest.raises(NotFound, match="v1"):
                await oip.infer("digits", {"input": x[:1]}, version="v9")
            with pytest.raises(InvalidRequest, match="input"):
                await oip.infer("digits", {"input": x[:1, :10]})
            answered += 3

        async with DalClient(dal.url, tokens.token) as reader:
            assert await wait_for_log_rows(reader, answered) == answered
            await asyncio.sleep(1.0)  # nothing more may trickle in
            rows = (await reader.list_access_logs(limit=10_000)).data
        assert len(rows) == answered
        assert len({r.request_id for r in rows}) == answered
        by_outcome = {o: sum(r.outcome == o for r in rows) for o in ("ok", "error")}
        assert by_outcome == {"ok": answered - 3, "error": 3}
        digits_ok = [r for r in rows if r.model == "digits" and r.outcome == "ok"]
        assert sorted({r.weights for r in digits_ok if r.weights}) == ["v1", "v2"]
        assert sum(r.rows for r in digits_ok) == 3 * len(y)
        assert all(r.server == "local" and r.caller == "e2e" for r in rows)
