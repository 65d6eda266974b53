"""A real ``mer-meal`` subprocess: routes, tokens, errors, metrics, the OIP client, tritonclient."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from mer_core.errors import InvalidRequest, NotFound, Unauthorized
from mer_core.oip_client import OipClient

from tests.support.procs import MODELS_DIR, Dal, Service, worker_service
from tests.worker.conftest import add_model, holdout
from tests.worker.test_dataplane import reference


@pytest.fixture(scope="module")
def worker(dal: Dal, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    async def models() -> None:
        async with dal.admin() as admin:
            await add_model(admin, "iris-http", (MODELS_DIR / "iris.onnx").read_bytes())

    asyncio.run(models())
    tmp = tmp_path_factory.mktemp("worker-http")
    env = {"MER_CONFIG_REFRESH_S": "0.2", "MER_ACCESS_LOG_FLUSH_MS": "50"}
    with worker_service(tmp, dal.tokens, dal.url, **env) as service:
        yield service
    assert service.proc.returncode == 0, "mer-meal did not stop cleanly on SIGTERM"
    log = service.log_text()
    assert "Traceback" not in log, log[-4000:]
    assert dal.tokens.token not in log


@pytest.fixture
def auth(dal: Dal) -> dict[str, str]:
    return {"Authorization": f"Bearer {dal.tokens.token}"}


def test_health_is_open_everything_else_needs_the_token(
    worker: Service, auth: dict[str, str]
) -> None:
    assert httpx.get(f"{worker.url}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{worker.url}/v2/health/ready").json() == {"ready": True}
    for path in (
        "/v2",
        "/v2/models/digits",
        "/v2/models/digits/ready",
        "/metrics",
        "/v2/models/stats",
    ):
        refused = httpx.get(f"{worker.url}{path}")
        assert refused.status_code == 401, path
        assert refused.json()["kind"] == "unauthorized"
        assert httpx.get(f"{worker.url}{path}", headers=auth).status_code == 200, path
    wrong = httpx.get(f"{worker.url}/v2", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    server = httpx.get(f"{worker.url}/v2", headers=auth).json()
    assert server["name"] == "mer-meal"
    assert "binary_tensor_data" in server["extensions"]


def test_http_errors_are_json_never_a_traceback(worker: Service, auth: dict[str, str]) -> None:
    cases = [
        ("POST", "/v2/models/digits/infer", b"{not json", 400, "not valid JSON"),
        ("POST", "/v2/models/ghost/infer", b'{"inputs": []}', 404, "unknown model 'ghost'"),
        ("POST", "/v2/models/digits/versions/v9/infer", b"{}", 404, "available versions: v1, v2"),
        ("GET", "/v2/models/digits/infer", b"", 405, "GET is not allowed"),
        ("GET", "/v2/nowhere", b"", 404, "no route /v2/nowhere"),
        ("POST", "/v2/repository/models/ghost/load", b"", 404, "unknown model 'ghost'"),
    ]
    for method, path, body, status, message in cases:
        answer = httpx.request(method, f"{worker.url}{path}", content=body, headers=auth)
        assert answer.status_code == status, (path, answer.text)
        assert message in answer.json()["error"], (path, answer.text)
        assert "Traceback" not in answer.text


async def test_oip_client_json_and_binary_answers_agree(worker: Service, dal: Dal) -> None:
    x = holdout(9, 50)
    async with OipClient(worker.url, dal.tokens.token, caller="pytest") as client:
        assert await client.live()
        assert await client.ready()
        assert await client.model_ready("digits")
        as_json = await client.infer("digits", {"input": x}, version="v2")
        as_binary = await client.infer(
            "digits", {"input": x}, version="v2", binary_inputs=True, binary_outputs=True
        )
        only = await client.infer("digits", {"input": x}, outputs=["label"], binary_outputs=True)
        metadata = await client.model_metadata("digits", "v2")
        with pytest.raises(NotFound, match="available versions: v1, v2"):
            await client.infer("digits", {"input": x}, version="v3")
        with pytest.raises(InvalidRequest, match="input 'input': shape \\[9, 10\\] given"):
            await client.infer("digits", {"input": x[:, :10]})
    for name in ("label", "probabilities"):
        assert np.array_equal(as_json[name], as_binary[name])
    label, probabilities = reference("v2", x)
    assert np.array_equal(as_binary["label"], label)
    assert np.allclose(as_binary["probabilities"], probabilities, atol=1e-6)
    assert list(only) == ["label"]
    assert metadata.parameters["provider"] == "CPUExecutionProvider"
    async with OipClient(worker.url, "wrong-token") as stranger:
        with pytest.raises(Unauthorized):
            await stranger.infer("digits", {"input": x})


async def test_stats_repository_and_metrics_routes(
    worker: Service, dal: Dal, auth: dict[str, str]
) -> None:
    async with OipClient(worker.url, dal.tokens.token) as client:
        await client.unload("iris")
        index = {e.name: e for e in await client.repository_index()}
        assert index["iris"].state == "UNAVAILABLE"
        await client.load("iris")
        index = {e.name: e for e in await client.repository_index()}
        assert index["iris"].state == "READY"
        for _ in range(3):
            await client.infer("iris", {"input": np.ones((2, 4), np.float32)})
        stats = await client.statistics("iris")
        everything = await client.statistics()
    (iris,) = stats.model_stats
    assert iris.name == "iris"
    assert iris.inference_stats.success.count >= 3
    assert iris.inference_count >= 6
    assert {s.name for s in everything.model_stats} >= {"iris"}
    metrics = httpx.get(f"{worker.url}/metrics", headers=auth).text
    assert 'mer_infer_requests_total{model="iris",outcome="ok",version=""}' in metrics
    assert 'mer_infer_request_seconds_bucket{le="+Inf",model="iris",version=""}' in metrics
    assert "mer_sessions_loaded" in metrics
    assert "mer_access_log_spooled_rows 0.0" in metrics


async def test_access_log_rows_equal_answered_requests(worker: Service, dal: Dal) -> None:
    statuses = []
    async with httpx.AsyncClient(base_url=worker.url) as http:
        good = (
            b'{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4],'
            b' "data": [1, 2, 3, 4]}]}'
        )
        headers = {"Authorization": f"Bearer {dal.tokens.token}", "X-Mer-Caller": "http-test"}
        for body, hdrs in (
            (good, headers),
            (good, headers),
            (b"{bad", headers),
            (good, {}),  # no token: answered 401, and logged
            (good.replace(b"[1, 4]", b"[1, 5]"), headers),
        ):
            answer = await http.post("/v2/models/iris-http/infer", content=body, headers=hdrs)
            statuses.append(answer.status_code)
    assert statuses == [200, 200, 400, 401, 400]
    deadline = time.monotonic() + 10
    async with dal.reader() as reader:
        while True:
            rows = (await reader.list_access_logs(model="iris-http", limit=100)).data
            if len(rows) >= len(statuses) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
    assert sorted(r.status for r in rows) == sorted(statuses)
    assert {r.caller for r in rows if r.status != 401} == {"http-test"}


async def test_a_valid_request_id_header_names_the_row_only_with_the_token(
    worker: Service, dal: Dal
) -> None:
    """``X-Mer-Request-Id`` (what a gateway forwards) is the row's id: only when valid, and only
    from a caller with the token; the DAL keeps one row per id."""
    body = b'{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 64], "data": [%s]}]}'
    body %= b", ".join([b"0"] * 64)
    auth = {"Authorization": f"Bearer {dal.tokens.token}", "X-Mer-Caller": "rid-test"}
    sent = [
        ({**auth, "X-Mer-Request-Id": "gw-3f2a:0001.x_y"}, 200),
        ({**auth, "X-Mer-Request-Id": "gw-3f2a:0001.x_y"}, 200),  # the same id: no second row
        ({**auth, "X-Mer-Request-Id": "bad id!"}, 200),
        ({**auth, "X-Mer-Request-Id": "a" * 65}, 200),
        ({"X-Mer-Caller": "rid-test", "X-Mer-Request-Id": "stranger-1"}, 401),
    ]
    async with httpx.AsyncClient(base_url=worker.url) as http:
        for headers, status in sent:
            answer = await http.post("/v2/models/digits/infer", content=body, headers=headers)
            assert answer.status_code == status, answer.text
    deadline = time.monotonic() + 10
    async with dal.reader() as reader:
        while True:
            rows = (await reader.list_access_logs(model="digits", limit=10000)).data
            rows = [r for r in rows if r.caller == "rid-test"]
            if len(rows) >= 4 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)  # a second row for the repeated id would have arrived by now
    async with dal.reader() as reader:
        rows = (await reader.list_access_logs(model="digits", limit=10000)).data
    rows = [r for r in rows if r.caller == "rid-test"]
    assert sorted(r.status for r in rows) == [200, 200, 200, 401]
    ids = {r.request_id for r in rows}
    assert len(ids) == 4
    assert "gw-3f2a:0001.x_y" in ids
    assert not ids & {"bad id!", "a" * 65, "stranger-1"}
    [refused] = [r for r in rows if r.status == 401]
    assert refused.request_id != "stranger-1"


def test_tritonclient_health_metadata_and_infer(worker: Service, dal: Dal) -> None:
    import tritonclient.http as triton

    headers = {"Authorization": f"Bearer {dal.tokens.token}"}
    client = triton.InferenceServerClient(worker.url.removeprefix("http://"))
    try:
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready("digits", headers=headers)
        metadata = client.get_model_metadata("digits", headers=headers)
        assert metadata["inputs"][0] == {"name": "input", "datatype": "FP32", "shape": [-1, 64]}
        x = holdout(6, 10)
        label, probabilities = reference("v1", x)
        for binary in (False, True):
            tensor = triton.InferInput("input", list(x.shape), "FP32")
            tensor.set_data_from_numpy(x, binary_data=binary)
            wanted = [
                triton.InferRequestedOutput("label", binary_data=binary),
                triton.InferRequestedOutput("probabilities", binary_data=binary),
            ]
            result = client.infer(
                "digits", [tensor], outputs=wanted, headers=headers, request_id=f"t-{binary}"
            )
            assert np.array_equal(result.as_numpy("label"), label)
            assert np.allclose(result.as_numpy("probabilities"), probabilities, atol=1e-6)
            assert result.get_response()["id"] == f"t-{binary}"
            plain = client.infer("digits", [tensor], headers=headers, model_version="v2")
            assert plain.get_response()["model_version"] == "v2"
            assert np.allclose(plain.as_numpy("probabilities"), reference("v2", x)[1], atol=1e-6)
    finally:
        client.close()
