"""``server check`` and ``server start``, asked of the gateway worker (it does the SSH work).

The client lives in ``mer_core.remote_client``. Both send ``MER_TOKEN``, the token workers
know; ``server start`` is still a configuration change, allowed only with
``--allow-config-changes``.
"""

from __future__ import annotations

from mer_core import remote_client as client

from mer_repl.result import Result, Table, Text
from mer_repl.session import Session


async def check(session: Session, name: str) -> Result:
    url = session.settings.worker_url
    found = await client.check_server(url, session.read_token(), name)
    rows = [
        ["ssh", found.ssh],
        ["round trip", f"{found.rtt_ms:.1f} ms"],
        ["connect", f"{found.connect_ms:.1f} ms" if found.connect_ms is not None else "reused"],
        ["worker url", found.worker_url],
        ["worker live", "yes" if found.worker.live else "no"],
        ["worker ready", "yes" if found.worker.ready else "no"],
        ["version", found.version or "-"],
        ["providers", ", ".join(found.providers) or "-"],
        ["gpu", "yes" if found.has_gpu else "no"],
    ]
    blocks: list[Table | Text] = [Table(["check", "result"], rows, f"server {found.server}")]
    if found.problem:
        blocks.append(Text(f"problem: {found.problem}", "yellow"))
    elif not found.worker.ready:
        blocks.append(Text(f"the worker is not running: try `server start {name}`", "yellow"))
    healthy = found.worker.ready and not found.problem
    return Result(
        data=found.model_dump(mode="json"), blocks=tuple(blocks), exit_code=0 if healthy else 1
    )


async def start(session: Session, name: str) -> Result:
    url = session.settings.worker_url
    done = await client.start_server(url, session.read_token(), name)
    if done.started:
        line = f"started the worker on {done.server} (pid {done.pid}, log {done.log_file})"
    else:
        line = f"the worker on {done.server} runs already ({done.worker_url})"
    return Result(data=done.model_dump(mode="json"), blocks=(Text(line),))
