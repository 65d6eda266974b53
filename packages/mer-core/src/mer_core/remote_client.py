"""Client of the gateway worker's remote-server endpoints, for the REPL's ``server check/start``.

    await check_server("http://127.0.0.1:8701", token, "gpu1")  # -> ServerCheckPublic
    await start_server("http://127.0.0.1:8701", token, "gpu1")  # -> ServerStartPublic

The gateway does the SSH work; this only asks it. An error answer raises the ``mer_core.errors``
class of its status with the gateway's message; a gateway that cannot be reached raises
``Unavailable``, one that does not answer in time ``GatewayTimeout``.
"""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from mer_core.errors import BadGateway, GatewayTimeout, Unavailable, error_for_status
from mer_core.schemas.remote import ServerCheckPublic, ServerStartPublic

CHECK_TIMEOUT_S = 60.0
"""Enough for a connect timeout, a reconnect and the worker's health answer."""
START_TIMEOUT_S = 180.0
"""Enough for a remote worker to start and load its configuration."""

_M = TypeVar("_M", bound=BaseModel)


async def check_server(
    worker_url: str, token: SecretStr | str | None, name: str, *, timeout_s: float = CHECK_TIMEOUT_S
) -> ServerCheckPublic:
    """Connect to server ``name`` through the gateway; report the link and its remote worker."""
    return await _call(worker_url, token, ("GET", name, "check"), ServerCheckPublic, timeout_s)


async def start_server(
    worker_url: str, token: SecretStr | str | None, name: str, *, timeout_s: float = START_TIMEOUT_S
) -> ServerStartPublic:
    """Start the remote worker of server ``name`` over SSH, unless it runs already."""
    return await _call(worker_url, token, ("POST", name, "start"), ServerStartPublic, timeout_s)


async def _call(
    worker_url: str,
    token: SecretStr | str | None,
    call: tuple[str, str, str],
    model: type[_M],
    timeout_s: float,
) -> _M:
    method, name, action = call
    base = worker_url.rstrip("/")
    url = f"{base}/mer/servers/{quote(name, safe='')}/{action}"
    secret = token.get_secret_value() if isinstance(token, SecretStr) else token
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as http:
            response = await http.request(method, url, headers=headers)
    except httpx.TimeoutException as exc:
        raise GatewayTimeout(f"the worker at {base} did not answer within {timeout_s:g} s") from exc
    except httpx.TransportError as exc:
        detail = str(exc) or type(exc).__name__
        raise Unavailable(f"cannot reach the worker at {base}: {detail}") from exc
    if response.is_error:
        try:
            message = str(response.json()["error"])
        except (ValueError, KeyError, TypeError):
            message = response.text.strip() or response.reason_phrase
        raise error_for_status(response.status_code, message)
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise BadGateway(f"the worker at {base} answered {action} with an unexpected body") from exc
