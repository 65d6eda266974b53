"""SurrealQL of the ``model`` table. ``versions`` comes from the ``weights`` table."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from mer_core.errors import Conflict, NotFound
from mer_core.schemas.registry import ModelCreate, ModelPublic, ModelsPublic

from mer_dal.crud.revision import BUMP
from mer_dal.db import Database
from mer_dal.formats.onnx_signature import Signature

_UPDATE = (
    "UPDATE ONLY type::thing('model', $name) MERGE $changes RETURN id;"
    "UPDATE ONLY type::thing('model', $name) SET revision += 1 RETURN AFTER;"
)


async def list_models(db: Database) -> ModelsPublic:
    rows, versions = await db.query(
        "SELECT * FROM model ORDER BY name;"
        "SELECT model, version FROM weights ORDER BY model, version;"
    )
    by_model: dict[str, list[str]] = defaultdict(list)
    for row in versions:
        by_model[row["model"]].append(row["version"])
    data = [_public(row, by_model[row["name"]]) for row in rows]
    return ModelsPublic(data=data, count=len(data))


async def find_model(db: Database, *, name: str) -> ModelPublic | None:
    sql = (
        "SELECT * FROM ONLY type::thing('model', $name);"
        "SELECT VALUE version FROM weights WHERE model = $name ORDER BY version;"
    )
    row, versions = await db.query(sql, {"name": name})
    return _public(row, versions) if row else None


async def get_model(db: Database, *, name: str) -> ModelPublic:
    model = await find_model(db, name=name)
    if model is None:
        raise NotFound(f"no model named {name!r}")
    return model


async def models_on_server(db: Database, *, server: str) -> list[str]:
    """The names of the models placed on ``server``."""
    [names] = await db.query(
        "SELECT VALUE name FROM model WHERE server = $server ORDER BY name", {"server": server}
    )
    return [str(n) for n in names]


async def create_model(
    db: Database, *, model: ModelCreate, signature: Signature, artifact_size: int
) -> ModelPublic:
    content = {
        **model.model_dump(),
        **_signature_fields(signature),
        "artifact_size": artifact_size,
        "revision": 1,
    }
    sql = "CREATE ONLY type::thing('model', $name) CONTENT $content RETURN AFTER;" + BUMP
    try:
        row, _ = await db.transaction(sql, {"name": model.name, "content": content})
    except Conflict:
        raise Conflict(f"model {model.name!r} exists already") from None
    return _public(row, [])


async def update_model(
    db: Database,
    *,
    name: str,
    changes: dict[str, Any],
    signature: Signature | None = None,
    artifact_size: int | None = None,
) -> ModelPublic:
    """Merge ``changes`` (and a new signature) into the model; bumps its revision."""
    merged = {**changes, "updated_at": datetime.now(UTC)}
    if signature is not None:
        merged.update(_signature_fields(signature), artifact_size=artifact_size)
    try:
        _, _, row = await db.transaction(BUMP + _UPDATE, {"name": name, "changes": merged})
    except NotFound:
        raise NotFound(f"no model named {name!r}") from None
    [versions] = await db.query(
        "SELECT VALUE version FROM weights WHERE model = $name ORDER BY version", {"name": name}
    )
    return _public(row, versions)


async def delete_model(db: Database, *, name: str) -> None:
    """Delete the model and its weight vectors (their blobs stay, content-addressed)."""
    sql = (
        "DELETE ONLY type::thing('model', $name) RETURN BEFORE;"
        "DELETE weights WHERE model = $name RETURN NONE;" + BUMP
    )
    try:
        await db.transaction(sql, {"name": name})
    except NotFound:
        raise NotFound(f"no model named {name!r}") from None


def _signature_fields(signature: Signature) -> dict[str, Any]:
    return {
        "inputs": [t.model_dump() for t in signature.inputs],
        "outputs": [t.model_dump() for t in signature.outputs],
        "initializers": [t.model_dump() for t in signature.initializers],
    }


def _public(row: dict[str, Any], versions: list[str]) -> ModelPublic:
    return ModelPublic.model_validate({**row, "versions": versions})
