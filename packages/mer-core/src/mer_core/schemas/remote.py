"""Answers of the gateway worker's remote-server endpoints (``server check`` / ``server start``).

GET  /mer/servers/{name}/check  -> ServerCheckPublic
POST /mer/servers/{name}/start  -> ServerStartPublic
GET  /mer/info                  -> WorkerInfoPublic   (every worker; the check asks it)
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class WorkerHealth(BaseModel):
    live: bool
    ready: bool


class ServerCheckPublic(BaseModel):
    """What ``server check`` found: the SSH link, and the worker behind it (if it runs)."""

    server: str
    ssh: str = Field(description="USER@HOST:PORT as the gateway connects to it.")
    rtt_ms: float = Field(description="Round trip of a request through the SSH connection.")
    connect_ms: float | None = Field(
        default=None, description="Time to open the SSH connection, when this check opened it."
    )
    worker_url: str = Field(description="The remote worker's URL as seen from its own host.")
    worker: WorkerHealth
    version: str | None = Field(default=None, description="The remote worker's MER version.")
    providers: list[str] = Field(default_factory=list, description="onnxruntime providers.")
    has_gpu: bool = False
    problem: str | None = Field(
        default=None, description="Why the remote worker could not be asked, when it could not."
    )


class ServerStartPublic(BaseModel):
    """What ``server start`` did."""

    server: str
    worker_url: str
    started: bool = Field(description="False when the remote worker was running already.")
    pid: int | None = None
    log_file: str | None = Field(default=None, description="The worker's log on the remote host.")


class WorkerInfoPublic(BaseModel):
    """``GET /mer/info`` of any worker: what it is and what it can run on."""

    server: str
    version: str
    providers: list[str] = Field(description="onnxruntime's available execution providers.")
    has_gpu: bool
