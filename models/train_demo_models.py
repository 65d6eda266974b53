"""Train, export and verify MER's demo models (scikit-learn -> ONNX).

Everything is deterministic (fixed seeds) and uses only data sets that
scikit-learn ships, so nothing is downloaded. Outputs, all next to this script:

* ``iris.onnx``: LogisticRegression on ``load_iris``; input ``input`` FP32 [N,4],
  outputs ``label`` INT64 [N] and ``probabilities`` FP32 [N,3].
* ``digits.onnx``: MLPClassifier (one hidden layer of 64, random_state=1) on the
  training split of ``load_digits``; input ``input`` FP32 [N,64], outputs
  ``label`` INT64 [N] and ``probabilities`` FP32 [N,10].
* ``digits-v1.safetensors`` / ``digits-v2.safetensors``: weight vectors for
  ``digits.onnx``: the exported MLP (random_state=1) and one of the same
  architecture trained with random_state=2. Tensor names, shapes and dtypes are
  exactly those of the ONNX initializers they replace (via onnxruntime's
  ``SessionOptions.add_initializer``).
* ``digits-holdout.npz`` (``X`` float32 [N,64], ``y`` int64 [N]),
  ``digits-holdout.csv`` (64 header-less feature columns) and
  ``digits-holdout-labels.csv`` (one label a line): the held-out split.
* ``manifest.json``: sha256 of every file above plus the reference accuracies
  (scikit-learn's own ``predict``, using the weights exactly as stored).

Usage::

    .venv/bin/python models/train_demo_models.py          # (re)generate everything
    .venv/bin/python models/train_demo_models.py --check  # verify with onnxruntime
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from safetensors.numpy import load_file, save_file
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

MODELS_DIR = Path(__file__).resolve().parent

IRIS_ONNX = "iris.onnx"
DIGITS_ONNX = "digits.onnx"
HOLDOUT_NPZ = "digits-holdout.npz"
HOLDOUT_CSV = "digits-holdout.csv"
HOLDOUT_LABELS_CSV = "digits-holdout-labels.csv"
MANIFEST = "manifest.json"

INPUT_NAME = "input"
# Pinned so that the exported graphs do not change with the skl2onnx version's default
# and so that older onnxruntime builds can still load them.
TARGET_OPSET: dict[str, int] = {"": 17, "ai.onnx.ml": 3}

HIDDEN_LAYERS = (64,)
MLP_MAX_ITER = 1000
HOLDOUT_FRACTION = 0.2
SPLIT_SEED = 0
# weight-vector version -> MLP random_state; "v1" is the model exported as digits.onnx.
WEIGHT_SEEDS: dict[str, int] = {"v1": 1, "v2": 2}
EXPORTED_VERSION = "v1"

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


def weights_file(version: str) -> str:
    """File name of the safetensors weight vector ``version`` (e.g. ``"v1"``)."""
    return f"digits-{version}.safetensors"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- data


def digits_split() -> tuple[FloatArray, IntArray, FloatArray, IntArray]:
    """Deterministic stratified train/holdout split of ``load_digits``."""
    x, y = load_digits(return_X_y=True)
    x_train, x_hold, y_train, y_hold = train_test_split(
        x.astype(np.float32),
        y.astype(np.int64),
        test_size=HOLDOUT_FRACTION,
        random_state=SPLIT_SEED,
        stratify=y,
    )
    return (
        np.ascontiguousarray(x_train, dtype=np.float32),
        np.ascontiguousarray(y_train, dtype=np.int64),
        np.ascontiguousarray(x_hold, dtype=np.float32),
        np.ascontiguousarray(y_hold, dtype=np.int64),
    )


def write_npz(path: Path, arrays: dict[str, npt.NDArray[Any]]) -> None:
    """Write an uncompressed ``.npz`` byte-for-byte reproducibly (fixed zip timestamps).

    ``numpy.savez`` stamps the current time into the archive, which would make the
    file's sha256 change on every run; this writes the same format without it.
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def load_holdout(directory: Path = MODELS_DIR) -> tuple[FloatArray, IntArray]:
    """Read ``digits-holdout.npz`` back as (X float32 [N,64], y int64 [N])."""
    with np.load(directory / HOLDOUT_NPZ, allow_pickle=False) as data:
        x = np.asarray(data["X"], dtype=np.float32)
        y = np.asarray(data["y"], dtype=np.int64)
    return x, y


def write_holdout(x: FloatArray, y: IntArray, directory: Path = MODELS_DIR) -> None:
    """Write the holdout as npz plus header-less CSVs (features, labels)."""
    write_npz(directory / HOLDOUT_NPZ, {"X": x, "y": y})
    # Digits features are small integers (0..16): "%g" writes them exactly and compactly.
    np.savetxt(directory / HOLDOUT_CSV, x, fmt="%g", delimiter=",")
    np.savetxt(directory / HOLDOUT_LABELS_CSV, y, fmt="%d")


# ------------------------------------------------------------------------ training


def train_iris() -> tuple[LogisticRegression, FloatArray, IntArray]:
    """LogisticRegression on the whole iris data set."""
    x, y = load_iris(return_X_y=True)
    x32 = x.astype(np.float32)
    y64 = y.astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = LogisticRegression(max_iter=1000, random_state=0).fit(x32, y64)
    return model, x32, y64


def train_mlp(x: FloatArray, y: IntArray, seed: int) -> MLPClassifier:
    """The digits MLP; fails loudly if it does not converge."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return MLPClassifier(
            hidden_layer_sizes=HIDDEN_LAYERS, max_iter=MLP_MAX_ITER, random_state=seed
        ).fit(x, y)


def export_onnx(model: Any, n_features: int, path: Path) -> onnx.ModelProto:
    """Convert a fitted classifier to ONNX with plain-tensor outputs and save it."""
    proto: onnx.ModelProto = to_onnx(
        model,
        initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
        options={id(model): {"zipmap": False}},
        target_opset=TARGET_OPSET,
    )
    # skl2onnx (1.20) may list the same opset domain twice; keep one entry per domain.
    seen: dict[str, int] = {}
    for opset in proto.opset_import:
        seen[opset.domain] = max(seen.get(opset.domain, 0), int(opset.version))
    del proto.opset_import[:]
    for domain, version in seen.items():
        proto.opset_import.append(onnx.helper.make_opsetid(domain, version))
    outputs = [o.name for o in proto.graph.output]
    if outputs != ["label", "probabilities"]:
        raise RuntimeError(f"unexpected ONNX outputs {outputs} for {path.name}")
    onnx.checker.check_model(proto)
    onnx.save_model(proto, str(path))
    return proto


def mlp_weight_arrays(model: MLPClassifier) -> list[FloatArray]:
    """The MLP's parameters as float32, in the order coefs_[0], intercepts_[0], ..."""
    arrays: list[FloatArray] = []
    for coef, intercept in zip(model.coefs_, model.intercepts_, strict=True):
        arrays.append(np.asarray(coef, dtype=np.float32))
        arrays.append(np.asarray(intercept, dtype=np.float32))
    return arrays


def find_weight_initializers(
    proto: onnx.ModelProto, model: MLPClassifier
) -> list[tuple[str, tuple[int, ...]]]:
    """Map each of the MLP's parameters to the ONNX initializer that holds it.

    Matches by value (the exported graph holds the float32 cast of exactly these
    parameters, intercepts possibly reshaped to [1,k]); each parameter must match
    exactly one initializer. Returns (name, shape) in ``mlp_weight_arrays`` order.
    """
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    found: list[tuple[str, tuple[int, ...]]] = []
    for param in mlp_weight_arrays(model):
        hits = [
            name
            for name, arr in inits.items()
            if arr.dtype == np.float32
            and arr.size == param.size
            and np.array_equal(arr.reshape(param.shape), param)
        ]
        if len(hits) != 1:
            raise RuntimeError(f"parameter of shape {param.shape} matches initializers {hits}")
        found.append((hits[0], tuple(int(d) for d in inits[hits[0]].shape)))
    if len({name for name, _ in found}) != len(found):
        raise RuntimeError(f"parameters map to duplicate initializers: {found}")
    return found


def weight_tensors(
    model: MLPClassifier, layout: Sequence[tuple[str, tuple[int, ...]]]
) -> dict[str, FloatArray]:
    """The MLP's parameters named and shaped as the ONNX initializers in ``layout``."""
    params = mlp_weight_arrays(model)
    if [p.size for p in params] != [int(np.prod(shape)) for _, shape in layout]:
        raise RuntimeError("MLP architecture does not match the ONNX initializer layout")
    return {
        name: np.ascontiguousarray(p.reshape(shape), dtype=np.float32)
        for (name, shape), p in zip(layout, params, strict=True)
    }


def sklearn_mlp_from_tensors(
    tensors: dict[str, FloatArray],
    layout: Sequence[tuple[str, tuple[int, ...]]],
    x_like: FloatArray,
    n_classes: int,
) -> MLPClassifier:
    """A scikit-learn MLP whose parameters are exactly the stored tensors.

    ``partial_fit`` on a few rows sets up the estimator's structure (classes,
    label binarizer, activations); the parameters are then overwritten with the
    stored float32 values, so ``predict`` is sklearn's own, with these weights.
    """
    classes = np.arange(n_classes, dtype=np.int64)
    model = MLPClassifier(hidden_layer_sizes=HIDDEN_LAYERS, random_state=0)
    model.partial_fit(x_like[:n_classes], classes, classes=classes)
    arrays = [tensors[name].astype(np.float64) for name, _ in layout]
    coefs, intercepts = arrays[0::2], arrays[1::2]
    if [c.shape for c in coefs] != [c.shape for c in model.coefs_]:
        raise RuntimeError("stored weights do not fit the MLP architecture")
    model.coefs_ = coefs
    model.intercepts_ = [b.reshape(-1) for b in intercepts]
    return model


def accuracy(pred: npt.NDArray[Any], y: IntArray) -> float:
    """Fraction of rows where ``pred`` equals ``y``."""
    return float(np.mean(np.asarray(pred, dtype=np.int64) == y))


def generate(directory: Path = MODELS_DIR) -> dict[str, Any]:
    """Train every demo model, write all outputs into ``directory``; returns the manifest."""
    # iris
    iris, x_iris, y_iris = train_iris()
    export_onnx(iris, x_iris.shape[1], directory / IRIS_ONNX)
    iris_acc = accuracy(iris.predict(x_iris), y_iris)

    # digits
    x_train, y_train, x_hold, y_hold = digits_split()
    write_holdout(x_hold, y_hold, directory)
    mlps = {version: train_mlp(x_train, y_train, seed) for version, seed in WEIGHT_SEEDS.items()}
    exported = mlps[EXPORTED_VERSION]
    proto = export_onnx(exported, x_train.shape[1], directory / DIGITS_ONNX)
    layout = find_weight_initializers(proto, exported)
    n_classes = len(exported.classes_)

    weights_manifest: dict[str, Any] = {}
    for version, mlp in mlps.items():
        if list(mlp.classes_) != list(exported.classes_):
            raise RuntimeError(f"{version}: classes differ from the exported model")
        tensors = weight_tensors(mlp, layout)
        path = directory / weights_file(version)
        # A single metadata key: safetensors writes a multi-key metadata map in random
        # order, which would make the file's sha256 differ from run to run.
        save_file(
            tensors,
            str(path),
            metadata={"description": f"digits {version}, MLP random_state={mlp.random_state}"},
        )
        path.chmod(0o644)
        stored = sklearn_mlp_from_tensors(
            {k: np.asarray(v) for k, v in load_file(str(path)).items()}, layout, x_hold, n_classes
        )
        pred = stored.predict(x_hold)
        n_diff = int(np.sum(pred != mlp.predict(x_hold)))
        if n_diff:
            print(f"warning: {version}: float32 weights change {n_diff} holdout predictions")
        weights_manifest[version] = {
            "file": path.name,
            "sha256": sha256_of(path),
            "random_state": mlp.random_state,
            "n_iter": int(mlp.n_iter_),
            "holdout_accuracy": accuracy(pred, y_hold),
        }

    manifest: dict[str, Any] = {
        "generator": "models/train_demo_models.py",
        "models": {
            "iris": {
                "file": IRIS_ONNX,
                "sha256": sha256_of(directory / IRIS_ONNX),
                "estimator": "LogisticRegression",
                "input": {"name": INPUT_NAME, "dtype": "float32", "shape": [None, 4]},
                "outputs": {
                    "label": {"dtype": "int64", "shape": [None]},
                    "probabilities": {"dtype": "float32", "shape": [None, 3]},
                },
                "train_accuracy": iris_acc,
            },
            "digits": {
                "file": DIGITS_ONNX,
                "sha256": sha256_of(directory / DIGITS_ONNX),
                "estimator": f"MLPClassifier(hidden_layer_sizes={HIDDEN_LAYERS})",
                "exported_weights": EXPORTED_VERSION,
                "input": {"name": INPUT_NAME, "dtype": "float32", "shape": [None, 64]},
                "outputs": {
                    "label": {"dtype": "int64", "shape": [None]},
                    "probabilities": {"dtype": "float32", "shape": [None, n_classes]},
                },
                "weight_initializers": [
                    {"name": name, "dtype": "float32", "shape": list(shape)}
                    for name, shape in layout
                ],
                "holdout": {
                    "npz": HOLDOUT_NPZ,
                    "npz_sha256": sha256_of(directory / HOLDOUT_NPZ),
                    "csv": HOLDOUT_CSV,
                    "csv_sha256": sha256_of(directory / HOLDOUT_CSV),
                    "labels_csv": HOLDOUT_LABELS_CSV,
                    "labels_csv_sha256": sha256_of(directory / HOLDOUT_LABELS_CSV),
                    "rows": len(y_hold),
                    "split": {
                        "test_size": HOLDOUT_FRACTION,
                        "random_state": SPLIT_SEED,
                        "stratify": True,
                    },
                },
                "weights": weights_manifest,
            },
        },
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


# ------------------------------------------------------------------------ checking


def session_with_weights(
    onnx_path: Path, tensors: dict[str, FloatArray]
) -> tuple[ort.InferenceSession, list[ort.OrtValue]]:
    """An onnxruntime session whose initializers are replaced by ``tensors``.

    The OrtValues are returned too: onnxruntime does not copy them, so the caller
    must keep them alive as long as the session.
    """
    options = ort.SessionOptions()
    values: list[ort.OrtValue] = []
    for name, array in tensors.items():
        value = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array))
        options.add_initializer(name, value)
        values.append(value)
    session = ort.InferenceSession(
        str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return session, values


def run_session(session: ort.InferenceSession, x: FloatArray) -> tuple[IntArray, FloatArray]:
    """Run a classifier session; returns (label, probabilities)."""
    label, proba = session.run(["label", "probabilities"], {INPUT_NAME: x})
    return np.asarray(label, dtype=np.int64), np.asarray(proba, dtype=np.float32)


def check(directory: Path = MODELS_DIR) -> None:
    """Verify the written files; raises AssertionError on any mismatch."""
    manifest = json.loads((directory / MANIFEST).read_text())
    iris_m = manifest["models"]["iris"]
    digits_m = manifest["models"]["digits"]
    hold_m = digits_m["holdout"]

    for fname, digest in [
        (iris_m["file"], iris_m["sha256"]),
        (digits_m["file"], digits_m["sha256"]),
        (hold_m["npz"], hold_m["npz_sha256"]),
        (hold_m["csv"], hold_m["csv_sha256"]),
        (hold_m["labels_csv"], hold_m["labels_csv_sha256"]),
        *[(w["file"], w["sha256"]) for w in digits_m["weights"].values()],
    ]:
        assert sha256_of(directory / fname) == digest, f"sha256 mismatch for {fname}"
        assert (directory / fname).stat().st_size < 1_000_000, f"{fname} is over 1 MB"

    # iris: onnxruntime agrees with a freshly trained (deterministic) sklearn model.
    iris, x_iris, y_iris = train_iris()
    iris_sess = ort.InferenceSession(str(directory / IRIS_ONNX), providers=["CPUExecutionProvider"])
    iris_label, iris_proba = run_session(iris_sess, x_iris)
    assert iris_proba.shape == (len(y_iris), 3)
    assert np.array_equal(iris_label, iris.predict(x_iris)), "iris: ONNX labels != sklearn"
    np.testing.assert_allclose(iris_proba, iris.predict_proba(x_iris), atol=1e-4)
    iris_acc = accuracy(iris_label, y_iris)
    assert iris_acc == iris_m["train_accuracy"]
    print(f"iris: accuracy {iris_acc:.4f} on {len(y_iris)} rows (ONNX == sklearn)")

    # digits: the holdout files agree with each other and with the split.
    x_hold, y_hold = load_holdout(directory)
    assert x_hold.shape == (hold_m["rows"], 64)
    assert y_hold.shape == (hold_m["rows"],)
    assert hold_m["rows"] >= 300
    _, _, x_split, y_split = digits_split()
    assert np.array_equal(x_hold, x_split), "holdout X differs from the split"
    assert np.array_equal(y_hold, y_split), "holdout y differs from the split"
    x_csv = np.loadtxt(directory / HOLDOUT_CSV, delimiter=",", dtype=np.float32, ndmin=2)
    y_csv = np.loadtxt(directory / HOLDOUT_LABELS_CSV, dtype=np.int64, ndmin=1)
    assert np.array_equal(x_csv, x_hold), "holdout CSV differs from npz"
    assert np.array_equal(y_csv, y_hold), "holdout labels CSV differs from npz"

    # digits: the weight tensors are exactly the ONNX graph's weight initializers.
    proto = onnx.load_model(str(directory / DIGITS_ONNX))
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    layout = [(w["name"], tuple(w["shape"])) for w in digits_m["weight_initializers"]]
    n_classes = int(digits_m["outputs"]["probabilities"]["shape"][1])

    plain_label, plain_proba = run_session(
        ort.InferenceSession(str(directory / DIGITS_ONNX), providers=["CPUExecutionProvider"]),
        x_hold,
    )
    probas: dict[str, FloatArray] = {}
    for version, wm in digits_m["weights"].items():
        tensors = {k: np.asarray(v) for k, v in load_file(str(directory / wm["file"])).items()}
        assert set(tensors) == {name for name, _ in layout}, f"{version}: tensor names differ"
        for name, tensor in tensors.items():
            assert tensor.dtype == inits[name].dtype == np.float32, f"{version}/{name}: dtype"
            assert tensor.shape == inits[name].shape, f"{version}/{name}: shape"

        session, values = session_with_weights(directory / DIGITS_ONNX, tensors)
        label, proba = run_session(session, x_hold)
        del session, values

        reference = sklearn_mlp_from_tensors(tensors, layout, x_hold, n_classes)
        sk_label = np.asarray(reference.predict(x_hold), dtype=np.int64)
        n_diff = int(np.sum(label != sk_label))
        assert n_diff == 0, f"{version}: {n_diff} ONNX labels differ from sklearn's predict"
        np.testing.assert_allclose(proba, reference.predict_proba(x_hold), atol=1e-4)
        acc = accuracy(label, y_hold)
        assert acc == accuracy(sk_label, y_hold) == wm["holdout_accuracy"], f"{version}: acc"
        probas[version] = proba
        print(f"digits {version}: holdout accuracy {acc:.4f} on {len(y_hold)} rows")

        if version == digits_m["exported_weights"]:
            assert np.array_equal(label, plain_label), "exported weights != plain session"
            np.testing.assert_allclose(proba, plain_proba, atol=1e-6)

    versions = sorted(probas)
    for i, a in enumerate(versions):
        for b in versions[i + 1 :]:
            max_diff = float(np.max(np.abs(probas[a] - probas[b])))
            assert max_diff > 1e-3, f"{a} and {b} give the same probabilities: not applied?"
            print(f"digits {a} vs {b}: max |probability difference| {max_diff:.4f}")
    print("check passed")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: generate all outputs, or verify them with ``--check``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check",
        action="store_true",
        help="verify the files already written (onnxruntime vs scikit-learn); writes nothing",
    )
    args = parser.parse_args(argv)
    if args.check:
        check()
        return 0
    manifest = generate()
    digits = manifest["models"]["digits"]
    print(f"iris: train accuracy {manifest['models']['iris']['train_accuracy']:.4f}")
    for version, wm in digits["weights"].items():
        print(
            f"digits {version}: holdout accuracy {wm['holdout_accuracy']:.4f} "
            f"({digits['holdout']['rows']} rows, {wm['n_iter']} iterations)"
        )
    for init in digits["weight_initializers"]:
        print(f"  initializer {init['name']}: {init['dtype']} {init['shape']}")
    print(f"wrote {MODELS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
