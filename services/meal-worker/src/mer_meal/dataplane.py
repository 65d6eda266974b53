"""The infer path, HTTP-free: raw body in, status/headers/body out, one access-log row each.

    body --decode--> InferRequest --check--> Feed --batcher--> outputs --encode--> answer

Configuration, target and session lookups are dictionary hits after the first request, so the
path makes no DAL call. A model placed on another server is handed, undecoded, to the
``RemoteExecutor`` (see ``mer_meal.placement``); the remote worker logs those requests itself,
under the request id the gateway sends along (``X-Mer-Request-Id``), which the gateway's own row
reuses when it answers 502/503/504: one row per request either way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from time import perf_counter_ns
from typing import overload

import orjson
from mer_core.errors import GatewayTimeout, InvalidRequest, MerError, Unavailable
from mer_core.schemas.registry import ModelPublic, is_name, safe_label
from mer_core.tensors import HEADER_LENGTH, InferOutput, decode_infer_request, encode_infer_response

from mer_meal.access_log import REQUEST_ID_HEADER, AccessLogger, checked_request_id
from mer_meal.batcher import Batcher
from mer_meal.placement import FORWARDED_HEADERS, RemoteExecutor, no_remote_message
from mer_meal.repository import ModelRepository
from mer_meal.sessions import SessionKey
from mer_meal.signature import check_request
from mer_meal.stats import Stats
from mer_meal.targets import Target, Targets

log = logging.getLogger(__name__)

JSON = "application/json"
OCTETS = "application/octet-stream"
_HEADER_LENGTH = HEADER_LENGTH.lower()
UNKNOWN = "_unknown"
"""The stats and metrics label of every model or version that did not resolve: names callers
make up must not grow the series. (Not a valid name, so no real model can collide with it.)"""


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=lambda: {"content-type": JSON})
    error_kind: str | None = None


def error_answer(error: MerError) -> Answer:
    return Answer(error.status, orjson.dumps(error.to_body()), error_kind=error.kind)


class Dataplane:
    def __init__(
        self,
        *,
        server_name: str,
        repo: ModelRepository,
        targets: Targets,
        stats: Stats,
        access_log: AccessLogger,
        executor: Executor,
        remote: RemoteExecutor | None = None,
        request_timeout_s: float = 30.0,
    ) -> None:
        self.server_name = server_name
        self._repo = repo
        self._targets = targets
        self._stats = stats
        self._log = access_log
        self._executor = executor
        self._remote = remote
        self._timeout = request_timeout_s
        self._batchers: dict[tuple[str, SessionKey], Batcher] = {}

    async def infer(
        self,
        model: str,
        version: str | None,
        body: bytes,
        headers: Mapping[str, str],
        caller: str,
    ) -> Answer:
        """Answer one infer request; ``headers`` has lower-case names, those of an authenticated
        caller (``X-Mer-Request-Id`` is honoured, when valid, as the access-log request id)."""
        start = perf_counter_ns()
        label = version
        known = resolved = False
        rows = batch = queue_ns = compute_ns = 0
        request_id = headers.get(REQUEST_ID_HEADER)
        if request_id is not None:
            request_id = checked_request_id(request_id)
        try:
            config = self._repo.cached(model) or await self._repo.model(_checked("model", model))
            known = True
            if config.server != self.server_name:
                request_id = request_id or self._log.new_id()
                return await self._remote_infer(
                    config, version, body, headers, caller=caller, start=start, rid=request_id
                )
            target = self._targets.cached(model, version) or await self._targets.resolve(
                config, _checked("weights version", version)
            )
            label, resolved = target.version, True
            request = decode_infer_request(body, _json_length(headers))
            session = await self._targets.session(target)
            feed = check_request(model, session, request)
            result = await self._batcher(target).submit(
                session, feed.inputs, feed.rows, feed.signature, target.limits
            )
            rows, batch = feed.rows, result.batch_size
            queue_ns, compute_ns = result.queue_ns, result.compute_ns
            outputs = [InferOutput(n, result.outputs[i], b) for i, n, b in feed.outputs]
            payload, json_length = encode_infer_response(
                model_name=model, model_version=label, request_id=request.id, outputs=outputs
            )
            answer = Answer(200, payload, _answer_headers(json_length))
        except MerError as exc:
            answer = error_answer(exc)
        except Exception:
            log.exception("infer on model %s failed", model)
            message = f"internal error while running model {model} (the worker's log has it)"
            answer = error_answer(MerError(message))
        self._note(
            model if known else None,
            label if resolved else None,
            (model, version),
            caller,
            answer,
            total_ns=perf_counter_ns() - start,
            rows=rows,
            batch=batch,
            queue_ns=queue_ns,
            compute_ns=compute_ns,
            request_id=request_id,
        )
        return answer

    def reject(self, model: str, version: str | None, caller: str, error: MerError) -> Answer:
        """Answer an infer request refused before it reached the data plane (e.g. no token)."""
        answer = error_answer(error)
        self._note(None, None, (model, version), caller, answer)
        return answer

    def _note(
        self,
        model: str | None,
        version: str | None,
        asked: tuple[str, str | None],
        caller: str,
        answer: Answer,
        *,
        total_ns: int = 0,
        rows: int = 0,
        batch: int = 0,
        queue_ns: int = 0,
        compute_ns: int = 0,
        request_id: str | None = None,
    ) -> None:
        """Count and log one request; ``model``/``version`` are set once they resolved (and so
        are valid, registered names), ``asked`` is what the caller sent."""
        ok = answer.status == 200
        if model is None:
            stats_model, model = UNKNOWN, safe_label(asked[0])
        else:
            stats_model = model
        if version is None and asked[1] is not None:
            stats_version: str | None = UNKNOWN
            version = safe_label(asked[1])
        else:
            stats_version = version
        # positional: this runs once per request
        self._stats.request(stats_model, stats_version, ok, rows, queue_ns, compute_ns, total_ns)
        self._log.record(
            model, version, caller, ok, answer.status, answer.error_kind, rows, batch,
            queue_ns / 1e6, compute_ns / 1e6, total_ns / 1e6, request_id,
        )  # fmt: skip

    def _batcher(self, target: Target) -> Batcher:
        key = (target.model, target.key)
        found = self._batchers.get(key)
        if found is None:
            model, version = target.model, target.version

            def observe(rows: int, compute_ns: int) -> None:
                self._stats.batch(model, version, rows, compute_ns)

            found = Batcher(model, self._executor, target.limits, observe)
            self._batchers[key] = found
        return found

    def session_evicted(self, key: SessionKey) -> None:
        """Forget idle batchers of an evicted session (busy ones finish and are reused)."""
        for bkey in [k for k, b in self._batchers.items() if k[1] == key and b.idle]:
            del self._batchers[bkey]

    async def _remote_infer(
        self,
        config: ModelPublic,
        version: str | None,
        body: bytes,
        headers: Mapping[str, str],
        *,
        caller: str,
        start: int,
        rid: str,
    ) -> Answer:
        """Forward to the model's server, with ``rid`` as its request id. Raises (and so is logged
        here, under ``rid``) only without an answer."""
        if self._remote is None:
            raise Unavailable(no_remote_message(config.name, config.server))
        server = await self._repo.server(config.server)
        if not server.enabled:
            raise Unavailable(
                f"model {config.name} is placed on server {server.name}, which is disabled"
            )
        forwarded = {k: headers[k] for k in FORWARDED_HEADERS if k in headers}
        forwarded["x-mer-caller"] = caller
        forwarded[REQUEST_ID_HEADER] = rid
        try:
            async with asyncio.timeout(self._timeout):
                status, answer_headers, payload = await self._remote.infer(
                    server, config.name, version, body, forwarded
                )
        except TimeoutError:
            raise GatewayTimeout(
                f"server {server.name} did not answer for model {config.name} "
                f"within {self._timeout:g}s"
            ) from None
        kept = {k.lower(): v for k, v in answer_headers.items()}
        kept = {k: v for k, v in kept.items() if k in ("content-type", _HEADER_LENGTH)}
        kept.setdefault("content-type", JSON)
        self._stats.request(
            config.name,
            version if status == 200 or version is None else UNKNOWN,
            ok=status == 200,
            rows=0,
            queue_ns=0,
            compute_ns=0,
            total_ns=perf_counter_ns() - start,
        )
        return Answer(status, payload, kept)

    async def stop(self) -> None:
        batchers, self._batchers = list(self._batchers.values()), {}
        for batcher in batchers:
            await batcher.stop()


_JSON_HEADERS = {"content-type": JSON}


def _answer_headers(json_length: int | None) -> Mapping[str, str]:
    if json_length is None:
        return _JSON_HEADERS
    return {"content-type": OCTETS, _HEADER_LENGTH: str(json_length)}


@overload
def _checked(what: str, name: str) -> str: ...
@overload
def _checked(what: str, name: None) -> None: ...
@overload
def _checked(what: str, name: str | None) -> str | None: ...
def _checked(what: str, name: str | None) -> str | None:
    """``name`` if it may name a registered model or version, else a 400 before any lookup."""
    if name is None or is_name(name):
        return name
    raise InvalidRequest(
        f"invalid {what} name {safe_label(name)!r}: use letters, digits and '_.-', "
        "starting with a letter or digit, at most 63 characters"
    )


def _json_length(headers: Mapping[str, str]) -> int | None:
    raw = headers.get(_HEADER_LENGTH)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidRequest(f"{HEADER_LENGTH} must be an integer, got {raw!r}") from None
