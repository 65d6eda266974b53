"""A real worker whose DAL goes away and comes back on the same address: cached models keep
answering, access logs wait in the spool and reach the DAL once, with no duplicates."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from mer_core.dal_client import DalClient

from tests.support.procs import (
    BIN,
    Service,
    Tokens,
    base_env,
    free_port,
    migrate,
    service,
    worker_service,
)
from tests.worker.conftest import import_demo

pytestmark = pytest.mark.slow

IRIS_ROW = (
    b'{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4],'
    b' "data": [5.1, 3.5, 1.4, 0.2]}]}'
)


@contextmanager
def dal_at(tmp: Path, tokens: Tokens, port: int, db_url: str, run: str) -> Iterator[Service]:
    """The DAL on a fixed port (so a worker finds it again after a restart)."""
    env = base_env(tmp, tokens, MER_DB_URL=db_url, MER_DAL_HOST="127.0.0.1", MER_DAL_PORT=str(port))
    workdir = tmp / run
    workdir.mkdir()
    url = f"http://127.0.0.1:{port}"
    with service("dal", [str(BIN / "mer-dal")], env, f"{url}/health", url, workdir) as svc:
        yield svc


def wait_for(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_logs_are_spooled_while_the_dal_is_down_and_replayed_once(tmp_path: Path) -> None:
    tokens = Tokens()
    db_url = f"surrealkv://{tmp_path / 'db'}"
    done = migrate(db_url, base_env(tmp_path, tokens, MER_DB_URL=db_url))
    assert done.returncode == 0, done.stderr
    port = free_port()
    dal_url = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {tokens.token}"}
    env = {"MER_CONFIG_REFRESH_S": "0.2", "MER_ACCESS_LOG_FLUSH_MS": "50"}
    statuses: list[int] = []

    def post(model: str) -> httpx.Response:
        answer = httpx.post(f"{worker.url}/v2/models/{model}/infer", content=IRIS_ROW, headers=auth)
        statuses.append(answer.status_code)
        return answer

    with dal_at(tmp_path, tokens, port, db_url, "first") as dal:
        with worker_service(tmp_path, tokens, dal_url, **env) as worker:
            # the seeded configuration has no ONNX file yet
            answer = post("iris")
            assert answer.status_code == 503
            assert answer.json()["error"] == (
                "model iris has no ONNX file yet: import one with `model import iris FILE.onnx`"
            )

            async def demo() -> None:
                async with DalClient(dal.url, tokens.admin) as admin:
                    await import_demo(admin)

            asyncio.run(demo())
            wait_for(lambda: post("iris").status_code == 200, 15, "the import to reach the worker")
            dal_stopped = True
            dal.proc.terminate()
            dal.proc.wait(15)

            for _ in range(5):
                assert post("iris").status_code == 200  # served from the cached config and session
            down = post("digits")  # never seen: needs the DAL
            assert down.status_code == 503
            assert "cannot reach the DAL" in down.json()["error"]
            spool = tmp_path / "spool" / "access-log-local.jsonl"
            wait_for(spool.exists, 10, "the spool file")
            metrics = httpx.get(f"{worker.url}/metrics", headers=auth).text
            assert "mer_access_log_spooled_rows 0.0" not in metrics

            with dal_at(tmp_path, tokens, port, db_url, "second"):
                dal_stopped = False
                wait_for(lambda: not spool.exists(), 40, "the spool to be replayed")
        assert worker.proc.returncode == 0
        assert not dal_stopped

        async def rows() -> list:  # type: ignore[type-arg]
            async with DalClient(dal_url, tokens.token) as reader:
                return (await reader.list_access_logs(limit=10000)).data

        with dal_at(tmp_path, tokens, port, db_url, "third"):
            logged = asyncio.run(rows())
    assert len(logged) == len(statuses), (len(logged), statuses)
    assert sorted(r.status for r in logged) == sorted(statuses)
    assert len({r.request_id for r in logged}) == len(logged)
