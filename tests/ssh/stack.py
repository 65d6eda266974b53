"""A gateway and its remote server, as real processes: for the SSH tests and for ``make bench``.

    with gateway_stack(workdir, tokens) as gw:              # DAL + gateway worker
        with sshd_server(workdir / "sshd") as sshd:         # the "remote host"
            server = gw.run(gw.add_remote(sshd, "remote1"))  # registry: a kind-ssh server
            gw.run(gw.place("digits-r", "remote1"))          # digits (v1) placed on it
            started = gw.run(gw.start("remote1"))            # `server start` over SSH
            ...
            stop_pid(started.pid)

The remote worker is started by the gateway over SSH (``server start``), so it reads its
settings from the ``.env`` the gateway wrote and reaches the DAL only through the gateway's
reverse forward.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
from mer_core.dal_client import DalClient
from mer_core.remote_client import start_server
from mer_core.schemas.registry import (
    AccessLogPublic,
    ModelCreate,
    ModelUpdate,
    ServerCreate,
    ServerPublic,
    WeightsCreate,
)
from mer_core.schemas.remote import ServerStartPublic
from mer_core.tensors import encode_infer_request

from tests.ssh.sshd import Sshd
from tests.support.procs import BIN, MODELS_DIR, Service, Tokens, dal_service, worker_service

T = TypeVar("T")

ONNX_FILE = MODELS_DIR / "digits.onnx"
WEIGHTS_FILE = MODELS_DIR / "digits-v1.safetensors"
HOLDOUT = MODELS_DIR / "digits-holdout.npz"
GATEWAY = "local"


@dataclass
class GatewayStack:
    tokens: Tokens
    workdir: Path
    dal: Service
    gateway: Service
    blobs: dict[str, str] = field(default_factory=dict)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run(coro)

    def dal_client(self) -> DalClient:
        return DalClient(self.dal.url, self.tokens.admin, timeout=60)

    async def add_remote(self, sshd: Sshd, name: str, **fields: Any) -> ServerPublic:
        """A ``kind: ssh`` server reached through ``sshd``; its worker on a free remote port."""
        from tests.support.procs import free_port

        values: dict[str, Any] = {
            "name": name,
            "kind": "ssh",
            "worker_url": f"http://127.0.0.1:{free_port()}",
            "ssh_host": sshd.host,
            "ssh_port": sshd.port,
            "ssh_user": sshd.user,
            "identity_file": str(sshd.identity_file),
            "known_hosts_file": str(sshd.known_hosts_file),
            "remote_command": str(BIN / "mer-meal"),
            "remote_dir": str(self.workdir / "remote" / name),
        }
        values.update(fields)
        async with self.dal_client() as dal:
            return await dal.create_server(ServerCreate.model_validate(values))

    async def place(self, model: str, server: str) -> None:
        """Model ``model``: the digits ONNX file and weight vector v1, placed on ``server``."""
        async with self.dal_client() as dal:
            if not self.blobs:
                self.blobs["onnx"] = (await dal.upload_blob(ONNX_FILE)).sha256
                self.blobs["v1"] = (await dal.upload_blob(WEIGHTS_FILE)).sha256
            await dal.create_model(
                ModelCreate(name=model, artifact=self.blobs["onnx"], server=server)
            )
            await dal.add_weights(model, WeightsCreate(version="v1", blob=self.blobs["v1"]))
            await dal.update_model(model, ModelUpdate(default_weights="v1"))

    async def start(self, server: str) -> ServerStartPublic:
        return await start_server(self.gateway.url, self.tokens.token, server)

    async def logs(self, model: str) -> list[AccessLogPublic]:
        async with self.dal_client() as dal:
            return (await dal.list_access_logs(model=model, limit=10_000)).data

    def infer_url(self, model: str) -> str:
        return f"{self.gateway.url}/v2/models/{model}/infer"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.token}", "Content-Type": "application/json"}


class Remote:
    """A server of a test's own, its model ``digits-NAME``, and the worker started on it."""

    count = 0

    def __init__(self, gw: GatewayStack, sshd: Sshd, **fields: Any) -> None:
        Remote.count += 1
        self.name = f"remote{Remote.count}"
        self.model = f"digits-{self.name}"
        self.gw = gw
        self.server = gw.run(gw.add_remote(sshd, self.name, **fields))
        gw.run(gw.place(self.model, self.name))
        self.pid: int | None = None

    def start(self) -> None:
        started = self.gw.run(self.gw.start(self.name))
        assert started.started
        self.pid = started.pid

    def infer(self, client: httpx.Client, rows: int = 4) -> httpx.Response:
        body, _ = digits_body(rows)
        return client.post(self.gw.infer_url(self.model), content=body, headers=self.gw.headers())

    def stop(self) -> None:
        stop_pid(self.pid)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def digits_body(rows: int = 4) -> tuple[bytes, np.ndarray[Any, Any]]:
    """A JSON infer body of ``rows`` holdout images, and their true labels."""
    data = np.load(HOLDOUT)
    body, _ = encode_infer_request({"input": data["X"][:rows]})
    return body, data["y"][:rows]


def labels(answer: httpx.Response) -> list[int]:
    outputs = {o["name"]: o for o in answer.json()["outputs"]}
    return [int(x) for x in outputs["label"]["data"]]


@contextmanager
def gateway_stack(workdir: Path, tokens: Tokens, **gateway_env: str) -> Iterator[GatewayStack]:
    """A migrated DAL and a gateway worker (``MER_SERVER_NAME=local``) on free ports."""
    workdir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        dal = stack.enter_context(dal_service(workdir / "dal", tokens))
        (workdir / "gateway").mkdir(exist_ok=True)
        gateway = stack.enter_context(
            worker_service(workdir / "gateway", tokens, dal.url, **gateway_env)
        )
        yield GatewayStack(tokens, workdir, dal, gateway)


def stop_pid(pid: int | None, timeout: float = 15) -> None:
    """Stop a process this test started through SSH (SIGTERM, then SIGKILL), and wait it out."""
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
