"""The one error tree of MER, shared by every service.

    MerError                      500  internal: a bug, never expected
    ├── InvalidRequest            400  malformed body, tensor, name or option
    ├── Unauthorized              401  missing or wrong token
    ├── Forbidden                 403  token valid but not allowed (e.g. a write without admin)
    ├── NotFound                  404  unknown model, version, server, blob
    ├── Conflict                  409  exists already, or still in use
    ├── PayloadTooLarge           413
    ├── Unavailable               503  a dependency (database, model, remote server) is down
    ├── BadGateway                502  a remote worker or SSH peer answered badly or refused
    └── GatewayTimeout            504  a remote worker or SSH peer did not answer in time

Each class carries its HTTP status and a short ``kind`` that access logs record. Apps map the
tree to HTTP once, answering the Open Inference Protocol's error shape ``{"error": "..."}``
(plus ``kind``). Foreign exceptions are translated where they enter MER (``raise ... from exc``).
"""

from __future__ import annotations

from typing import Any, ClassVar


class MerError(Exception):
    """Base of every error MER raises on purpose."""

    status: ClassVar[int] = 500
    kind: ClassVar[str] = "internal"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_body(self) -> dict[str, Any]:
        """The JSON body of an HTTP error answer."""
        body: dict[str, Any] = {"error": self.message, "kind": self.kind}
        if self.details:
            body["details"] = self.details
        return body


class InvalidRequest(MerError):
    status = 400
    kind = "invalid_request"


class Unauthorized(MerError):
    status = 401
    kind = "unauthorized"


class Forbidden(MerError):
    status = 403
    kind = "forbidden"


class NotFound(MerError):
    status = 404
    kind = "not_found"


class Conflict(MerError):
    status = 409
    kind = "conflict"


class PayloadTooLarge(MerError):
    status = 413
    kind = "payload_too_large"


class Unavailable(MerError):
    status = 503
    kind = "unavailable"


class BadGateway(MerError):
    status = 502
    kind = "bad_gateway"


class GatewayTimeout(MerError):
    status = 504
    kind = "gateway_timeout"


_BY_STATUS: dict[int, type[MerError]] = {
    cls.status: cls
    for cls in (
        InvalidRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PayloadTooLarge,
        Unavailable,
        BadGateway,
        GatewayTimeout,
    )
}


def error_for_status(status: int, message: str, **details: Any) -> MerError:
    """Rebuild the MER error a peer answered with, from its HTTP status and message."""
    return _BY_STATUS.get(status, MerError)(message, **details)
