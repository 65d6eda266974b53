"""A typed async client of a MER worker (any Open Inference Protocol v2 server, in fact).

    async with OipClient("http://127.0.0.1:8701", token) as worker:
        out = await worker.infer("digits", {"input": x}, version="v2", binary_outputs=True)
        out["probabilities"]  # np.ndarray

Errors come back as the ``mer_core.errors`` class of the answer's status, with the server's
message; a worker that cannot be reached is ``Unavailable``, one that does not answer in time
``GatewayTimeout``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from pydantic import SecretStr

from mer_core.errors import GatewayTimeout, MerError, Unavailable, error_for_status
from mer_core.schemas.oip import (
    ModelMetadataResponse,
    ModelStatisticsResponse,
    RepositoryIndexEntry,
    ServerMetadataResponse,
)
from mer_core.tensors import (
    HEADER_LENGTH,
    Array,
    InferResponse,
    decode_infer_response,
    encode_infer_request,
)


class ClientState(enum.Enum):
    UNOPENED = 1
    OPENED = 2
    CLOSED = 3


class OipClient:
    """One connection pool to one worker; use it as an async context manager."""

    def __init__(
        self,
        base_url: str,
        token: str | SecretStr | None = None,
        *,
        timeout: float = 30.0,
        caller: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        if caller:
            headers["X-Mer-Caller"] = caller
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
        )
        self.state = ClientState.UNOPENED

    async def __aenter__(self) -> OipClient:
        if self.state is not ClientState.UNOPENED:
            raise RuntimeError(f"OipClient cannot be opened when {self.state.name}")
        await self._http.__aenter__()
        self.state = ClientState.OPENED
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self.state is not ClientState.CLOSED:
            self.state = ClientState.CLOSED
            await self._http.aclose()

    # --- plumbing ------------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> httpx.Response:
        if self.state is ClientState.CLOSED:
            raise RuntimeError("OipClient is closed")
        try:
            response = await self._http.request(method, path, content=content, headers=headers)
        except httpx.TimeoutException as exc:
            raise GatewayTimeout(f"worker {self.base_url} did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise Unavailable(f"worker {self.base_url} cannot be reached: {exc}") from exc
        if response.status_code not in ok:
            raise _error_of(response)
        return response

    async def _json(self, method: str, path: str) -> Any:
        return orjson.loads((await self._send(method, path)).content)

    # --- health and metadata -------------------------------------------------------------------

    async def live(self) -> bool:
        return await self._probe("/v2/health/live")

    async def ready(self) -> bool:
        return await self._probe("/v2/health/ready")

    async def _probe(self, path: str) -> bool:
        try:
            await self._send("GET", path)
        except MerError:
            return False
        return True

    async def server_metadata(self) -> ServerMetadataResponse:
        return ServerMetadataResponse.model_validate(await self._json("GET", "/v2"))

    async def model_metadata(self, model: str, version: str | None = None) -> ModelMetadataResponse:
        doc = await self._json("GET", _model_path(model, version))
        return ModelMetadataResponse.model_validate(doc)

    async def model_ready(self, model: str, version: str | None = None) -> bool:
        response = await self._send("GET", _model_path(model, version) + "/ready", ok=(200, 503))
        return response.status_code == 200

    # --- inference -----------------------------------------------------------------------------

    async def infer(
        self,
        model: str,
        inputs: Mapping[str, Array],
        *,
        version: str | None = None,
        outputs: Sequence[str] | None = None,
        binary_inputs: bool = False,
        binary_outputs: bool = False,
        request_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> dict[str, Array]:
        """Run ``model`` on ``inputs``; the answer's outputs by name."""
        response = await self.infer_response(
            model,
            inputs,
            version=version,
            outputs=outputs,
            binary_inputs=binary_inputs,
            binary_outputs=binary_outputs,
            request_id=request_id,
            parameters=parameters,
        )
        return response.outputs

    async def infer_response(
        self,
        model: str,
        inputs: Mapping[str, Array],
        *,
        version: str | None = None,
        outputs: Sequence[str] | None = None,
        binary_inputs: bool = False,
        binary_outputs: bool = False,
        request_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> InferResponse:
        """Like ``infer``, with the whole answer (model version, id, parameters)."""
        body, json_length = encode_infer_request(
            inputs,
            binary_inputs=binary_inputs,
            outputs=outputs,
            binary_outputs=binary_outputs,
            request_id=request_id,
            parameters=parameters,
        )
        headers = {"Content-Type": "application/json"}
        if json_length is not None:
            headers = {"Content-Type": "application/octet-stream", HEADER_LENGTH: str(json_length)}
        response = await self._send(
            "POST", _model_path(model, version) + "/infer", content=body, headers=headers
        )
        raw_length = response.headers.get(HEADER_LENGTH)
        return decode_infer_response(response.content, int(raw_length) if raw_length else None)

    # --- Triton extensions ---------------------------------------------------------------------

    async def repository_index(self) -> list[RepositoryIndexEntry]:
        doc = await self._json("POST", "/v2/repository/index")
        return [RepositoryIndexEntry.model_validate(item) for item in doc]

    async def load(self, model: str) -> None:
        await self._send("POST", f"/v2/repository/models/{quote(model, safe='')}/load")

    async def unload(self, model: str) -> None:
        await self._send("POST", f"/v2/repository/models/{quote(model, safe='')}/unload")

    async def statistics(self, model: str | None = None) -> ModelStatisticsResponse:
        path = "/v2/models/stats" if model is None else _model_path(model, None) + "/stats"
        return ModelStatisticsResponse.model_validate(await self._json("GET", path))


def _model_path(model: str, version: str | None) -> str:
    path = f"/v2/models/{quote(model, safe='')}"
    if version is not None:
        path += f"/versions/{quote(version, safe='')}"
    return path


def _error_of(response: httpx.Response) -> MerError:
    try:
        doc = orjson.loads(response.content)
        message = doc.get("error") if isinstance(doc, dict) else None
    except orjson.JSONDecodeError:
        message = None
    text = message or response.text[:200] or response.reason_phrase
    return error_for_status(response.status_code, str(text))
