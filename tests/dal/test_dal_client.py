"""``DalClient`` against an in-process DAL (real uvicorn on a free port, ``mem://`` database) and
against addresses where no DAL answers."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from mer_core.dal_client import DalClient
from mer_core.errors import InvalidRequest, Unavailable
from mer_core.settings import DalSettings
from mer_dal.app import create_app
from mer_dal.crud import blobs as blob_crud
from mer_dal.db import Database
from pydantic import SecretStr

from tests.support.procs import Tokens, free_port

MIB = 1024 * 1024


@pytest.fixture
async def served(db: Database, tokens: Tokens) -> AsyncIterator[str]:
    settings = DalSettings(
        db_url="mem://", token=SecretStr(tokens.token), admin_token=SecretStr(tokens.admin)
    )
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, database=db), host="127.0.0.1", port=port, log_config=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while not server.started:
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_damaged_blob_never_lands(
    served: str, db: Database, tokens: Tokens, tmp_path: Path
) -> None:
    data = os.urandom(2 * MIB + 7)
    async with DalClient(served, tokens.admin) as dal:
        blob = await dal.upload_blob(data)
        stored = await blob_crud.get_blob(db, sha=blob.sha256)
        await db.query(
            "UPDATE type::thing('blob_chunk', [$key, 2]) SET data = $data",
            {"key": stored.chunk_key, "data": b"1234567"},
        )
        with pytest.raises(Unavailable, match=r"cannot reach the DAL|corrupted"):
            await dal.download_blob(blob.sha256, tmp_path / "out" / "x.bin")
        with pytest.raises(Unavailable, match=r"cannot reach the DAL|corrupted"):
            await dal.read_blob(blob.sha256)
    assert list((tmp_path / "out").iterdir()) == []


async def test_upload_of_a_missing_file(served: str, tokens: Tokens, tmp_path: Path) -> None:
    async with DalClient(served, tokens.admin) as dal:
        with pytest.raises(InvalidRequest, match="no such file"):
            await dal.upload_blob(tmp_path / "absent.onnx")
        assert (await dal.health()).status == "ok"


async def test_nobody_listening_is_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with DalClient(url, "t") as dal:
        with pytest.raises(Unavailable, match=f"cannot reach the DAL at {url}"):
            await dal.list_models()


async def test_silent_dal_times_out_as_unavailable() -> None:
    writers: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read(1)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with DalClient(f"http://127.0.0.1:{port}", "t", timeout=0.3) as dal:
            with pytest.raises(Unavailable, match="cannot reach the DAL"):
                await dal.revision()
    finally:
        server.close()
        for writer in writers:
            writer.close()
            await writer.wait_closed()
        await server.wait_closed()
