"""Blob bytes in and out, a chunk at a time: memory stays at a chunk or two whatever the size."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import AsyncIterable, AsyncIterator

from mer_core.errors import Conflict, InvalidRequest, MerError
from mer_core.schemas.registry import BlobPublic

from mer_dal.crud import blobs as crud
from mer_dal.crud.blobs import StoredBlob
from mer_dal.db import Database

log = logging.getLogger(__name__)

SHA256 = re.compile(r"^[0-9a-f]{64}$")


class CorruptBlob(MerError):
    """Stored chunks no longer hash to their blob's sha256."""


def parse_sha256(value: str, what: str = "sha256") -> str:
    """A lowercase hex sha256, or a 400 naming ``what``."""
    sha = value.strip().lower()
    if not SHA256.match(sha):
        raise InvalidRequest(f"{what} must be 64 hex digits, got {value[:80]!r}")
    return sha


async def store_blob(
    db: Database, body: AsyncIterable[bytes], *, expected: str | None, chunk_size: int
) -> tuple[BlobPublic, bool]:
    """Store ``body`` in chunks as it arrives; returns the blob and whether it is new.

    The chunks go under a fresh upload key and the blob record is written last, so a failed or
    refused upload leaves nothing visible (its chunks are removed).
    """
    key = f"upload-{secrets.token_hex(16)}"
    try:
        sha, size, chunks = await _write_chunks(db, key, body, chunk_size)
        _check_expected(sha, expected)
        existing = await crud.find_blob(db, sha=sha)
        if existing is None:
            try:
                blob = await crud.create_blob(
                    db, sha=sha, size=size, chunk_size=chunk_size, chunks=chunks, key=key
                )
            except Conflict:  # the same bytes finished uploading beside us
                existing = await crud.get_blob(db, sha=sha)
            else:
                return blob, True
        await crud.discard_chunks(db, key=key)
    except BaseException:
        await _discard_quietly(db, key)
        raise
    return existing.public, False


async def _write_chunks(
    db: Database, key: str, body: AsyncIterable[bytes], chunk_size: int
) -> tuple[str, int, int]:
    """Write ``body`` as chunks under ``key``; returns its sha256, size and chunk count."""
    hasher = hashlib.sha256()
    buffer = bytearray()
    size = chunks = 0
    async for piece in body:
        hasher.update(piece)
        size += len(piece)
        buffer += piece
        while len(buffer) >= chunk_size:
            await crud.write_chunk(db, key=key, idx=chunks, data=bytes(buffer[:chunk_size]))
            del buffer[:chunk_size]
            chunks += 1
    if buffer:
        await crud.write_chunk(db, key=key, idx=chunks, data=bytes(buffer))
        chunks += 1
    return hasher.hexdigest(), size, chunks


def _check_expected(sha: str, expected: str | None) -> None:
    if expected is not None and sha != expected:
        raise InvalidRequest(
            f"the body's sha256 is {sha} but X-Content-Sha256 says {expected}: "
            "the upload was damaged or the header is wrong"
        )


async def stream_blob(db: Database, blob: StoredBlob) -> AsyncIterator[bytes]:
    """The blob's bytes in chunk order. The last chunk is held back until the whole blob hashes
    to its sha256; if it does not, this raises instead, so nobody receives a damaged blob whole."""
    hasher = hashlib.sha256()
    pending: bytes | None = None
    for idx in range(blob.public.chunks):
        data = await crud.read_chunk(db, key=blob.chunk_key, idx=idx)
        hasher.update(data)
        if pending is not None:
            yield pending
        pending = data
    if hasher.hexdigest() != blob.public.sha256:
        log.error(
            "blob %s is corrupt: its chunks hash to %s", blob.public.sha256, hasher.hexdigest()
        )
        raise CorruptBlob(f"blob {blob.public.sha256} is corrupt in the database")
    if pending is not None:
        yield pending


async def read_blob(db: Database, sha: str) -> tuple[StoredBlob, bytes]:
    """A whole blob in memory, sha256 verified: only for files a parser needs whole (ONNX)."""
    blob = await crud.get_blob(db, sha=sha)
    data = b"".join([piece async for piece in stream_blob(db, blob)])
    return blob, data


async def read_prefix(db: Database, blob: StoredBlob, length: int) -> bytes:
    """The first ``length`` bytes of a blob (fewer if it is shorter), reading only their chunks."""
    parts: list[bytes] = []
    have = 0
    for idx in range(blob.public.chunks):
        if have >= length:
            break
        data = await crud.read_chunk(db, key=blob.chunk_key, idx=idx)
        parts.append(data)
        have += len(data)
    return b"".join(parts)[:length]


async def _discard_quietly(db: Database, key: str) -> None:
    try:
        await crud.discard_chunks(db, key=key)
    except Exception:
        log.warning("could not remove the chunks of failed upload %s", key, exc_info=True)
