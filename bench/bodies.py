"""The request bodies the benchmark posts, and a check that each server answers them correctly.

A load generator counts answers, not right answers: before any load, every target gets one request
whose labels must equal bare onnxruntime's for the same rows, so a fast error path can never pass
for a fast server.
"""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import orjson
from mer_core.tensors import HEADER_LENGTH, decode_infer_response, encode_infer_request

from bench.loadgen import Target

Array = np.ndarray[Any, Any]
CALLER = "mer-bench"


class WrongAnswer(RuntimeError):
    """A server under test answered with an error or with labels that differ from onnxruntime's."""


def infer_url(base_url: str, model: str) -> str:
    return f"{base_url}/v2/models/{model}/infer"


def json_target(base_url: str, model: str, batch: Array, token: str) -> Target:
    """A plain JSON infer request (the body a user's curl or requests call would send)."""
    body, json_length = encode_infer_request({"input": batch})
    assert json_length is None
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {token}",
        "X-Mer-Caller": CALLER,
    }
    return Target(infer_url(base_url, model), body, headers)


def binary_target(base_url: str, model: str, batch: Array, token: str) -> Target:
    """The binary tensor extension: raw FP32 input after the JSON, binary outputs asked for."""
    body, json_length = encode_infer_request(
        {"input": batch}, binary_inputs=True, binary_outputs=True
    )
    assert json_length is not None
    headers = {
        "Content-Type": "application/octet-stream",
        HEADER_LENGTH: str(json_length),
        "Authorization": f"Bearer {token}",
        "X-Mer-Caller": CALLER,
    }
    return Target(infer_url(base_url, model), body, headers)


def labels_of(response: httpx.Response) -> Array:
    """The ``label`` output of an OIP answer, JSON or binary."""
    header = response.headers.get(HEADER_LENGTH)
    if header is not None:
        return decode_infer_response(response.content, int(header)).outputs["label"]
    doc = orjson.loads(response.content)
    for output in doc.get("outputs", []):
        if output.get("name") == "label":
            return np.asarray(output["data"]).reshape(-1)
    raise WrongAnswer(f"the answer has no 'label' output: {response.text[:300]}")


def check_answer(name: str, target: Target, expected_labels: Array) -> None:
    """One request to ``target``: it must answer 200 with ``expected_labels``."""
    try:
        response = httpx.post(target.url, content=target.body, headers=target.headers, timeout=30)
    except httpx.HTTPError as exc:
        raise WrongAnswer(f"{name}: {target.url} cannot be reached: {exc}") from exc
    if response.status_code != 200:
        raise WrongAnswer(f"{name}: HTTP {response.status_code}: {response.text[:500]}")
    labels = labels_of(response).reshape(-1)
    if not np.array_equal(labels, np.asarray(expected_labels).reshape(-1)):
        raise WrongAnswer(
            f"{name}: labels {labels[:8].tolist()}... differ from onnxruntime's "
            f"{np.asarray(expected_labels).reshape(-1)[:8].tolist()}..."
        )
