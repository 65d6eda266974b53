"""Load generators: wrk (preferred) and a built-in asyncio fallback.

Both post one fixed request body over a number of keep-alive connections for a fixed time and
report completed requests, errors and latency percentiles. wrk runs with one thread (``-t1``):
the machine it shares with the servers under test has few cores. Its Lua script reads the body
from a file (binary tensors are not text) and prints one JSON line from ``done()``; the script and
the body live in a private temporary folder because the script holds the bearer token.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

RESULT_MARK = "BENCH_RESULT "


@dataclass(frozen=True)
class Target:
    """One request, posted again and again: where to, what body, which headers."""

    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


class LoadGenerator(Protocol):
    name: str

    def run(self, target: Target, connections: int, seconds: float) -> LoadResult: ...


class LoadError(RuntimeError):
    """The load run itself failed, or the server answered errors during it."""


def _lua_string(text: str) -> str:
    """``text`` as a Lua long-bracket literal that no content can close early."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,'
    .. '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\\n',
    MARK, summary.requests, summary.duration, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


class Wrk:
    """wrk with a generated Lua script; ``-t1`` so it takes at most one core."""

    name = "wrk"

    def __init__(self, executable: str, workdir: Path) -> None:
        self.executable = executable
        self.workdir = workdir
        self._count = 0

    def version(self) -> str:
        done = subprocess.run(
            [self.executable, "--version"], capture_output=True, text=True, check=False
        )
        words = (done.stdout or done.stderr).split()
        return " ".join(words[:2]) if words else self.executable

    def _script(self, target: Target) -> Path:
        self._count += 1
        body = self.workdir / f"body-{self._count}.bin"
        body.write_bytes(target.body)
        lines = [
            f"local f = assert(io.open({_lua_string(str(body))}, 'rb'))",
            "wrk.method = 'POST'",
            "wrk.body = f:read('*a')",
            "f:close()",
            f"MARK = {_lua_string(RESULT_MARK)}",
        ]
        lines += [
            f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in target.headers.items()
        ]
        script = self.workdir / f"post-{self._count}.lua"
        script.write_text("\n".join(lines) + "\n" + _DONE)
        return script

    def run(self, target: Target, connections: int, seconds: float) -> LoadResult:
        script = self._script(target)
        argv = [
            self.executable,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            target.url,
        ]
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 30, check=False
        )
        if done.returncode != 0:
            raise LoadError(f"wrk exited with {done.returncode}: {done.stderr.strip()[-2000:]}")
        for line in done.stdout.splitlines():
            if line.startswith(RESULT_MARK):
                raw = json.loads(line[len(RESULT_MARK) :])
                break
        else:
            output = done.stdout[-2000:] + done.stderr[-2000:]
            raise LoadError(f"wrk printed no result:\n{output}")
        errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
        return LoadResult(
            requests=raw["requests"] - raw["status"],
            seconds=raw["duration_us"] / 1e6,
            errors=errors,
            p50_ms=raw["p50_us"] / 1e3,
            p99_ms=raw["p99_us"] / 1e3,
        )


class AsyncioLoad:
    """The fallback: ``connections`` keep-alive HTTP/1.1 connections on raw asyncio streams.

    It runs in this process and costs more CPU per request than wrk, so it understates fast
    servers; it is there so that ``make bench`` still says something where wrk is missing.
    """

    name = "built-in asyncio"

    def run(self, target: Target, connections: int, seconds: float) -> LoadResult:
        return asyncio.run(self._run(target, connections, seconds))

    async def _run(self, target: Target, connections: int, seconds: float) -> LoadResult:
        url = urlsplit(target.url)
        host, port = url.hostname or "127.0.0.1", url.port or 80
        head = [f"POST {url.path or '/'} HTTP/1.1", f"Host: {host}:{port}"]
        head += [f"{k}: {v}" for k, v in target.headers.items()]
        head.append(f"Content-Length: {len(target.body)}")
        request = ("\r\n".join(head) + "\r\n\r\n").encode() + target.body
        latencies: list[float] = []
        errors = 0
        start = time.perf_counter()
        deadline = start + seconds

        async def one_connection() -> None:
            nonlocal errors
            reader, writer = await asyncio.open_connection(host, port)
            try:
                while time.perf_counter() < deadline:
                    t0 = time.perf_counter()
                    writer.write(request)
                    if await _read_response(reader) >= 400:
                        errors += 1
                    else:
                        latencies.append(time.perf_counter() - t0)
            finally:
                writer.close()
                await writer.wait_closed()

        results = await asyncio.gather(
            *(one_connection() for _ in range(connections)), return_exceptions=True
        )
        elapsed = time.perf_counter() - start
        errors += sum(isinstance(r, BaseException) for r in results)
        return LoadResult(
            requests=len(latencies),
            seconds=elapsed,
            errors=errors,
            p50_ms=_percentile(latencies, 50) * 1e3,
            p99_ms=_percentile(latencies, 99) * 1e3,
        )


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 answer with a Content-Length body; return its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def pick_load_generator(workdir: Path, prefer: str = "auto") -> tuple[LoadGenerator, str]:
    """wrk if it is installed (unless ``prefer`` is "builtin"), and a line saying which and why."""
    executable = shutil.which("wrk")
    if prefer != "builtin" and executable:
        wrk = Wrk(executable, Path(tempfile.mkdtemp(prefix="wrk-", dir=workdir)))
        return wrk, f"load generator: {wrk.version()} (-t1, Lua script)"
    if prefer == "wrk":
        raise LoadError("wrk is not installed: apt-get install wrk")
    why = "asked for" if prefer == "builtin" else "wrk not found (apt-get install wrk)"
    return AsyncioLoad(), f"load generator: built-in asyncio ({why}); it understates fast servers"
