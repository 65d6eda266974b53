"""The tensor codec of the Open Inference Protocol: JSON and binary tensors <-> numpy.

``arrays`` converts one tensor; ``messages`` frames whole infer requests and answers, with the
binary tensor extension. Everything public is importable from ``mer_core.tensors``.
"""

from mer_core.tensors.arrays import (
    Array,
    array_from_binary,
    array_from_json,
    array_to_binary,
    array_to_json_data,
    datatype_of,
)
from mer_core.tensors.messages import (
    HEADER_LENGTH,
    InferInput,
    InferOutput,
    InferRequest,
    InferResponse,
    RequestedOutput,
    decode_infer_request,
    decode_infer_response,
    encode_infer_request,
    encode_infer_response,
)

__all__ = [
    "HEADER_LENGTH",
    "Array",
    "InferInput",
    "InferOutput",
    "InferRequest",
    "InferResponse",
    "RequestedOutput",
    "array_from_binary",
    "array_from_json",
    "array_to_binary",
    "array_to_json_data",
    "datatype_of",
    "decode_infer_request",
    "decode_infer_response",
    "encode_infer_request",
    "encode_infer_response",
]
