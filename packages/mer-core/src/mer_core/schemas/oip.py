"""Schemas of the Open Inference Protocol (KServe v2 / Triton HTTP) and its Triton extensions.

These document and type the control answers (health, metadata, repository, statistics). The
infer request path does not build them: tensors go through ``mer_core.tensors`` straight into
numpy, because validating every element with pydantic costs more than running the model.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from mer_core.schemas.registry import Datatype


class ErrorResponse(BaseModel):
    error: str
    kind: str = "internal"


class LiveResponse(BaseModel):
    live: bool


class ReadyResponse(BaseModel):
    ready: bool


class ServerMetadataResponse(BaseModel):
    name: str
    version: str
    extensions: list[str] = Field(default_factory=list)


class MetadataTensor(BaseModel):
    name: str
    datatype: Datatype
    shape: list[int]


class ModelMetadataResponse(BaseModel):
    """``parameters`` carries MER's own facts: server, weights, device, the provider in use."""

    name: str
    versions: list[str] = Field(default_factory=list)
    platform: str = "onnxruntime"
    inputs: list[MetadataTensor] = Field(default_factory=list)
    outputs: list[MetadataTensor] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)


class ModelReadyResponse(BaseModel):
    name: str
    version: str | None = None
    ready: bool
    reason: str = ""


# --- infer (typed view, for clients and documentation) ---------------------------------------


class RequestInput(BaseModel):
    name: str
    shape: list[int]
    datatype: Datatype
    parameters: dict[str, Any] | None = None
    data: list[Any] | None = None


class RequestOutput(BaseModel):
    name: str
    parameters: dict[str, Any] | None = None


class InferenceRequest(BaseModel):
    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = None


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: Datatype
    parameters: dict[str, Any] | None = None
    data: list[Any] | None = None


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: dict[str, Any] | None = None
    outputs: list[ResponseOutput]


# --- Triton extensions: model repository and statistics --------------------------------------

ModelState = Literal["READY", "UNAVAILABLE", "LOADING", "UNLOADING"]


class RepositoryIndexEntry(BaseModel):
    name: str
    version: str | None = None
    state: ModelState
    reason: str = ""


class StatDuration(BaseModel):
    """A count and the total nanoseconds spent, like Triton's ``StatisticDuration``."""

    count: int = 0
    ns: int = 0


class InferStatistics(BaseModel):
    success: StatDuration = Field(default_factory=StatDuration)
    fail: StatDuration = Field(default_factory=StatDuration)
    queue: StatDuration = Field(default_factory=StatDuration)
    compute_input: StatDuration = Field(default_factory=StatDuration)
    compute_infer: StatDuration = Field(default_factory=StatDuration)
    compute_output: StatDuration = Field(default_factory=StatDuration)


class BatchStatistics(BaseModel):
    batch_size: int
    compute_input: StatDuration = Field(default_factory=StatDuration)
    compute_infer: StatDuration = Field(default_factory=StatDuration)
    compute_output: StatDuration = Field(default_factory=StatDuration)


class ModelStatistics(BaseModel):
    name: str
    version: str = ""
    last_inference: int = Field(default=0, description="Milliseconds since the epoch.")
    inference_count: int = Field(default=0, description="Rows answered.")
    execution_count: int = Field(default=0, description="session.run calls (batches).")
    inference_stats: InferStatistics = Field(default_factory=InferStatistics)
    batch_stats: list[BatchStatistics] = Field(default_factory=list)


class ModelStatisticsResponse(BaseModel):
    model_stats: list[ModelStatistics]
