"""The registry rules and ``crud`` against a real embedded database (``mem://``, migrated)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest
from mer_core.errors import Conflict, InvalidRequest, NotFound
from mer_core.schemas.registry import (
    ModelCreate,
    ModelUpdate,
    ServerCreate,
    ServerUpdate,
    WeightsCreate,
)
from mer_dal.crud import models as model_crud
from mer_dal.crud import revision
from mer_dal.crud import servers as server_crud
from mer_dal.crud import weights as weights_crud
from mer_dal.db import Database
from mer_dal.registry import models, servers, weights
from mer_dal.registry.blobs import store_blob

from tests.dal.files import DIGITS, DIGITS_V1, good_tiny_weights, tiny_onnx
from tests.dal.files import weights as make_weights


async def _pieces(data: bytes, size: int = 300_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _blob(db: Database, data: bytes) -> str:
    blob, _ = await store_blob(db, _pieces(data), expected=None, chunk_size=1024 * 1024)
    return blob.sha256


async def _tiny_model(db: Database, name: str = "tiny") -> None:
    await models.create_model(db, ModelCreate(name=name, artifact=await _blob(db, tiny_onnx())))


async def test_seed_is_there(db: Database) -> None:
    assert [s.name for s in (await server_crud.list_servers(db)).data] == ["local"]
    listed = await model_crud.list_models(db)
    assert {m.name for m in listed.data} == {"iris", "digits"}
    digits = await model_crud.get_model(db, name="digits")
    assert (digits.artifact, digits.default_weights, digits.versions) == (None, "v1", [])
    assert await revision.get_revision(db) == 0


async def test_server_lifecycle_bumps_revision(db: Database) -> None:
    created = await servers.create_server(
        db, ServerCreate(name="gpu1", kind="ssh", ssh_host="10.0.0.5", has_gpu=True)
    )
    assert (created.kind, created.ssh_host, created.ssh_port) == ("ssh", "10.0.0.5", 22)
    assert await revision.get_revision(db) == 1
    with pytest.raises(Conflict, match="server 'gpu1' exists already"):
        await servers.create_server(db, ServerCreate(name="gpu1"))
    updated = await servers.update_server(db, "gpu1", ServerUpdate(ssh_user="mer", labels=["a"]))
    assert (updated.ssh_user, updated.labels, updated.ssh_host) == ("mer", ["a"], "10.0.0.5")
    assert updated.updated_at > created.updated_at
    with pytest.raises(InvalidRequest, match="needs ssh_host or ssh_config_host"):
        await servers.update_server(db, "gpu1", ServerUpdate(ssh_host=None))
    with pytest.raises(InvalidRequest, match="enabled cannot be null"):
        await servers.update_server(db, "gpu1", ServerUpdate(enabled=None))
    assert await revision.get_revision(db) == 2
    await servers.delete_server(db, "gpu1", force=False)
    assert await revision.get_revision(db) == 3
    with pytest.raises(NotFound, match="no server named 'gpu1'"):
        await server_crud.get_server(db, name="gpu1")
    with pytest.raises(NotFound, match="no server named 'gpu1'"):
        await servers.update_server(db, "gpu1", ServerUpdate(enabled=False))


async def test_ssh_server_needs_a_host(db: Database) -> None:
    with pytest.raises(InvalidRequest, match="ssh server 'r' needs ssh_host"):
        await servers.create_server(db, ServerCreate(name="r", kind="ssh"))


async def test_server_with_models_is_kept_unless_forced(db: Database) -> None:
    with pytest.raises(Conflict, match="runs models digits, iris"):
        await servers.delete_server(db, "local", force=False)
    await servers.delete_server(db, "local", force=True)
    assert (await server_crud.list_servers(db)).count == 0


async def test_import_reads_the_signature_and_bumps_revisions(db: Database) -> None:
    await _tiny_model(db)
    tiny = await model_crud.get_model(db, name="tiny")
    assert [(t.name, t.shape) for t in tiny.inputs] == [("x", [-1, 4])]
    assert {t.name for t in tiny.initializers} == {"W", "B"}
    assert (tiny.revision, tiny.artifact_size) == (1, len(tiny_onnx()))
    assert await revision.get_revision(db) == 1
    with pytest.raises(Conflict, match="model 'tiny' exists already"):
        await _tiny_model(db)
    patched = await models.update_model(db, "tiny", ModelUpdate(max_batch_size=8, device="auto"))
    assert (patched.max_batch_size, patched.device, patched.revision) == (8, "auto", 2)
    assert await revision.get_revision(db) == 2


async def test_seeded_config_gets_its_artifact_by_patch(db: Database) -> None:
    sha = await _blob(db, DIGITS.read_bytes())
    digits = await models.update_model(db, "digits", ModelUpdate(artifact=sha))
    assert digits.artifact == sha
    assert [(t.name, t.shape) for t in digits.inputs] == [("input", [-1, 64])]
    assert "coefficient" in {t.name for t in digits.initializers}
    assert digits.description.startswith("Handwritten digit")
    v1 = await weights.add_weights(
        db, "digits", WeightsCreate(version="v1", blob=await _blob(db, DIGITS_V1.read_bytes()))
    )
    assert v1.is_default
    assert (await model_crud.get_model(db, name="digits")).versions == ["v1"]


async def test_import_refuses_unknown_blob_server_and_non_onnx(db: Database) -> None:
    missing = "0" * 64
    with pytest.raises(NotFound, match=f"no blob {missing}"):
        await models.create_model(db, ModelCreate(name="m", artifact=missing))
    sha = await _blob(db, tiny_onnx())
    with pytest.raises(NotFound, match="no server named 'mars'; known servers: local"):
        await models.create_model(db, ModelCreate(name="m", artifact=sha, server="mars"))
    junk = await _blob(db, b"\x08\x01" + b"\xff" * 100)
    with pytest.raises(InvalidRequest, match="not an ONNX model"):
        await models.create_model(db, ModelCreate(name="m", artifact=junk))
    assert await model_crud.find_model(db, name="m") is None


async def test_weights_are_checked_against_the_graph(db: Database) -> None:
    await _tiny_model(db)

    async def add(version: str, data: bytes) -> None:
        await weights.add_weights(
            db, "tiny", WeightsCreate(version=version, blob=await _blob(db, data))
        )

    with pytest.raises(
        InvalidRequest, match=r"tensor 'Q' is not an initializer.*known initializers: B, W"
    ):
        await add("bad", make_weights(Q=np.zeros(3, np.float32)))
    with pytest.raises(
        InvalidRequest, match="tensor 'W' is FP16 but the model's initializer is FP32"
    ):
        await add("bad", make_weights(W=np.zeros((4, 3), np.float16)))
    with pytest.raises(InvalidRequest, match=r"tensor 'B' has shape \[4\] but .* shape \[3\]"):
        await add("bad", make_weights(B=np.zeros(4, np.float32)))
    with pytest.raises(InvalidRequest, match="not a safetensors file"):
        await add("bad", tiny_onnx())
    assert (await weights_crud.list_weights(db, model="tiny")).count == 0
    await add("v1", good_tiny_weights())
    with pytest.raises(Conflict, match="already has weights version 'v1'"):
        await add("v1", good_tiny_weights(2.0))
    listed = await weights_crud.list_weights(db, model="tiny")
    assert [(w.version, w.is_default) for w in listed.data] == [("v1", False)]
    assert {t.name for t in listed.data[0].tensors} == {"W", "B"}


async def test_weights_need_an_artifact(db: Database) -> None:
    sha = await _blob(db, good_tiny_weights())
    with pytest.raises(Conflict, match="model 'iris' has no ONNX file yet"):
        await weights.add_weights(db, "iris", WeightsCreate(version="v1", blob=sha))


async def test_default_weights_rules(db: Database) -> None:
    await _tiny_model(db)
    sha = await _blob(db, good_tiny_weights())
    for version in ("v1", "v2"):
        await weights.add_weights(db, "tiny", WeightsCreate(version=version, blob=sha))
    with pytest.raises(NotFound, match="no weights version 'v9'; available: v1, v2"):
        await models.update_model(db, "tiny", ModelUpdate(default_weights="v9"))
    tiny = await models.update_model(db, "tiny", ModelUpdate(default_weights="v2"))
    assert (tiny.default_weights, tiny.versions) == ("v2", ["v1", "v2"])
    assert (await weights_crud.get_weights(db, model="tiny", version="v2")).is_default
    with pytest.raises(Conflict, match="weights 'v2' are the default"):
        await weights.delete_weights(db, "tiny", "v2", force=False)
    await weights.delete_weights(db, "tiny", "v1", force=False)
    await weights.delete_weights(db, "tiny", "v2", force=True)
    tiny = await model_crud.get_model(db, name="tiny")
    assert (tiny.default_weights, tiny.versions) == (None, [])
    with pytest.raises(NotFound, match="has no weights version 'v2'"):
        await weights.delete_weights(db, "tiny", "v2", force=True)


async def test_model_with_weights_is_kept_unless_forced(db: Database) -> None:
    await _tiny_model(db)
    sha = await _blob(db, good_tiny_weights())
    await weights.add_weights(db, "tiny", WeightsCreate(version="v1", blob=sha))
    with pytest.raises(Conflict, match="it has weights v1"):
        await models.delete_model(db, "tiny", force=False)
    await models.delete_model(db, "tiny", force=True)
    assert await model_crud.find_model(db, name="tiny") is None
    assert (await weights_crud.list_weights(db, model="tiny")).count == 0


async def test_new_artifact_must_fit_existing_weights(db: Database) -> None:
    await _tiny_model(db)
    sha = await _blob(db, good_tiny_weights())
    await weights.add_weights(db, "tiny", WeightsCreate(version="v1", blob=sha))
    digits = await _blob(db, DIGITS.read_bytes())
    with pytest.raises(Conflict, match="does not fit weights 'v1'"):
        await models.update_model(db, "tiny", ModelUpdate(artifact=digits))


async def test_concurrent_writes_all_count(db: Database) -> None:
    names = [f"s{i}" for i in range(20)]
    await asyncio.gather(*(servers.create_server(db, ServerCreate(name=n)) for n in names))
    assert await revision.get_revision(db) == 20
    assert (await server_crud.list_servers(db)).count == 21
