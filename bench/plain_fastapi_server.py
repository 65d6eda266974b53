"""The baseline: an ONNX model behind FastAPI, written the way a user would write it.

A pydantic request model shaped like the Open Inference Protocol (so the benchmark sends the same
body to it and to MER), ``np.array`` on the posted lists, ``session.run``, a JSON answer. One
uvicorn worker process, like MER's single worker. Where a user could go either way, the baseline
takes the faster way, so MER's ratios are not flattered: uvicorn's own access log is off, and the
endpoint is ``async def`` (measured here: a ``def`` endpoint, run in FastAPI's thread pool, serves
about a third fewer requests and doubles the 1-client latency of this small model).

    python bench/plain_fastapi_server.py --model models/digits.onnx --port 8000
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np
import onnxruntime as ort
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel


class InputTensor(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


class InferRequest(BaseModel):
    inputs: list[InputTensor]


class OutputTensor(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


class InferResponse(BaseModel):
    model_name: str
    outputs: list[OutputTensor]


DATATYPES = {"float32": "FP32", "int64": "INT64", "float64": "FP64", "int32": "INT32"}


def create_app(model_path: str) -> FastAPI:
    app = FastAPI()
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    model_name = os.path.splitext(os.path.basename(model_path))[0]

    @app.get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/v2/models/{name}/infer")
    async def infer(name: str, request: InferRequest) -> InferResponse:
        feeds = {
            tensor.name: np.array(tensor.data, dtype=np.float32).reshape(tensor.shape)
            for tensor in request.inputs
        }
        results = session.run(None, feeds)
        outputs = [
            OutputTensor(
                name=meta.name,
                shape=list(value.shape),
                datatype=DATATYPES.get(value.dtype.name, value.dtype.name.upper()),
                data=value.reshape(-1).tolist(),
            )
            for meta, value in zip(session.get_outputs(), results, strict=True)
        ]
        return InferResponse(model_name=model_name, outputs=outputs)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the ONNX file to serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(create_app(args.model), host=args.host, port=args.port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
