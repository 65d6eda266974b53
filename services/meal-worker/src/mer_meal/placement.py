"""The seam between the gateway worker and remote execution (SSH lives in ``mer_meal.remote``).

A model whose configuration says ``server: Y`` while this worker is ``MER_SERVER_NAME`` (default
``local``) must run on server Y. The gateway does not decode such a request: it hands the raw
infer body and the relevant request headers to a ``RemoteExecutor`` and answers with whatever
status, headers and body it returns, unchanged.

The contract for an implementation:

- ``infer`` sends ``POST /v2/models/{model}[/versions/{version}]/infer`` with ``body`` and
  ``headers`` (already filtered to ``Content-Type``, ``Inference-Header-Content-Length``,
  ``X-Mer-Caller``, plus the gateway's ``X-Mer-Request-Id`` for the access-log row; it adds the
  remote worker's own ``Authorization``) to the worker of
  ``server`` and returns its answer: ``(status, headers, body)``. Headers worth passing back are
  ``Content-Type`` and ``Inference-Header-Content-Length``.
- Any answer of the remote worker, error statuses included, is returned, not raised: the remote
  worker wrote the access-log row for it (naming its own server), so the gateway writes none.
  When the gateway answers an error itself, its row reuses the forwarded request id, so a request
  the remote answered but whose answer was lost still leaves one row (the DAL keeps the first).
- When there is no answer, raise a ``mer_core.errors`` error: ``Unavailable`` (503, cannot
  connect), ``BadGateway`` (502, the peer failed or answered garbage) or ``GatewayTimeout``
  (504). The gateway answers those itself and writes the access-log row for them.
- ``start``/``stop`` are called by the worker's lifespan; ``stop`` closes every connection.

A worker built without an executor answers 503 for remote models, saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from mer_core.schemas.registry import ServerPublic

FORWARDED_HEADERS = ("content-type", "inference-header-content-length", "x-mer-caller")
"""Request headers (lower case) handed to a ``RemoteExecutor``."""

RemoteAnswer = tuple[int, Mapping[str, str], bytes]


@runtime_checkable
class RemoteExecutor(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def infer(
        self,
        server: ServerPublic,
        model: str,
        version: str | None,
        body: bytes,
        headers: Mapping[str, str],
    ) -> RemoteAnswer: ...


def no_remote_message(model: str, server: str) -> str:
    return (
        f"model {model} is placed on server {server}, which this worker cannot reach "
        "(no SSH support configured)"
    )
