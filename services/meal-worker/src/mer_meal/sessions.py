"""onnxruntime sessions, one per (ONNX file, weight vector, device, threads), cached LRU.

A weight vector replaces graph initializers through ``SessionOptions.add_initializer``: each
tensor of the safetensors file becomes an ``OrtValue`` over a numpy buffer, and onnxruntime uses
that memory without copying it, so the session entry keeps every OrtValue and its buffer alive as
long as the session. Sessions are built in a thread, a build is shared by everyone who asks for
the same key meanwhile, and the cache evicts the least recently used sessions once the estimated
size (file sizes) passes the budget. Eviction only forgets a session: a request that holds it
finishes on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from mer_core.datatypes import BY_ORT
from mer_core.errors import Unavailable
from safetensors.numpy import load_file

from mer_meal.tasks import TaskSet

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


@dataclass(frozen=True, slots=True)
class SessionKey:
    artifact: str
    weights: str | None
    device: str
    intra_op_threads: int
    inter_op_threads: int


@dataclass(frozen=True, slots=True)
class TensorSig:
    """An input or output as the session sees it; ``-1`` is a free dimension."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def describe(self) -> str:
        return f"{self.datatype} {list(self.shape)}"


@dataclass(eq=False)
class LoadedSession:
    """A ready session and everything that must live as long as it does."""

    key: SessionKey
    session: ort.InferenceSession
    provider: str
    inputs: dict[str, TensorSig]
    outputs: list[TensorSig]
    size_bytes: int
    batchable: bool
    keepalive: list[tuple[np.ndarray[Any, Any], ort.OrtValue]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.output_names = [o.name for o in self.outputs]
        self.output_index = {o.name: i for i, o in enumerate(self.outputs)}
        self.all_outputs = {
            binary: [(i, o.name, binary) for i, o in enumerate(self.outputs)]
            for binary in (False, True)
        }

    def run(self, feed: dict[str, np.ndarray[Any, Any]]) -> list[np.ndarray[Any, Any]]:
        return self.session.run(self.output_names, feed)  # type: ignore[no-any-return]


def choose_providers(model: str, device: str) -> list[str]:
    """The execution providers for a device policy, or a clear refusal."""
    available = ort.get_available_providers()
    if device == "cpu":
        return [CPU]
    if CUDA in available:
        return [CUDA, CPU]
    if device == "cuda":
        raise Unavailable(
            f"model {model} wants device cuda but this worker has no CUDA execution provider "
            "(install onnxruntime-gpu)"
        )
    return [CPU]


def _sig(arg: Any) -> TensorSig | None:
    entry = BY_ORT.get(arg.type)
    if entry is None:
        return None
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in arg.shape)
    return TensorSig(arg.name, entry.oip, shape)


def build_session(
    key: SessionKey, model: str, artifact: Path, weights: Path | None
) -> LoadedSession:
    """Build a session (blocking: run it in a thread)."""
    providers = choose_providers(model, key.device)
    options = ort.SessionOptions()
    options.log_severity_level = 4  # a failed run is answered and logged by MER, not on stderr
    if key.intra_op_threads:
        options.intra_op_num_threads = key.intra_op_threads
    if key.inter_op_threads:
        options.inter_op_num_threads = key.inter_op_threads
    # The event loop shares the cores: idle onnxruntime threads must sleep, not spin.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    keepalive: list[tuple[np.ndarray[Any, Any], ort.OrtValue]] = []
    size = artifact.stat().st_size
    try:
        if weights is not None:
            size += weights.stat().st_size
            for name, array in load_file(str(weights)).items():
                buffer = np.ascontiguousarray(array)
                value = ort.OrtValue.ortvalue_from_numpy(buffer)
                options.add_initializer(name, value)
                keepalive.append((buffer, value))
        session = ort.InferenceSession(str(artifact), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime and safetensors raise plain exceptions
        raise Unavailable(f"cannot load model {model}: {exc}") from exc
    inputs = [_sig(a) for a in session.get_inputs()]
    if any(s is None for s in inputs):
        raise Unavailable(f"cannot load model {model}: it has a non-tensor input")
    outputs = [s for s in (_sig(a) for a in session.get_outputs()) if s is not None]
    sigs = [s for s in inputs if s is not None]
    batchable = all(s.shape[:1] == (-1,) for s in [*sigs, *outputs])
    return LoadedSession(
        key=key,
        session=session,
        provider=session.get_providers()[0],
        inputs={s.name: s for s in sigs},
        outputs=outputs,
        size_bytes=size,
        batchable=batchable,
        keepalive=keepalive,
    )


Files = Callable[[], Awaitable[tuple[Path, Path | None]]]
"""Fetches (ONNX file, weights file) when a session must be built."""


class SessionCache:
    """LRU of loaded sessions within a memory budget; builds coalesced per key."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[SessionKey, LoadedSession] = OrderedDict()
        self._builds: dict[SessionKey, asyncio.Task[LoadedSession]] = {}
        self._tasks = TaskSet("session builds")
        self.on_evict: Callable[[SessionKey], None] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LoadedSession]:
        return iter(list(self._entries.values()))

    @property
    def used_bytes(self) -> int:
        return sum(e.size_bytes for e in self._entries.values())

    def peek(self, key: SessionKey) -> LoadedSession | None:
        """The loaded session of ``key`` (now the most recently used), if any."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    async def get(self, key: SessionKey, model: str, files: Files) -> LoadedSession:
        entry = self.peek(key)
        if entry is not None:
            return entry
        build = self._builds.get(key)
        if build is None:
            build = self._tasks.spawn(self._build(key, model, files), name=f"build {model}")
            self._builds[key] = build
        return await asyncio.shield(build)

    async def _build(self, key: SessionKey, model: str, files: Files) -> LoadedSession:
        try:
            artifact, weights = await files()
            entry = await asyncio.to_thread(build_session, key, model, artifact, weights)
            self._entries[key] = entry
            self._shrink(keep=key)
            log.info("loaded %s on %s (%d bytes)", model, entry.provider, entry.size_bytes)
            return entry
        finally:
            self._builds.pop(key, None)

    def _shrink(self, keep: SessionKey) -> None:
        while self.used_bytes > self.budget_bytes and len(self._entries) > 1:
            oldest = next(iter(self._entries))
            if oldest == keep:
                self._entries.move_to_end(keep)
                continue
            self.drop(oldest)

    def drop(self, key: SessionKey) -> bool:
        """Forget a session; requests that hold it finish on it."""
        if self._entries.pop(key, None) is None:
            return False
        if self.on_evict is not None:
            self.on_evict(key)
        return True

    async def stop(self) -> None:
        await self._tasks.stop()
        for key in list(self._entries):
            self.drop(key)
