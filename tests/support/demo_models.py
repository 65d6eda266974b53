"""The demo models of ``models/``, imported into a real DAL, and scikit-learn's answers for them."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
from mer_core.dal_client import DalClient
from mer_core.schemas.registry import ModelUpdate, WeightsCreate
from safetensors.numpy import load_file

from tests.support.procs import MODELS_DIR

if str(MODELS_DIR) not in sys.path:
    sys.path.insert(0, str(MODELS_DIR))

import train_demo_models as demo

VERSIONS = ("v1", "v2")


async def import_demo_models(admin: DalClient, default: str = "v1") -> None:
    """Give the seeded ``iris`` and ``digits`` configurations their files and weight vectors."""
    for name in ("iris", "digits"):
        blob = await admin.upload_blob(MODELS_DIR / f"{name}.onnx")
        await admin.update_model(name, ModelUpdate(artifact=blob.sha256))
    for version in VERSIONS:
        blob = await admin.upload_blob(MODELS_DIR / demo.weights_file(version))
        await admin.add_weights("digits", WeightsCreate(version=version, blob=blob.sha256))
    await admin.update_model("digits", ModelUpdate(default_weights=default))


def holdout() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The held-out digits split: X float32 [360, 64], y int64 [360]."""
    return demo.load_holdout(MODELS_DIR)


def sklearn_labels(version: str, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """scikit-learn's own predictions with the tensors of weight vector ``version``."""
    manifest = json.loads((MODELS_DIR / "manifest.json").read_text())["models"]["digits"]
    layout = [(t["name"], tuple(t["shape"])) for t in manifest["weight_initializers"]]
    tensors = load_file(str(MODELS_DIR / demo.weights_file(version)))
    model = demo.sklearn_mlp_from_tensors(tensors, layout, x, 10)
    return np.asarray(model.predict(x), dtype=np.int64)
