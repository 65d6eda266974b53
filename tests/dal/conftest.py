"""Fixtures of the DAL tests: a migrated embedded database for ``crud``, a real DAL for HTTP."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from mer_core.dal_client import DalClient
from mer_dal.db import Database
from surrealdb import AsyncSurreal

from tests.support.procs import SQL_DIR, Dal, Tokens, dal_service


async def migrated_memory_db() -> Database:
    """``mem://`` with every real migration script applied, each statement checked."""
    conn: Any = AsyncSurreal("mem://")
    await conn.connect()
    await conn.use("mer", "mer")
    for script in sorted(SQL_DIR.glob("*.sql")):
        answer = await conn.query_raw(script.read_text())
        failed = [e for e in answer["result"] if e["status"] != "OK"]
        assert not failed, f"{script.name}: {failed[0]['result']}"
    return Database(conn, "mem://", contextlib.ExitStack())


@pytest.fixture
async def db() -> AsyncIterator[Database]:
    database = await migrated_memory_db()
    try:
        yield database
    finally:
        await database.aclose()


@pytest.fixture(scope="module")
def dal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dal]:
    """One real DAL (subprocess, migrated surrealkv database) per test module."""
    tmp: Path = tmp_path_factory.mktemp("dal")
    tokens = Tokens()
    with dal_service(tmp, tokens) as service:
        yield Dal(service, tokens)
    assert service.proc.returncode == 0, "mer-dal did not stop cleanly on SIGTERM"
    log = service.log_text()
    assert "Traceback" not in log, log[-4000:]
    assert '" 500' not in log, log[-4000:]
    assert tokens.token not in log
    assert tokens.admin not in log


@pytest.fixture
async def admin(dal: Dal) -> AsyncIterator[DalClient]:
    async with dal.admin() as client:
        yield client


@pytest.fixture
async def reader(dal: Dal) -> AsyncIterator[DalClient]:
    async with dal.reader() as client:
        yield client
