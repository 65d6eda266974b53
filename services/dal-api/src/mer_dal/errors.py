"""MER's error tree mapped to HTTP once for the DAL: ``{"error": "...", "kind": "..."}``.

Bad input is a 400 naming the field; a route that does not exist is a 404; anything unexpected
is logged with its traceback and answered as a bare 500, never with the traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from mer_core.errors import MerError
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)

_HTTP_KINDS = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "invalid_request"}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MerError, _mer_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


async def _mer_error(request: Request, exc: MerError) -> JSONResponse:
    if exc.status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc.message)
    return JSONResponse(exc.to_body(), status_code=exc.status)


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    message = "; ".join(describe_error(e) for e in exc.errors()[:5])
    return JSONResponse({"error": message, "kind": "invalid_request"}, status_code=400)


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    if exc.status_code == 404:
        message = f"no such route: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    kind = _HTTP_KINDS.get(
        exc.status_code, "invalid_request" if exc.status_code < 500 else "internal"
    )
    return JSONResponse({"error": message, "kind": kind}, status_code=exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s: unexpected error", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": "internal error", "kind": "internal"}, status_code=500)


def describe_error(error: dict[str, Any]) -> str:
    """One pydantic error as ``where: what``, e.g. ``body.name: String should match ...``."""
    if error.get("type") == "json_invalid":
        return f"malformed JSON body: {error.get('ctx', {}).get('error', error.get('msg'))}"
    loc = [str(part) for part in error.get("loc", ())]
    if loc == ["body"] and error.get("type") == "model_attributes_type":
        return "the body must be a JSON object (Content-Type: application/json)"
    if loc and loc[0] in {"body", "query", "path", "header"} and len(loc) > 1:
        where = f"{loc[0]} field {'.'.join(loc[1:])}"
    else:
        where = ".".join(loc) or "request"
    return f"{where}: {error.get('msg', 'invalid')}"
