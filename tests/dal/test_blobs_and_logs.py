"""Blob chunking and access-log storage, against a real embedded database (``mem://``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from mer_core.errors import InvalidRequest
from mer_core.schemas.registry import AccessLogCreate
from mer_dal.crud import access_logs
from mer_dal.crud import blobs as blob_crud
from mer_dal.db import Database
from mer_dal.registry.blobs import CorruptBlob, read_blob, store_blob, stream_blob

from tests.dal.files import sha256

MIB = 1024 * 1024


async def _pieces(data: bytes, size: int = 65_536) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _chunk_rows(db: Database) -> int:
    [rows] = await db.query("SELECT count() AS n FROM blob_chunk GROUP ALL")
    return int(rows[0]["n"]) if rows else 0


async def test_three_and_a_half_mib_is_four_chunks_and_round_trips(db: Database) -> None:
    data = os.urandom(3 * MIB + MIB // 2)
    blob, created = await store_blob(db, _pieces(data), expected=sha256(data), chunk_size=MIB)
    assert created
    assert (blob.sha256, blob.size, blob.chunks) == (sha256(data), len(data), 4)
    stored = await blob_crud.get_blob(db, sha=blob.sha256)
    sizes = [len(await blob_crud.read_chunk(db, key=stored.chunk_key, idx=i)) for i in range(4)]
    assert sizes == [MIB, MIB, MIB, MIB // 2]
    pieces = [piece async for piece in stream_blob(db, stored)]
    assert b"".join(pieces) == data
    assert (await read_blob(db, blob.sha256))[1] == data


async def test_same_bytes_are_stored_once(db: Database) -> None:
    data = os.urandom(MIB + 10)
    first, created = await store_blob(db, _pieces(data), expected=None, chunk_size=MIB)
    again, created_again = await store_blob(db, _pieces(data), expected=None, chunk_size=MIB)
    assert (created, created_again) == (True, False)
    assert again == first
    assert await _chunk_rows(db) == 2


async def test_wrong_sha_leaves_nothing(db: Database) -> None:
    data = os.urandom(2 * MIB + 1)
    with pytest.raises(InvalidRequest, match="X-Content-Sha256 says"):
        await store_blob(db, _pieces(data), expected="0" * 64, chunk_size=MIB)
    assert await _chunk_rows(db) == 0
    assert await blob_crud.find_blob(db, sha=sha256(data)) is None


async def test_interrupted_upload_leaves_nothing(db: Database) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(MIB + 5)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store_blob(db, broken(), expected=None, chunk_size=MIB)
    assert await _chunk_rows(db) == 0


async def test_empty_blob(db: Database) -> None:
    blob, _ = await store_blob(db, _pieces(b""), expected=None, chunk_size=MIB)
    assert (blob.size, blob.chunks, blob.sha256) == (0, 0, sha256(b""))
    assert (await read_blob(db, blob.sha256))[1] == b""


async def test_corrupt_chunk_aborts_the_stream(db: Database) -> None:
    data = os.urandom(MIB + 3)
    blob, _ = await store_blob(db, _pieces(data), expected=None, chunk_size=MIB)
    stored = await blob_crud.get_blob(db, sha=blob.sha256)
    await db.query(
        "UPDATE type::thing('blob_chunk', [$key, 1]) SET data = $data",
        {"key": stored.chunk_key, "data": b"xyz"},
    )
    with pytest.raises(CorruptBlob, match="corrupt in the database"):
        _ = [piece async for piece in stream_blob(db, stored)]


def _row(
    request_id: str, at: datetime, model: str = "iris", server: str = "local"
) -> AccessLogCreate:
    return AccessLogCreate(
        at=at, model=model, server=server, request_id=request_id, outcome="ok", status=200, rows=1
    )


async def test_access_logs_are_idempotent_and_filtered(db: Database) -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    rows = [
        _row("a", t0),
        _row("b", t0 + timedelta(seconds=1), model="digits"),
        _row("c", t0 + timedelta(seconds=2), server="gpu1"),
    ]
    assert await access_logs.insert_access_logs(db, rows=rows) == 3
    assert await access_logs.insert_access_logs(db, rows=[*rows, _row("d", t0 + timedelta(3))]) == 1
    everything = await access_logs.list_access_logs(db)
    assert [r.request_id for r in everything.data] == ["d", "c", "b", "a"]
    assert [
        r.request_id for r in (await access_logs.list_access_logs(db, model="digits")).data
    ] == ["b"]
    assert [r.request_id for r in (await access_logs.list_access_logs(db, server="gpu1")).data] == [
        "c"
    ]
    since = await access_logs.list_access_logs(db, since=t0 + timedelta(seconds=1), limit=2)
    assert [r.request_id for r in since.data] == ["d", "c"]
    naive = await access_logs.list_access_logs(db, since=datetime(2025, 1, 1, 0, 0, 2))
    assert [r.request_id for r in naive.data] == ["d", "c"]
    assert everything.data[-1].at == t0
