"""Schemas of the registry API (the DAL): servers, models, weight vectors, blobs, access logs.

Families follow one pattern: ``XCreate`` (POST body), ``XUpdate`` (PATCH body, every field
optional), ``XPublic`` (one answered record) and ``XsPublic`` (``data`` and ``count``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
"""Names of servers, models and weight versions: letters, digits, ``_.-``, at most 63."""

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Datatype = Literal[
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "BF16",
    "FP32",
    "FP64",
    "BYTES",
]
ServerKind = Literal["local", "ssh"]
DevicePolicy = Literal["cpu", "cuda", "auto"]
Outcome = Literal["ok", "error"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TensorSpec(Strict):
    """A named tensor: an input or output of a graph, or an initializer. ``-1`` is a free dim."""

    name: str
    datatype: Datatype
    shape: list[int]


# --- servers ---------------------------------------------------------------------------------


class ServerCreate(Strict):
    name: Name
    kind: ServerKind = "local"
    worker_url: str = Field(
        default="http://127.0.0.1:8701", description="The worker's URL as seen from its own host."
    )
    ssh_host: str | None = None
    ssh_port: int = Field(default=22, ge=1, le=65535)
    ssh_user: str | None = None
    identity_file: str | None = None
    known_hosts_file: str | None = None
    ssh_config_host: str | None = Field(
        default=None, description="An OpenSSH client config alias, instead of host/port/user."
    )
    labels: list[str] = Field(default_factory=list)
    has_gpu: bool = False
    enabled: bool = True
    remote_command: str | None = Field(
        default=None, description="How `server start` runs MER's worker there (`mer-meal`)."
    )
    remote_dir: str | None = Field(
        default=None, description="The remote worker's directory (`.mer` under the SSH home)."
    )


class ServerUpdate(Strict):
    worker_url: str | None = None
    ssh_host: str | None = None
    ssh_port: int | None = Field(default=None, ge=1, le=65535)
    ssh_user: str | None = None
    identity_file: str | None = None
    known_hosts_file: str | None = None
    ssh_config_host: str | None = None
    labels: list[str] | None = None
    has_gpu: bool | None = None
    enabled: bool | None = None
    remote_command: str | None = None
    remote_dir: str | None = None


class ServerPublic(ServerCreate):
    model_config = ConfigDict(extra="ignore")
    created_at: datetime
    updated_at: datetime


class ServersPublic(BaseModel):
    data: list[ServerPublic]
    count: int


# --- models ----------------------------------------------------------------------------------


class ModelConfig(Strict):
    """What an operator sets on a model; the signature comes from its ONNX file."""

    description: str = ""
    server: Name = Field(default="local", description="Placement: the server that runs it.")
    max_batch_size: int = Field(default=32, ge=1, le=65536)
    max_queue_delay_us: int = Field(default=500, ge=0, le=10_000_000)
    device: DevicePolicy = "cpu"
    intra_op_threads: int = Field(default=0, ge=0, le=256)
    inter_op_threads: int = Field(default=1, ge=0, le=256)
    instances: int = Field(default=1, ge=1, le=64)


class ModelCreate(ModelConfig):
    """Import: ``artifact`` names a blob already uploaded (the ONNX file's sha256)."""

    name: Name
    artifact: Sha256


class ModelUpdate(Strict):
    description: str | None = None
    server: Name | None = None
    default_weights: Name | None = None
    max_batch_size: int | None = Field(default=None, ge=1, le=65536)
    max_queue_delay_us: int | None = Field(default=None, ge=0, le=10_000_000)
    device: DevicePolicy | None = None
    intra_op_threads: int | None = Field(default=None, ge=0, le=256)
    inter_op_threads: int | None = Field(default=None, ge=0, le=256)
    instances: int | None = Field(default=None, ge=1, le=64)
    artifact: Sha256 | None = None


class ModelPublic(ModelConfig):
    model_config = ConfigDict(extra="ignore")
    name: Name
    platform: str = "onnxruntime"
    artifact: Sha256 | None = None
    artifact_size: int | None = None
    inputs: list[TensorSpec] = Field(default_factory=list)
    outputs: list[TensorSpec] = Field(default_factory=list)
    initializers: list[TensorSpec] = Field(
        default_factory=list, description="Graph initializers a weight vector may replace."
    )
    default_weights: Name | None = None
    versions: list[Name] = Field(default_factory=list, description="Weight vectors it can use.")
    revision: int = 0
    created_at: datetime
    updated_at: datetime


class ModelsPublic(BaseModel):
    data: list[ModelPublic]
    count: int


# --- weight vectors --------------------------------------------------------------------------


class WeightsCreate(Strict):
    """Add a weight vector: ``blob`` names an uploaded safetensors file (its sha256)."""

    version: Name
    blob: Sha256
    note: str = ""


class WeightsPublic(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: Name
    version: Name
    blob: Sha256
    size: int
    tensors: list[TensorSpec]
    note: str = ""
    is_default: bool = False
    created_at: datetime


class WeightsListPublic(BaseModel):
    data: list[WeightsPublic]
    count: int


# --- blobs -----------------------------------------------------------------------------------


class BlobPublic(BaseModel):
    sha256: Sha256
    size: int
    chunks: int
    created_at: datetime


# --- access logs -----------------------------------------------------------------------------


class AccessLogCreate(Strict):
    at: datetime
    model: str
    weights: str | None = None
    server: str
    caller: str = ""
    request_id: str
    outcome: Outcome
    status: int
    error_kind: str | None = None
    rows: int = 0
    batch_size: int = 0
    queue_ms: float = 0.0
    compute_ms: float = 0.0
    total_ms: float = 0.0


class AccessLogBatch(Strict):
    data: list[AccessLogCreate] = Field(max_length=10_000)


class AccessLogPublic(AccessLogCreate):
    model_config = ConfigDict(extra="ignore")


class AccessLogsPublic(BaseModel):
    data: list[AccessLogPublic]
    count: int


class Inserted(BaseModel):
    inserted: int


# --- health ----------------------------------------------------------------------------------


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded"]
    service: str
    version: str
    database: str | None = None
    migrations_applied: int | None = None
