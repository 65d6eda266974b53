"""``POST /access-logs`` of plain rows, serialized by orjson in one call per batch.

The DAL client (``mer_core.dal_client``) takes ``AccessLogCreate`` objects; building one pydantic
object per request and serializing it costs a worker more than a small model's whole inference
(issue #6 asks logging to cost under 5% of throughput), so the worker's access logger sends its
rows, already valid by construction, through this sink instead: same route, same body
(``AccessLogBatch``), same error mapping (``Unavailable`` when the DAL cannot be reached, the
DAL's own error otherwise; ``RowsRefused`` when it refuses the rows themselves).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import orjson
from mer_core.errors import InvalidRequest, Unavailable, error_for_status
from pydantic import SecretStr

Row = Mapping[str, Any]


class RowsRefused(InvalidRequest):
    """The DAL refused the batch for what it holds (a 4xx other than 401/403): sending it again
    cannot help, but its other rows may be fine."""


class DalLogSink:
    """Writes access-log rows to the DAL over its own small connection pool."""

    def __init__(self, base_url: str, token: SecretStr | None, *, timeout: float = 10.0) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": "mer-meal"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout)

    async def post_rows(self, rows: Sequence[Row]) -> int:
        """Post one batch (at most 10,000 rows); how many were new to the DAL."""
        body = orjson.dumps({"data": rows})
        try:
            response = await self._http.post("/access-logs", content=body)
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach the DAL at {self.base_url}: {exc!r}") from exc
        if response.is_error:
            try:
                message = str(response.json()["error"])
            except (ValueError, KeyError, TypeError):
                message = response.text.strip() or response.reason_phrase
            status = response.status_code
            if 400 <= status < 500 and status not in {401, 403}:
                raise RowsRefused(f"HTTP {status}: {message}")
            raise error_for_status(status, message)
        inserted: int = response.json().get("inserted", len(rows))
        return inserted

    async def aclose(self) -> None:
        await self._http.aclose()
