"""Schemas of the registry API (the DAL): servers, models, weight vectors, blobs, access logs.

Families follow one pattern: ``XCreate`` (POST body), ``XUpdate`` (PATCH body, every field
optional), ``XPublic`` (one answered record) and ``XsPublic`` (``data`` and ``count``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
"""Names of servers, models and weight versions: letters, digits, ``_.-``, at most 63."""

_NAME_RE = re.compile(NAME_PATTERN)
LABEL_MAX = 100
"""Characters of a caller-supplied name kept by ``safe_label``."""
NUL_MESSAGE = "must not contain a NUL character (\\u0000)"


def is_name(value: str) -> bool:
    """Whether ``value`` is a valid server, model or weight-version name (``NAME_PATTERN``)."""
    return _NAME_RE.match(value) is not None


def safe_label(value: str) -> str:
    """``value`` if it is a valid name, else a printable rendering for logs and access-log rows:
    control and non-ASCII characters escaped (``unicode_escape``), cut to ``LABEL_MAX``."""
    if _NAME_RE.match(value) is not None:
        return value
    escaped = value[: LABEL_MAX + 1].encode("unicode_escape").decode("ascii")
    return escaped if len(escaped) <= LABEL_MAX else escaped[: LABEL_MAX - 3] + "..."


def _no_nul(value: str) -> str:
    # SurrealDB cannot store a NUL in a string: it would fail (or worse, half-store) later.
    if "\x00" in value:
        raise ValueError(NUL_MESSAGE)
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
"""Free text in a request: any string without a NUL character. (Names, digests and literals
exclude NUL by their own patterns.)"""

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

    name: Text
    datatype: Datatype
    shape: list[int]


# --- servers ---------------------------------------------------------------------------------


class ServerCreate(Strict):
    name: Name
    kind: ServerKind = "local"
    worker_url: Text = Field(
        default="http://127.0.0.1:8701", description="The worker's URL as seen from its own host."
    )
    ssh_host: Text | None = None
    ssh_port: int = Field(default=22, ge=1, le=65535)
    ssh_user: Text | None = None
    identity_file: Text | None = None
    known_hosts_file: Text | None = None
    ssh_config_host: Text | None = Field(
        default=None, description="An OpenSSH client config alias, instead of host/port/user."
    )
    labels: list[Text] = Field(default_factory=list)
    has_gpu: bool = False
    enabled: bool = True
    remote_command: Text | None = Field(
        default=None, description="How `server start` runs MER's worker there (`mer-meal`)."
    )
    remote_dir: Text | None = Field(
        default=None, description="The remote worker's directory (`.mer` under the SSH home)."
    )


class ServerUpdate(Strict):
    worker_url: Text | None = None
    ssh_host: Text | None = None
    ssh_port: int | None = Field(default=None, ge=1, le=65535)
    ssh_user: Text | None = None
    identity_file: Text | None = None
    known_hosts_file: Text | None = None
    ssh_config_host: Text | None = None
    labels: list[Text] | None = None
    has_gpu: bool | None = None
    enabled: bool | None = None
    remote_command: Text | None = None
    remote_dir: Text | None = None


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

    description: Text = ""
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
    description: Text | None = None
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
    note: Text = ""


class WeightsPublic(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: Name
    version: Name
    blob: Sha256
    size: int
    tensors: list[TensorSpec]
    note: Text = ""
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
    model: Text
    weights: Text | None = None
    server: Text
    caller: Text = ""
    request_id: Text
    outcome: Outcome
    status: int
    error_kind: Text | None = None
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
