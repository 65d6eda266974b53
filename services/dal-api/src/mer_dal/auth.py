"""Who may call what, in one place (docs/CONTRACTS.md, "DAL REST API").

No token: ``GET /health`` and the API docs. ``MER_TOKEN`` or the admin token: every read and
``POST /access-logs``. The admin token: every other write. Checked before the body is read, so
a caller without the right token learns nothing else.
"""

from __future__ import annotations

import hmac

from mer_core.errors import Forbidden, InvalidRequest, MerError, Unauthorized
from pydantic import SecretStr
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

PUBLIC_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
READ_METHODS = frozenset({"GET", "HEAD"})
SERVICE_WRITES = frozenset({("POST", "/access-logs")})


class Tokens:
    """The two bearer tokens, compared in constant time."""

    def __init__(self, token: SecretStr, admin: SecretStr) -> None:
        self._token = token.get_secret_value().encode()
        self._admin = admin.get_secret_value().encode()

    def role_of(self, authorization: str | None) -> str:
        """``admin`` or ``service`` for a valid ``Authorization`` header, else 401."""
        scheme, _, presented = (authorization or "").partition(" ")
        if not authorization:
            raise Unauthorized("missing token: send Authorization: Bearer MER_TOKEN")
        if scheme.lower() != "bearer" or not presented.strip():
            raise Unauthorized("malformed Authorization header: expected Bearer TOKEN")
        given = presented.strip().encode()
        if hmac.compare_digest(given, self._admin):
            return "admin"
        if hmac.compare_digest(given, self._token):
            return "service"
        raise Unauthorized("wrong token")


def needed_role(method: str, path: str) -> str | None:
    """The least role a request needs: ``None`` (public), ``service`` or ``admin``."""
    if path in PUBLIC_PATHS:
        return None
    if method in READ_METHODS or (method, path.rstrip("/")) in SERVICE_WRITES:
        return "service"
    return "admin"


def check_no_nul(scope: Scope) -> None:
    """Refuse a NUL (``%00``) in the path or query: SurrealDB cannot take one in a key or value."""
    if "\x00" in scope["path"]:
        raise InvalidRequest("the URL path must not contain a NUL character (%00)")
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        raise InvalidRequest("the query string must not contain a NUL character (%00)")


class AuthMiddleware:
    """Refuses (401/403) before routing, and a NUL in the URL (400) after the token check; the
    answer has MER's error shape."""

    def __init__(self, app: ASGIApp, tokens: Tokens) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        needed = needed_role(scope["method"], scope["path"])
        if needed is not None:
            try:
                self._check(scope, needed)
                check_no_nul(scope)
            except MerError as exc:
                headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
                response = JSONResponse(exc.to_body(), status_code=exc.status, headers=headers)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _check(self, scope: Scope, needed: str) -> None:
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        role = self.tokens.role_of(authorization)
        if needed == "admin" and role != "admin":
            raise Forbidden(
                f"{scope['method']} {scope['path']} changes the registry and needs the admin "
                "token (MER_ADMIN_TOKEN)"
            )
