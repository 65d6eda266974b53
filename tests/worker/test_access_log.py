"""Access logs: one row per answered request, spooled while the DAL is away, replayed once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import orjson
import pytest
from mer_core.dal_client import DalClient
from mer_meal import access_log
from mer_meal.access_log import AccessLogger
from mer_meal.log_sink import DalLogSink
from mer_meal.spool import Spool
from mer_meal.worker import Worker
from pydantic import SecretStr

from tests.support.procs import MODELS_DIR, Dal, free_port
from tests.worker.conftest import add_model, holdout, infer, running, worker_settings


async def logs_of(dal: Dal, model: str) -> list:  # type: ignore[type-arg]
    async with dal.reader() as reader:
        return (await reader.list_access_logs(model=model, limit=10000)).data


async def test_every_answered_request_leaves_exactly_one_row(
    dal: Dal, admin: DalClient, tmp_path: Path
) -> None:
    await add_model(admin, "iris-logged", (MODELS_DIR / "iris.onnx").read_bytes())
    worker = Worker(worker_settings(dal.url, dal.tokens.token, tmp_path, server_name="local"))
    async with running(worker):
        ok = np.ones((2, 4), np.float32)
        statuses = []
        for inputs, caller in (
            ({"input": ok}, "alice"),
            ({"input": ok}, "bob"),
            ({"input": holdout(1)}, "alice"),  # 400: wrong shape
            ({"wrong": ok}, "alice"),  # 400: unknown input
        ):
            answer, _ = await infer(worker, "iris-logged", inputs, caller=caller)
            statuses.append(answer.status)
        answer, _ = await infer(worker, "iris-logged", {"input": ok}, "v7")  # 404: no version
        statuses.append(answer.status)
        answer = await worker.dataplane.infer("iris-logged", None, b"{oops", {}, "carol")
        statuses.append(answer.status)
    assert statuses == [200, 200, 400, 400, 404, 400]
    rows = await logs_of(dal, "iris-logged")
    assert len(rows) == len(statuses)
    assert sorted(r.status for r in rows) == sorted(statuses)
    assert len({r.request_id for r in rows}) == len(rows)
    assert {r.server for r in rows} == {"local"}
    good = [r for r in rows if r.status == 200]
    assert {r.caller for r in good} == {"alice", "bob"}
    assert all(r.outcome == "ok" and r.rows == 2 and r.batch_size >= 2 for r in good)
    assert all(r.total_ms >= r.compute_ms > 0 for r in good)
    bad = [r for r in rows if r.status != 200]
    assert all(r.outcome == "error" for r in bad)
    assert {r.error_kind for r in bad} == {"invalid_request", "not_found"}
    assert [r.weights for r in rows if r.status == 404] == ["v7"]


async def test_rows_wait_in_the_spool_while_the_dal_is_away_and_replay_once(
    dal: Dal, tmp_path: Path
) -> None:
    spool_path = tmp_path / "spool" / "access-log.jsonl"
    down = DalLogSink(f"http://127.0.0.1:{free_port()}", SecretStr(dal.tokens.token), timeout=2)
    logger = AccessLogger(down, server="local", spool=Spool(spool_path), flush_s=0.05)
    for i in range(7):
        logger.record(
            model="spooled",
            weights=None,
            caller="c",
            ok=i % 2 == 0,
            status=200 if i % 2 == 0 else 400,
        )
    await logger.flush()
    assert logger.spool.rows == 7
    lines = spool_path.read_bytes().splitlines()
    assert len(lines) == 7
    assert orjson.loads(lines[0])["model"] == "spooled"
    logger.record(model="spooled", weights=None, caller="c", ok=True, status=200)
    await logger.flush()  # still in backoff: straight to the spool, no new attempt
    assert logger.spool.rows == 8
    await down.aclose()

    saved = spool_path.read_bytes()
    spool_path.write_bytes(saved + b'{"torn": ')  # a crash in the middle of a line
    up = DalLogSink(dal.url, SecretStr(dal.tokens.token))
    again = AccessLogger(up, server="local", spool=Spool(spool_path), flush_s=0.05)
    assert again.spool.rows == 9
    await again.flush()
    assert again.spool.rows == 0
    assert not spool_path.exists()
    assert len(await logs_of(dal, "spooled")) == 8

    spool_path.write_bytes(saved)  # the same rows again, as after a crash before clearing
    replay = AccessLogger(up, server="local", spool=Spool(spool_path), flush_s=0.05)
    await replay.flush()
    assert len(await logs_of(dal, "spooled")) == 8, "a replay added rows twice"
    await up.aclose()


async def test_stop_flushes_what_is_pending(dal: Dal, tmp_path: Path) -> None:
    sink = DalLogSink(dal.url, SecretStr(dal.tokens.token))
    logger = AccessLogger(sink, server="local", spool=Spool(tmp_path / "s.jsonl"), flush_s=60)
    logger.start()
    for _ in range(5):
        logger.record(model="flushed-on-stop", weights="v1", caller="c", ok=True, status=200)
    await logger.stop()
    await sink.aclose()
    rows = await logs_of(dal, "flushed-on-stop")
    assert len(rows) == 5
    assert {r.weights for r in rows} == {"v1"}


async def test_logging_can_be_turned_off(dal: Dal, admin: DalClient, tmp_path: Path) -> None:
    await add_model(admin, "iris-silent", (MODELS_DIR / "iris.onnx").read_bytes())
    settings = worker_settings(dal.url, dal.tokens.token, tmp_path, access_log_enabled=False)
    async with running(Worker(settings)) as worker:
        answer, _ = await infer(worker, "iris-silent", {"input": np.ones((1, 4), np.float32)})
        assert answer.status == 200
    assert await logs_of(dal, "iris-silent") == []


async def test_a_backlog_past_one_post_waits_on_disk_then_arrives_once(
    dal: Dal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(access_log, "MAX_POST_ROWS", 10)
    sink = DalLogSink(dal.url, SecretStr(dal.tokens.token))
    logger = AccessLogger(sink, server="local", spool=Spool(tmp_path / "s.jsonl"), flush_s=60)
    for _ in range(25):
        logger.record("backlog", None, "c", True, 200)
    await logger.flush()
    assert logger.spool.rows == 15
    assert len(await logs_of(dal, "backlog")) == 10
    await logger.flush()
    assert logger.spool.rows == 0
    assert len(await logs_of(dal, "backlog")) == 25
    await sink.aclose()


class SlowSink:
    """The real DAL sink, with the first post held until released: a flush caught mid-way."""

    def __init__(self, inner: DalLogSink) -> None:
        self.inner = inner
        self.posting = asyncio.Event()
        self.release = asyncio.Event()

    async def post_rows(self, rows: Sequence[access_log.Row]) -> int:
        if not self.release.is_set():
            self.posting.set()
            await self.release.wait()
        return await self.inner.post_rows(rows)


async def test_stop_during_a_flush_loses_no_row(dal: Dal, tmp_path: Path) -> None:
    inner = DalLogSink(dal.url, SecretStr(dal.tokens.token))
    sink = SlowSink(inner)
    logger = AccessLogger(
        sink, server="local", spool=Spool(tmp_path / "s.jsonl"), flush_s=60, max_rows=3
    )
    logger.start()
    for _ in range(3):
        logger.record(model="stopped-mid-flush", weights="v1", caller="c", ok=True, status=200)
    await asyncio.wait_for(sink.posting.wait(), 10)  # the flusher holds the rows, in flight
    sink.release.set()
    await logger.stop()  # cancels the flusher mid-post, then flushes
    await inner.aclose()
    # Each row reached the DAL, or (if the cancelled post left the sink unusable) the spool.
    delivered = len(await logs_of(dal, "stopped-mid-flush"))
    assert delivered + logger.spool.rows == 3
