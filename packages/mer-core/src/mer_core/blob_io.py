"""Blob bytes on the client side: a file hashed and sent in 1 MiB pieces, a download checked
against its sha256 before it takes its final name."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from mer_core.errors import InvalidRequest, Unavailable

PIECE = 1024 * 1024
"""Bytes per piece when streaming a blob."""

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes in all) as a blob travels."""


def temp_beside(dest: Path) -> tuple[int, str]:
    """An open temp file in ``dest``'s folder, so the final rename stays on one filesystem."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)


def check_digest(expected: str, actual: str) -> None:
    """Refuse bytes that do not hash to the sha256 they were asked for."""
    if actual != expected:
        raise Unavailable(f"blob {expected} arrived corrupted (sha256 {actual})")


def hash_file(path: Path) -> tuple[str, int]:
    """The sha256 and size of a file; a missing file is the caller's mistake (400)."""
    if not path.is_file():
        raise InvalidRequest(f"no such file: {path}")
    hasher = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while piece := f.read(PIECE):
            hasher.update(piece)
            size += len(piece)
    return hasher.hexdigest(), size


async def pieces_of_bytes(data: bytes, progress: Progress | None) -> AsyncIterator[bytes]:
    """``data`` as a request body of 1 MiB pieces, reporting progress as each goes."""
    view = memoryview(data)
    for start in range(0, len(data), PIECE):
        piece = bytes(view[start : start + PIECE])
        yield piece
        if progress is not None:
            progress(start + len(piece), len(data))


async def pieces_of_file(path: Path, size: int, progress: Progress | None) -> AsyncIterator[bytes]:
    """A file as a request body of 1 MiB pieces, never whole in memory."""
    done = 0
    with path.open("rb") as f:
        while piece := f.read(PIECE):
            done += len(piece)
            yield piece
            if progress is not None:
                progress(done, size)
