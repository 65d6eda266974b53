"""Hostile model names and refused access-log rows, against the package's real DAL.

A made-up name gets a clean 400/404 and exactly one access-log row with a printable label; it
never grows the stats or metrics series; a row the DAL refuses is dropped on its own and never
blocks the rows after it, in a flush or in a spool replay.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import numpy as np
import pytest
from mer_core.schemas.registry import LABEL_MAX, safe_label
from mer_meal.access_log import AccessLogger
from mer_meal.dataplane import UNKNOWN
from mer_meal.log_sink import DalLogSink
from mer_meal.spool import Spool
from mer_meal.worker import Worker
from prometheus_client import generate_latest
from pydantic import SecretStr

from tests.support.procs import Dal, free_port, worker_service
from tests.worker.conftest import infer, running, worker_settings

HOSTILE = ["a\x00b", "\x1b[2J", "x" * 5000, "..", "my model", "é-model", "-dash"]
ONES = {"input": np.ones((1, 4), np.float32)}


async def logs_of(dal: Dal, model: str) -> list:  # type: ignore[type-arg]
    async with dal.reader() as reader:
        return (await reader.list_access_logs(model=model, limit=10000)).data


def test_safe_label() -> None:
    assert safe_label("iris") == "iris"
    assert safe_label("a\x00b") == "a\\x00b"
    assert safe_label("\x1b[2J") == "\\x1b[2J"
    assert safe_label("é") == "\\xe9"
    long = safe_label("x" * 5000)
    assert len(long) == LABEL_MAX
    assert long.endswith("...")
    assert all(c.isprintable() for c in safe_label("\x00\x01\x7f\u2028" * 50))


async def test_hostile_names_get_a_clean_answer_and_one_safe_row(dal: Dal, tmp_path: Path) -> None:
    worker = Worker(worker_settings(dal.url, dal.tokens.token, tmp_path, server_name="local"))
    async with running(worker):
        for name in HOSTILE:
            answer, _ = await infer(worker, name, ONES, caller="hostile-test")
            assert answer.status == 400, (name, answer.body)
            assert b"invalid model name" in answer.body
            assert b"\x00" not in answer.body
            assert b"\x1b" not in answer.body
            assert len(answer.body) < 1000
        answer, _ = await infer(worker, "no-such-model", ONES, caller="hostile-test")
        assert answer.status == 404
        answer, _ = await infer(worker, "iris", ONES, "v\x00", caller="hostile-test")
        assert answer.status == 400
        assert b"invalid weights version name" in answer.body
        answer, _ = await infer(worker, "iris", ONES, caller="hostile-test")
        assert answer.status == 200

        stats = {(s.name, s.version) for s in worker.stats.public()}
        assert stats == {(UNKNOWN, ""), ("iris", UNKNOWN), ("iris", "")}
        unknown = next(s for s in worker.stats.public() if (s.name, s.version) == (UNKNOWN, ""))
        assert unknown.inference_stats.fail.count == len(HOSTILE) + 1
        metrics = generate_latest(worker.metrics).decode()
        assert 'model="_unknown"' in metrics
        assert "no-such-model" not in metrics
        assert "my model" not in metrics
        assert "xxxxx" not in metrics
    assert worker.access_log.spool.rows == 0
    assert worker.access_log.dropped == 0
    for name in [*HOSTILE, "no-such-model"]:
        rows = [r for r in await logs_of(dal, safe_label(name)) if r.caller == "hostile-test"]
        assert len(rows) == 1, name
        assert rows[0].outcome == "error"
        assert rows[0].status in {400, 404}
    weights = [r.weights for r in await logs_of(dal, "iris") if r.caller == "hostile-test"]
    assert sorted(weights, key=str) == [None, "v\\x00"]


async def test_hostile_names_over_http(dal: Dal, tmp_path: Path) -> None:
    """Through a real ``mer-meal``: %00, ESC and a long name in the URL."""
    with worker_service(tmp_path, dal.tokens, dal.url) as service:
        headers = {"Authorization": f"Bearer {dal.tokens.token}", "X-Mer-Caller": "http-hostile"}
        body = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1] * 4}]}
        async with httpx.AsyncClient(base_url=service.url, headers=headers) as http:
            for path in ("a%00b", "%1B%5B2J", "y" * 3000):
                answer = await http.post(f"/v2/models/{path}/infer", json=body)
                assert answer.status_code == 400, answer.text
                assert "invalid model name" in answer.json()["error"]
            metrics = (await http.get("/metrics")).text
            assert 'model="_unknown"' in metrics
            assert "yyyy" not in metrics
    for name in ("a\x00b", "\x1b[2J", "y" * 3000):
        rows = [r for r in await logs_of(dal, safe_label(name)) if r.caller == "http-hostile"]
        assert len(rows) == 1, name
    assert "Traceback" not in service.log_text()


async def test_a_refused_row_does_not_block_the_rows_after_it(
    dal: Dal, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = DalLogSink(dal.url, SecretStr(dal.tokens.token))
    spool = Spool(tmp_path / "spool.jsonl")
    logger = AccessLogger(sink, server="local", spool=spool, flush_s=60)
    for i in range(9):
        model = "poison\x00row" if i in {3, 7} else "after-poison"
        logger.record(model=model, weights=None, caller=f"c{i}", ok=True, status=200)
    await logger.flush()
    assert logger.dropped == 2
    assert spool.rows == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "the DAL refused 2 of 9 access-log rows" in errors[0]
    assert "NUL character" in errors[0]
    assert dal.tokens.token not in caplog.text
    assert len(await logs_of(dal, "after-poison")) == 7
    logger.record(model="after-poison", weights=None, caller="later", ok=True, status=200)
    await logger.flush()
    assert spool.rows == 0
    assert len(await logs_of(dal, "after-poison")) == 8
    await sink.aclose()


async def test_a_refused_spooled_row_does_not_block_the_replay(dal: Dal, tmp_path: Path) -> None:
    spool_path = tmp_path / "spool" / "access-log.jsonl"
    down = DalLogSink(f"http://127.0.0.1:{free_port()}", SecretStr(dal.tokens.token), timeout=2)
    logger = AccessLogger(down, server="local", spool=Spool(spool_path), flush_s=60)
    for i in range(5):
        model = "spool\x00poison" if i == 2 else "spool-after-poison"
        logger.record(model=model, weights=None, caller="c", ok=True, status=200)
    await logger.flush()
    assert logger.spool.rows == 5
    await down.aclose()

    up = DalLogSink(dal.url, SecretStr(dal.tokens.token))
    for _ in range(2):  # as after a restart with the same spool
        again = AccessLogger(up, server="local", spool=Spool(spool_path), flush_s=60)
        again.record(model="spool-after-poison", weights=None, caller="new", ok=True, status=200)
        await again.flush()
        assert again.spool.rows == 0
        assert not spool_path.exists()
    rows = await logs_of(dal, "spool-after-poison")
    assert sorted(r.caller for r in rows) == ["c", "c", "c", "c", "new", "new"]
    await up.aclose()
