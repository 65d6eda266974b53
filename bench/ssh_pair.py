"""``ssh_vs_direct``: one remote worker, reached through the gateway's SSH proxy and directly.

A real OpenSSH sshd on loopback (``tests.ssh.sshd``) stands for the remote host, and a second
worker with ``MER_SERVER_NAME=remote`` for the worker on it. The registry gets a ``kind: ssh``
server ``remote`` and a model ``digits-remote`` (the same ONNX file and weight vector v1) placed
on it. The gateway is the benchmark's MER worker: it proxies ``digits-remote`` over SSH to the
remote worker; the direct side posts the same body to the remote worker itself.

Where the pair cannot run (no sshd, or a worker without SSH support), ``remote_pair`` yields a
pair that is not ready and says why; the report then says "not measured (why)" and the JSON key
is null.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mer_core.dal_client import DalClient
from mer_core.errors import MerError
from mer_core.schemas.registry import ModelCreate, ModelUpdate, ServerCreate, WeightsCreate

from bench.bare_ort import BareSession
from bench.bodies import WrongAnswer, check_answer, json_target
from bench.loadgen import Target
from bench.stack import MODEL, ONNX_FILE, WEIGHTS, WEIGHTS_FILE, Stack, enter_together
from tests.ssh.sshd import Sshd, sshd_missing_reason, sshd_server
from tests.support.procs import Service, Tokens, worker_service

SERVER = "remote"
REMOTE_MODEL = f"{MODEL}-remote"


@dataclass
class RemotePair:
    ready: bool
    note: str
    through_ssh: Target = field(default_factory=lambda: Target("", b""))
    direct: Target = field(default_factory=lambda: Target("", b""))
    pids: list[int] = field(default_factory=list)


async def register_remote(dal_url: str, tokens: Tokens, sshd: Sshd, worker_url: str) -> None:
    """The ``remote`` server (reached over SSH) and ``digits-remote`` placed on it."""
    port = urlsplit(worker_url).port
    async with DalClient(dal_url, tokens.admin, timeout=60) as dal:
        await dal.create_server(
            ServerCreate(
                name=SERVER,
                kind="ssh",
                worker_url=f"http://127.0.0.1:{port}",
                ssh_host=sshd.host,
                ssh_port=sshd.port,
                ssh_user=sshd.user,
                identity_file=str(sshd.identity_file),
                known_hosts_file=str(sshd.known_hosts_file),
            )
        )
        local = await dal.get_model(MODEL)
        onnx = await dal.upload_blob(ONNX_FILE)
        await dal.create_model(
            ModelCreate(
                name=REMOTE_MODEL,
                artifact=onnx.sha256,
                server=SERVER,
                max_batch_size=local.max_batch_size,
                max_queue_delay_us=local.max_queue_delay_us,
            )
        )
        weights = await dal.upload_blob(WEIGHTS_FILE)
        await dal.add_weights(REMOTE_MODEL, WeightsCreate(version=WEIGHTS, blob=weights.sha256))
        await dal.update_model(REMOTE_MODEL, ModelUpdate(default_weights=WEIGHTS))


@contextmanager
def remote_pair(workdir: Path, stack: Stack, batch: Any, bare: BareSession) -> Iterator[RemotePair]:
    """sshd and the remote worker until the block ends, or a pair that says why it is missing."""
    reason = sshd_missing_reason()
    if reason:
        yield RemotePair(False, f"ssh_vs_direct: not measured ({reason})")
        return
    with ExitStack() as inner:
        try:
            managers: list[AbstractContextManager[Any]] = [
                sshd_server(workdir / "sshd"),
                worker_service(
                    workdir / "remote", stack.tokens, stack.dal.url, MER_SERVER_NAME=SERVER
                ),
            ]
            sshd, remote = enter_together(inner, managers)
            assert isinstance(sshd, Sshd)
            assert isinstance(remote, Service)
            asyncio.run(register_remote(stack.dal.url, stack.tokens, sshd, remote.url))
            token = stack.tokens.token
            through_ssh = json_target(stack.mer.url, REMOTE_MODEL, batch, token)
            direct = json_target(remote.url, REMOTE_MODEL, batch, token)
            expected = bare.run(batch)[0]
            check_answer("MER through SSH", through_ssh, expected)
            check_answer("remote worker direct", direct, expected)
        except (RuntimeError, WrongAnswer, MerError) as exc:
            why = " ".join(str(exc).split())[:300]
            yield RemotePair(False, f"ssh_vs_direct: not measured ({why})")
            return
        pids = [remote.proc.pid]
        if sshd.proc is not None:
            pids.append(sshd.proc.pid)
        note = f"ssh_vs_direct: gateway -> sshd {sshd.target} -> worker {remote.url}"
        yield RemotePair(True, note, through_ssh, direct, pids)
