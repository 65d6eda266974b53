"""The typed async client of the DAL's REST API (see docs/CONTRACTS.md, "DAL REST API").

Every answer is parsed into its ``mer_core.schemas.registry`` model. A non-2xx answer raises the
MER error the DAL answered with (``error_for_status``); a DAL that cannot be reached or does not
answer in time raises ``Unavailable``. Blobs travel streamed, 1 MiB at a time, both ways.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr

from mer_core.blob_io import (
    PIECE,
    Progress,
    check_digest,
    hash_file,
    pieces_of_bytes,
    pieces_of_file,
    temp_beside,
)
from mer_core.errors import MerError, Unavailable, error_for_status
from mer_core.schemas.registry import (
    AccessLogBatch,
    AccessLogCreate,
    AccessLogsPublic,
    BlobPublic,
    HealthPublic,
    Inserted,
    ModelCreate,
    ModelPublic,
    ModelsPublic,
    ModelUpdate,
    ServerCreate,
    ServerPublic,
    ServersPublic,
    ServerUpdate,
    WeightsCreate,
    WeightsListPublic,
    WeightsPublic,
)

_M = TypeVar("_M", bound=BaseModel)


class DalClient:
    """An open connection pool to one DAL; use it as ``async with DalClient(url, token) as dal``."""

    def __init__(
        self,
        base_url: str,
        token: SecretStr | str | None,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        caller: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"User-Agent": "mer-dal-client"}
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        if caller:
            headers["X-Mer-Caller"] = caller
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- plumbing ------------------------------------------------------------------------------

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.is_error:
            raise _error_of(response)
        return response

    async def _json(
        self, model: type[_M], method: str, path: str, body: BaseModel | None = None, **kw: Any
    ) -> _M:
        if body is not None:
            kw["content"] = body.model_dump_json(exclude_unset=True)
            kw["headers"] = {"Content-Type": "application/json"}
        response = await self._request(method, path, **kw)
        return model.model_validate_json(response.content)

    def _unreachable(self, exc: Exception) -> Unavailable:
        what = type(exc).__name__
        detail = str(exc) or what
        return Unavailable(f"cannot reach the DAL at {self.base_url}: {detail}")

    # --- health and revision -------------------------------------------------------------------

    async def health(self) -> HealthPublic:
        return await self._json(HealthPublic, "GET", "/health")

    async def revision(self) -> int:
        response = await self._request("GET", "/revision")
        return int(response.json()["revision"])

    # --- servers -------------------------------------------------------------------------------

    async def list_servers(self) -> ServersPublic:
        return await self._json(ServersPublic, "GET", "/servers")

    async def get_server(self, name: str) -> ServerPublic:
        return await self._json(ServerPublic, "GET", f"/servers/{_seg(name)}")

    async def create_server(self, server: ServerCreate) -> ServerPublic:
        return await self._json(ServerPublic, "POST", "/servers", server)

    async def update_server(self, name: str, update: ServerUpdate) -> ServerPublic:
        return await self._json(ServerPublic, "PATCH", f"/servers/{_seg(name)}", update)

    async def delete_server(self, name: str, *, force: bool = False) -> None:
        await self._request("DELETE", f"/servers/{_seg(name)}", params=_force(force))

    # --- models --------------------------------------------------------------------------------

    async def list_models(self) -> ModelsPublic:
        return await self._json(ModelsPublic, "GET", "/models")

    async def get_model(self, name: str) -> ModelPublic:
        return await self._json(ModelPublic, "GET", f"/models/{_seg(name)}")

    async def create_model(self, model: ModelCreate) -> ModelPublic:
        return await self._json(ModelPublic, "POST", "/models", model)

    async def update_model(self, name: str, update: ModelUpdate) -> ModelPublic:
        return await self._json(ModelPublic, "PATCH", f"/models/{_seg(name)}", update)

    async def delete_model(self, name: str, *, force: bool = False) -> None:
        await self._request("DELETE", f"/models/{_seg(name)}", params=_force(force))

    # --- weight vectors ------------------------------------------------------------------------

    async def list_weights(self, model: str) -> WeightsListPublic:
        return await self._json(WeightsListPublic, "GET", f"/models/{_seg(model)}/weights")

    async def get_weights(self, model: str, version: str) -> WeightsPublic:
        path = f"/models/{_seg(model)}/weights/{_seg(version)}"
        return await self._json(WeightsPublic, "GET", path)

    async def add_weights(self, model: str, weights: WeightsCreate) -> WeightsPublic:
        path = f"/models/{_seg(model)}/weights"
        return await self._json(WeightsPublic, "POST", path, weights)

    async def delete_weights(self, model: str, version: str, *, force: bool = False) -> None:
        path = f"/models/{_seg(model)}/weights/{_seg(version)}"
        await self._request("DELETE", path, params=_force(force))

    # --- blobs ---------------------------------------------------------------------------------

    async def upload_blob(
        self, source: Path | bytes, *, progress: Progress | None = None
    ) -> BlobPublic:
        """Upload a file or bytes in 1 MiB pieces, with its sha256 for the DAL to check."""
        if isinstance(source, bytes):
            sha, size = hashlib.sha256(source).hexdigest(), len(source)
            body: AsyncIterator[bytes] = pieces_of_bytes(source, progress)
        else:
            path = Path(source)
            sha, size = await asyncio.to_thread(hash_file, path)
            body = pieces_of_file(path, size, progress)
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(size),
            "X-Content-Sha256": sha,
        }
        return await self._json(BlobPublic, "POST", "/blobs", content=body, headers=headers)

    async def download_blob(
        self, sha256: str, dest: Path, *, progress: Progress | None = None
    ) -> Path:
        """Stream a blob into ``dest`` (a temp file beside it, renamed once its sha256 checks)."""
        dest = Path(dest)
        fd, tmp = await asyncio.to_thread(temp_beside, dest)
        try:
            with os.fdopen(fd, "wb") as out:
                digest = await self._stream_blob(sha256, out.write, progress)
            check_digest(sha256, digest)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return dest

    async def read_blob(self, sha256: str) -> bytes:
        """A (small) blob's bytes, sha256 verified."""
        parts: list[bytes] = []
        check_digest(sha256, await self._stream_blob(sha256, parts.append, None))
        return b"".join(parts)

    async def _stream_blob(
        self, sha256: str, sink: Callable[[bytes], object], progress: Progress | None
    ) -> str:
        hasher = hashlib.sha256()
        try:
            async with self._http.stream("GET", f"/blobs/{_seg(sha256)}") as response:
                if response.is_error:
                    await response.aread()
                    raise _error_of(response)
                total = int(response.headers.get("Content-Length", 0))
                done = 0
                async for piece in response.aiter_bytes(PIECE):
                    hasher.update(piece)
                    sink(piece)
                    done += len(piece)
                    if progress is not None:
                        progress(done, total)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        return hasher.hexdigest()

    # --- access logs ---------------------------------------------------------------------------

    async def post_access_logs(self, rows: Sequence[AccessLogCreate]) -> int:
        """Write a batch of access-log rows; replays of known request ids add nothing."""
        batch = AccessLogBatch(data=list(rows))
        return (await self._json(Inserted, "POST", "/access-logs", batch)).inserted

    async def list_access_logs(
        self,
        *,
        model: str | None = None,
        server: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> AccessLogsPublic:
        params: dict[str, str | int] = {"limit": limit}
        if model is not None:
            params["model"] = model
        if server is not None:
            params["server"] = server
        if since is not None:
            params["since"] = since.isoformat()
        return await self._json(AccessLogsPublic, "GET", "/access-logs", params=params)


def _error_of(response: httpx.Response) -> MerError:
    """The MER error a DAL answered with, from its status and ``{"error": ...}`` body."""
    try:
        body = response.json()
        message = str(body["error"])
    except (ValueError, KeyError, TypeError):
        message = response.text.strip() or response.reason_phrase
    return error_for_status(response.status_code, message)


def _seg(value: str) -> str:
    """One URL path segment: a name never escapes into the path around it."""
    return quote(value, safe="")


def _force(force: bool) -> dict[str, str]:
    return {"force": "true"} if force else {}
