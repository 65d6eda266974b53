"""NUL characters, which SurrealDB cannot store, are refused with a 400 naming the field, before
anything is written; the registry stays readable. A real ``mer-dal`` over HTTP, and the
``Database`` backstop on a real embedded database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from mer_core.errors import InvalidRequest
from mer_dal.db import Database

from tests.support.procs import Dal

NUL = "a\u0000b"


def _log_row(**changes: Any) -> dict[str, Any]:
    row = {
        "at": datetime.now(UTC).isoformat(),
        "model": "iris",
        "server": "local",
        "request_id": "nul-test-ok",
        "outcome": "ok",
        "status": 200,
    }
    return row | changes


def _admin(dal: Dal) -> httpx.Client:
    headers = {"Authorization": f"Bearer {dal.tokens.admin}"}
    return httpx.Client(base_url=dal.url, headers=headers, timeout=30)


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/access-logs", {"data": [_log_row(model=NUL)]}, "data.0.model"),
        ("POST", "/access-logs", {"data": [_log_row(request_id=NUL)]}, "data.0.request_id"),
        ("PATCH", "/models/iris", {"description": NUL}, "description"),
        ("POST", "/servers", {"name": "nul-host", "ssh_host": NUL}, "ssh_host"),
        ("POST", "/servers", {"name": "nul-labels", "labels": ["ok", NUL]}, "labels.1"),
        ("PATCH", "/servers/local", {"remote_dir": NUL}, "remote_dir"),
        ("POST", "/models/iris/weights", {"version": "v9", "blob": "0" * 64, "note": NUL}, "note"),
    ],
)
def test_nul_in_a_body_is_a_400_naming_the_field(
    dal: Dal, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    with _admin(dal) as http:
        answer = http.request(method, path, json=body)
        assert answer.status_code == 400, answer.text
        error = answer.json()
        assert error["kind"] == "invalid_request"
        assert f"body field {field}" in error["error"]
        assert "NUL character" in error["error"]
        # nothing was stored: the registry still answers, unchanged
        assert http.get("/models").status_code == 200
        iris = http.get("/models/iris")
        assert iris.status_code == 200, iris.text
        assert "\u0000" not in iris.json()["description"]
        assert http.get("/servers").status_code == 200
        assert http.get("/servers/nul-host").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/models/a%00b",
        "/models/iris/weights/v%001",
        "/servers/a%00",
        "/access-logs?model=a%00b",
        "/access-logs?server=%00",
    ],
)
def test_nul_in_the_url_is_a_400(dal: Dal, path: str) -> None:
    with _admin(dal) as http:
        answer = http.get(path)
        assert answer.status_code == 400, answer.text
        assert answer.json()["kind"] == "invalid_request"
        assert "NUL character (%00)" in answer.json()["error"]
        assert http.delete("/models/a%00b").status_code == 400


def test_nul_in_the_url_still_needs_a_token(dal: Dal) -> None:
    answer = httpx.get(f"{dal.url}/models/a%00b")
    assert answer.status_code == 401


def test_good_rows_next_to_a_refused_batch_still_go_in(dal: Dal) -> None:
    with _admin(dal) as http:
        bad = http.post("/access-logs", json={"data": [_log_row(), _log_row(caller=NUL)]})
        assert bad.status_code == 400
        assert "data.1.caller" in bad.json()["error"]
        assert http.post("/access-logs", json={"data": [_log_row()]}).json() == {"inserted": 1}
        logs = http.get("/access-logs", params={"model": "iris", "limit": 10000}).json()
        assert [r["request_id"] for r in logs["data"]].count("nul-test-ok") == 1


async def test_database_maps_a_nul_it_was_given_to_invalid_request(db: Database) -> None:
    """The backstop under the schemas: a NUL in a query variable is refused before SurrealDB
    stores it (it would store it, then fail to read it back)."""
    with pytest.raises(InvalidRequest, match="NUL character"):
        await db.query("UPDATE model:iris SET description = $d", {"d": NUL})
    with pytest.raises(InvalidRequest, match="NUL character"):
        await db.query("CREATE access_log CONTENT $row", {"row": {"tags": ["x", {"k": NUL}]}})
    row = (await db.query("SELECT description FROM ONLY model:iris"))[0]
    assert "\u0000" not in row["description"]
    # a literal backslash-u text is not a NUL
    literal = "C:\\u0000dir"
    await db.query("UPDATE model:iris SET description = $d", {"d": literal})
    row = (await db.query("SELECT description FROM ONLY model:iris"))[0]
    assert row["description"] == literal
