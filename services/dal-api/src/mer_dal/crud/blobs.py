"""SurrealQL of the ``blob`` and ``blob_chunk`` tables: content-addressed bytes in chunks.

Chunks are written under a per-upload key (``blob_chunk:[key, idx]``) while the sha256 is still
being computed; the ``blob:⟨sha256⟩`` record, created last, names that key. So a blob record
exists only once all its chunks do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mer_core.errors import Conflict, MerError, NotFound
from mer_core.schemas.registry import BlobPublic

from mer_dal.db import Database


@dataclass(frozen=True)
class StoredBlob:
    """A blob record with where its chunks are."""

    public: BlobPublic
    chunk_key: str
    chunk_size: int


async def find_blob(db: Database, *, sha: str) -> StoredBlob | None:
    [row] = await db.query("SELECT * FROM ONLY type::thing('blob', $sha)", {"sha": sha})
    return _stored(row) if row else None


async def get_blob(db: Database, *, sha: str) -> StoredBlob:
    blob = await find_blob(db, sha=sha)
    if blob is None:
        raise NotFound(f"no blob {sha}: upload it with POST /blobs first")
    return blob


async def write_chunk(db: Database, *, key: str, idx: int, data: bytes) -> None:
    sql = (
        "CREATE type::thing('blob_chunk', [$key, $idx]) "
        "CONTENT { blob: $key, idx: $idx, data: $data } RETURN NONE"
    )
    await db.query(sql, {"key": key, "idx": idx, "data": data})


async def read_chunk(db: Database, *, key: str, idx: int) -> bytes:
    sql = "SELECT VALUE data FROM ONLY type::thing('blob_chunk', [$key, $idx])"
    [data] = await db.query(sql, {"key": key, "idx": idx})
    if not isinstance(data, bytes):
        raise MerError(f"chunk {idx} of upload {key} is missing from the database")
    return data


async def create_blob(
    db: Database, *, sha: str, size: int, chunk_size: int, chunks: int, key: str
) -> BlobPublic:
    """The blob record for chunks already written under ``key``; ``Conflict`` if it exists."""
    content: dict[str, Any] = {
        "sha256": sha,
        "size": size,
        "chunk_size": chunk_size,
        "chunks": chunks,
        "chunk_key": key,
    }
    try:
        [row] = await db.query(
            "CREATE ONLY type::thing('blob', $sha) CONTENT $content",
            {"sha": sha, "content": content},
        )
    except Conflict:
        raise Conflict(f"blob {sha} exists already") from None
    return _stored(row).public


async def discard_chunks(db: Database, *, key: str) -> None:
    """Remove the chunks of an upload that did not become a blob."""
    await db.query("DELETE blob_chunk WHERE blob = $key RETURN NONE", {"key": key})


def _stored(row: dict[str, Any]) -> StoredBlob:
    return StoredBlob(
        public=BlobPublic.model_validate(row),
        chunk_key=str(row.get("chunk_key") or row["sha256"]),
        chunk_size=int(row["chunk_size"]),
    )
