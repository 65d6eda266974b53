"""The worker's one secret: ``Authorization: Bearer MER_TOKEN``, compared in constant time."""

from __future__ import annotations

import hmac

from mer_core.errors import Unauthorized
from pydantic import SecretStr


class TokenCheck:
    def __init__(self, token: SecretStr) -> None:
        self._expected = b"Bearer " + token.get_secret_value().encode()

    def ok(self, header: bytes | None) -> bool:
        return header is not None and hmac.compare_digest(header, self._expected)

    def require(self, header: bytes | None) -> None:
        if not self.ok(header):
            raise Unauthorized(
                "missing or wrong token: send 'Authorization: Bearer MER_TOKEN'"
                if header
                else "this route needs 'Authorization: Bearer MER_TOKEN'"
            )
