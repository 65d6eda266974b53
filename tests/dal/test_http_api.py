"""The DAL over HTTP: a real ``mer-dal`` process on a migrated embedded database, driven through
``DalClient`` (and raw httpx where the client would not send what is tested)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from mer_core.dal_client import DalClient
from mer_core.errors import Conflict, Forbidden, InvalidRequest, NotFound, Unauthorized
from mer_core.schemas.registry import (
    AccessLogCreate,
    ModelCreate,
    ModelUpdate,
    ServerCreate,
    ServerUpdate,
    WeightsCreate,
)

from tests.dal.files import (
    DIGITS,
    DIGITS_V1,
    DIGITS_V2,
    IRIS,
    good_tiny_weights,
    sha256,
    tiny_onnx,
    weights,
)
from tests.support.procs import Dal

MIB = 1024 * 1024


async def test_health_needs_no_token(dal: Dal) -> None:
    async with DalClient(dal.url, None) as anonymous:
        health = await anonymous.health()
    assert (health.status, health.service, health.database) == ("ok", "mer-dal", "ok")
    assert health.migrations_applied is not None
    assert health.migrations_applied >= 4


async def test_tokens(dal: Dal, reader: DalClient) -> None:
    async with DalClient(dal.url, None) as anonymous:
        with pytest.raises(Unauthorized, match="missing token"):
            await anonymous.list_models()
    async with DalClient(dal.url, "not-the-token") as stranger:
        with pytest.raises(Unauthorized, match="wrong token"):
            await stranger.list_servers()
        with pytest.raises(Unauthorized, match="wrong token"):
            await stranger.create_server(ServerCreate(name="x"))
    assert (await reader.list_servers()).count >= 1
    with pytest.raises(Forbidden, match="needs the admin token"):
        await reader.create_server(ServerCreate(name="x"))
    with pytest.raises(Forbidden, match="needs the admin token"):
        await reader.delete_model("iris")
    with pytest.raises(Forbidden, match="needs the admin token"):
        await reader.upload_blob(b"abc")
    row = AccessLogCreate(
        at=datetime.now(UTC),
        model="iris",
        server="local",
        request_id="tok-1",
        outcome="ok",
        status=200,
    )
    assert await reader.post_access_logs([row]) == 1
    answer = httpx.get(f"{dal.url}/models", headers={"Authorization": "Basic abc"})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert answer.json() == {
        "error": "malformed Authorization header: expected Bearer TOKEN",
        "kind": "unauthorized",
    }


async def test_servers(admin: DalClient, reader: DalClient) -> None:
    created = await admin.create_server(
        ServerCreate(name="edge-1", kind="ssh", ssh_host="10.1.2.3", ssh_user="mer", labels=["x"])
    )
    assert (created.name, created.kind, created.ssh_user) == ("edge-1", "ssh", "mer")
    assert (await reader.get_server("edge-1")).ssh_host == "10.1.2.3"
    assert "edge-1" in {s.name for s in (await reader.list_servers()).data}
    with pytest.raises(Conflict, match="exists already"):
        await admin.create_server(ServerCreate(name="edge-1"))
    updated = await admin.update_server("edge-1", ServerUpdate(enabled=False, ssh_port=2222))
    assert (updated.enabled, updated.ssh_port, updated.labels) == (False, 2222, ["x"])
    await admin.delete_server("edge-1")
    with pytest.raises(NotFound, match="no server named 'edge-1'"):
        await reader.get_server("edge-1")
    with pytest.raises(NotFound, match="no server named 'edge-1'"):
        await admin.delete_server("edge-1")


async def test_import_onnx_and_weights(admin: DalClient, reader: DalClient) -> None:
    onnx_blob = await admin.upload_blob(DIGITS)
    assert onnx_blob.sha256 == sha256(DIGITS.read_bytes())
    before = await reader.revision()
    digits = await admin.update_model("digits", ModelUpdate(artifact=onnx_blob.sha256))
    assert await reader.revision() == before + 1
    assert [(t.name, t.datatype, t.shape) for t in digits.inputs] == [("input", "FP32", [-1, 64])]
    assert {t.name for t in digits.outputs} == {"label", "probabilities"}
    assert {t.name: t.shape for t in digits.initializers}["coefficient"] == [64, 64]
    for version, path in (("v1", DIGITS_V1), ("v2", DIGITS_V2)):
        blob = await admin.upload_blob(path)
        added = await admin.add_weights(
            "digits", WeightsCreate(version=version, blob=blob.sha256, note=version)
        )
        assert (added.model, added.version, added.size) == ("digits", version, path.stat().st_size)
    listed = await reader.list_weights("digits")
    assert [(w.version, w.is_default) for w in listed.data] == [("v1", True), ("v2", False)]
    assert (await reader.get_weights("digits", "v2")).note == "v2"
    model = await admin.update_model("digits", ModelUpdate(default_weights="v2"))
    assert (model.default_weights, model.versions) == ("v2", ["v1", "v2"])
    assert model.revision >= 4
    with pytest.raises(NotFound, match="available: v1, v2"):
        await admin.update_model("digits", ModelUpdate(default_weights="v7"))
    with pytest.raises(Conflict, match="already has weights version 'v1'"):
        await admin.add_weights("digits", WeightsCreate(version="v1", blob=blob.sha256))
    with pytest.raises(Conflict, match="are the default"):
        await admin.delete_weights("digits", "v2")
    await admin.delete_weights("digits", "v1")
    with pytest.raises(NotFound, match="no weights version 'v1'"):
        await reader.get_weights("digits", "v1")


async def test_create_model_from_iris_and_tiny(admin: DalClient, reader: DalClient) -> None:
    iris = await admin.upload_blob(IRIS)
    created = await admin.create_model(
        ModelCreate(name="iris-copy", artifact=iris.sha256, max_batch_size=16)
    )
    assert [(t.name, t.shape) for t in created.inputs] == [("input", [-1, 4])]
    assert (created.initializers, created.max_batch_size, created.revision) == ([], 16, 1)
    tiny = await admin.upload_blob(tiny_onnx())
    model = await admin.create_model(ModelCreate(name="tiny-http", artifact=tiny.sha256))
    assert {t.name: t.shape for t in model.initializers} == {"W": [4, 3], "B": [3]}
    bad = {
        "unknown": (
            weights(Nope=np.zeros(3, np.float32)),
            r"tensor 'Nope' is not an initializer.*B, W",
        ),
        "dtype": (
            weights(W=np.zeros((4, 3), np.float16)),
            "tensor 'W' is FP16 but the model's initializer is FP32",
        ),
        "shape": (weights(B=np.zeros((1, 3), np.float32)), r"tensor 'B' has shape \[1, 3\] but"),
        "format": (b"hello world, not safetensors", "not a safetensors file"),
    }
    for version, (data, message) in bad.items():
        blob = await admin.upload_blob(data)
        with pytest.raises(InvalidRequest, match=message):
            await admin.add_weights("tiny-http", WeightsCreate(version=version, blob=blob.sha256))
    good = await admin.upload_blob(good_tiny_weights())
    await admin.add_weights("tiny-http", WeightsCreate(version="ok", blob=good.sha256))
    with pytest.raises(Conflict, match="it has weights ok"):
        await admin.delete_model("tiny-http")
    await admin.delete_model("tiny-http", force=True)
    with pytest.raises(NotFound, match="no model named 'tiny-http'"):
        await reader.get_model("tiny-http")
    names = {m.name for m in (await reader.list_models()).data}
    assert {"iris", "digits", "iris-copy"} <= names
    assert "tiny-http" not in names


async def test_not_onnx_is_a_400(admin: DalClient) -> None:
    junk = await admin.upload_blob(b"this is not an onnx file")
    with pytest.raises(InvalidRequest, match="not an ONNX model"):
        await admin.create_model(ModelCreate(name="junk", artifact=junk.sha256))


async def test_blob_chunks_round_trip_and_dedup(
    dal: Dal, admin: DalClient, reader: DalClient, tmp_path: Path
) -> None:
    data = os.urandom(3 * MIB + MIB // 2)
    seen: list[tuple[int, int]] = []
    blob = await admin.upload_blob(data, progress=lambda done, total: seen.append((done, total)))
    assert (blob.size, blob.chunks, blob.sha256) == (len(data), 4, sha256(data))
    assert seen[-1] == (len(data), len(data))
    again = httpx.post(
        f"{dal.url}/blobs", content=data, headers={"Authorization": f"Bearer {dal.tokens.admin}"}
    )
    assert again.status_code == 200
    assert again.json()["created_at"] == blob.created_at.isoformat().replace("+00:00", "Z")
    dest = await reader.download_blob(blob.sha256, tmp_path / "out" / "blob.bin")
    assert dest.read_bytes() == data
    assert sorted(p.name for p in dest.parent.iterdir()) == ["blob.bin"]
    assert await reader.read_blob(blob.sha256) == data
    with pytest.raises(NotFound, match="no blob"):
        await reader.read_blob("f" * 64)
    with pytest.raises(NotFound, match="no blob"):
        await reader.download_blob("f" * 64, tmp_path / "never.bin")
    assert not (tmp_path / "never.bin").exists()


async def test_blob_with_wrong_sha_is_refused(dal: Dal) -> None:
    headers = {"Authorization": f"Bearer {dal.tokens.admin}", "X-Content-Sha256": "ab" * 32}
    answer = httpx.post(f"{dal.url}/blobs", content=os.urandom(MIB + 1), headers=headers)
    assert answer.status_code == 400
    assert "X-Content-Sha256 says" in answer.json()["error"]
    headers["X-Content-Sha256"] = "xyz"
    answer = httpx.post(f"{dal.url}/blobs", content=b"abc", headers=headers)
    assert answer.status_code == 400
    assert "X-Content-Sha256 must be 64 hex digits" in answer.json()["error"]


async def test_access_logs(reader: DalClient) -> None:
    t0 = datetime(2024, 6, 1, tzinfo=UTC)
    rows = [
        AccessLogCreate(
            at=t0 + timedelta(seconds=i),
            model="m-logs" if i % 2 else "other-logs",
            server="local",
            request_id=f"log-{i}",
            outcome="ok",
            status=200,
            total_ms=1.5,
        )
        for i in range(10)
    ]
    assert await reader.post_access_logs(rows) == 10
    assert await reader.post_access_logs(rows) == 0
    mine = await reader.list_access_logs(model="m-logs")
    assert [r.request_id for r in mine.data] == ["log-9", "log-7", "log-5", "log-3", "log-1"]
    assert mine.data[0].total_ms == 1.5
    recent = await reader.list_access_logs(model="m-logs", since=t0 + timedelta(seconds=6), limit=1)
    assert [r.request_id for r in recent.data] == ["log-9"]


async def test_revision_grows_on_writes_only(admin: DalClient, reader: DalClient) -> None:
    start = await reader.revision()
    await reader.list_models()
    assert await reader.revision() == start
    await admin.create_server(ServerCreate(name="rev-1"))
    await admin.update_server("rev-1", ServerUpdate(labels=["y"]))
    await admin.delete_server("rev-1")
    assert await reader.revision() == start + 3


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/servers", b"{not json", 400, "malformed JSON body"),
        (
            "POST",
            "/servers",
            b'{"name": "bad name!"}',
            400,
            "body field name: String should match pattern",
        ),
        (
            "POST",
            "/servers",
            b'{"name": "ok", "colour": "red"}',
            400,
            "body field colour: Extra inputs",
        ),
        ("PATCH", "/models/iris", b'{"max_batch_size": 0}', 400, "body field max_batch_size"),
        ("PATCH", "/models/iris", b'{"description": null}', 400, "description cannot be null"),
        ("GET", "/models/bad%20name", None, 400, "path field name"),
        ("GET", "/models/nope", None, 404, "no model named 'nope'"),
        ("GET", "/models/nope/weights", None, 404, "no model named 'nope'"),
        ("GET", "/models/iris/weights/v9", None, 404, "no weights version 'v9'"),
        ("GET", "/servers/nope", None, 404, "no server named 'nope'"),
        ("GET", "/blobs/xyz", None, 400, "sha256 must be 64 hex digits"),
        ("GET", "/access-logs?limit=0", None, 400, "query field limit"),
        ("GET", "/access-logs?since=yesterday", None, 400, "query field since"),
        ("GET", "/no/such/route", None, 404, "no such route"),
        ("PUT", "/models/iris", b"{}", 405, "PUT is not allowed"),
    ],
)
def test_bad_requests_get_clear_errors(
    dal: Dal, method: str, path: str, body: bytes | None, status: int, message: str
) -> None:
    headers = {"Authorization": f"Bearer {dal.tokens.admin}", "Content-Type": "application/json"}
    answer = httpx.request(method, f"{dal.url}{path}", content=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]
    assert "Traceback" not in answer.text


def test_openapi_is_served(dal: Dal) -> None:
    spec = httpx.get(f"{dal.url}/openapi.json").json()
    assert {
        "/models",
        "/models/{name}/weights/{version}",
        "/blobs",
        "/access-logs",
        "/revision",
    } <= set(spec["paths"])


def _peak_and_now_kib(pid: int) -> tuple[int, int]:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmHWM"].split()[0]), int(fields["VmRSS"].split()[0])


@pytest.mark.slow
async def test_200_mb_blob_travels_in_bounded_memory(dal: Dal, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    with source.open("wb") as out:
        for _ in range(200):
            out.write(os.urandom(MIB))
    _, before = _peak_and_now_kib(dal.service.proc.pid)
    async with DalClient(dal.url, dal.tokens.admin, timeout=120) as client:
        blob = await client.upload_blob(source)
        assert (blob.size, blob.chunks) == (200 * MIB, 200)
        back = await client.download_blob(blob.sha256, tmp_path / "back.bin")
    assert back.stat().st_size == 200 * MIB
    peak, _ = _peak_and_now_kib(dal.service.proc.pid)
    assert (peak - before) * 1024 < 150 * MIB, f"the DAL grew by {(peak - before) // 1024} MiB"
