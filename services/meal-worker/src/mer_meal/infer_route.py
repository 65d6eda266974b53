"""``POST /v2/models/{model}[/versions/{version}]/infer`` as a bare ASGI endpoint.

The hot path skips every framework layer it can: the body is read straight from ``receive``,
only the few headers the data plane needs are picked from the raw header list, and the answer is
two ``send`` calls. Everything else about the request happens in ``Dataplane.infer``.
"""

from __future__ import annotations

from mer_core.errors import PayloadTooLarge, Unauthorized
from starlette.types import Receive, Scope, Send

from mer_meal.auth import TokenCheck
from mer_meal.dataplane import Answer, Dataplane

MAX_BODY_BYTES = 512 * 1024 * 1024
MAX_CALLER = 200
"""Characters of ``X-Mer-Caller`` kept for the access log."""

_WANTED = {
    b"content-type": "content-type",
    b"inference-header-content-length": "inference-header-content-length",
    b"x-mer-caller": "x-mer-caller",
    b"x-mer-request-id": "x-mer-request-id",
}


class _ClientGone(Exception):
    pass


def match_infer(scope: Scope) -> dict[str, str] | None:
    """The path parameters when ``scope`` is ``POST /v2/models/M[/versions/V]/infer``."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    if not (path.startswith("/v2/models/") and path.endswith("/infer")):
        return None
    parts = path[11:-6].split("/")
    if len(parts) == 1 and parts[0]:
        return {"model": parts[0]}
    if len(parts) == 3 and parts[1] == "versions" and parts[0] and parts[2]:
        return {"model": parts[0], "version": parts[2]}
    return None


class InferEndpoint:
    def __init__(self, dataplane: Dataplane, auth: TokenCheck) -> None:
        self._dataplane = dataplane
        self._auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        params = scope["path_params"]
        model: str = params["model"]
        version: str | None = params.get("version")
        headers: dict[str, str] = {}
        token: bytes | None = None
        length = 0
        for key, value in scope["headers"]:
            if key == b"authorization":
                token = value
            elif key == b"content-length":
                length = int(value) if value.isdigit() else 0
            else:
                name = _WANTED.get(key)
                if name is not None:
                    headers[name] = value.decode("latin-1")
        caller = (headers.pop("x-mer-caller", None) or _client(scope))[:MAX_CALLER]
        if not self._auth.ok(token):
            error = Unauthorized("missing or wrong token: send 'Authorization: Bearer MER_TOKEN'")
            await _send(send, self._dataplane.reject(model, version, caller, error))
            return
        if length > MAX_BODY_BYTES:
            await _send(send, self._dataplane.reject(model, version, caller, _too_large()))
            return
        try:
            body = await _read_body(receive)
        except _ClientGone:
            return
        except PayloadTooLarge as exc:
            await _send(send, self._dataplane.reject(model, version, caller, exc))
            return
        await _send(send, await self._dataplane.infer(model, version, body, headers, caller))


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is larger than {MAX_BODY_BYTES} bytes")


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


async def _read_body(receive: Receive) -> bytes:
    message = await receive()
    if message["type"] == "http.disconnect":
        raise _ClientGone
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    parts = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


async def _send(send: Send, answer: Answer) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
    headers.append((b"content-length", str(len(answer.body)).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})
