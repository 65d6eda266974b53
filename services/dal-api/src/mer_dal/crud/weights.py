"""SurrealQL of the ``weights`` table: weight vectors, one record per (model, version).

Adding or deleting a vector bumps its model's revision as well as the global one.
"""

from __future__ import annotations

from typing import Any

from mer_core.errors import Conflict, NotFound
from mer_core.schemas.registry import TensorSpec, WeightsCreate, WeightsListPublic, WeightsPublic

from mer_dal.crud.revision import BUMP
from mer_dal.db import Database

_DEFAULT_OF = "SELECT VALUE default_weights FROM ONLY type::thing('model', $model);"
_TOUCH_MODEL = (
    "UPDATE ONLY type::thing('model', $model) SET revision += 1, updated_at = time::now() "
    "RETURN id;"
)
_CLEAR_DEFAULT = (
    "UPDATE type::thing('model', $model) SET default_weights = NONE "
    "WHERE default_weights = $version RETURN NONE;"
)


async def list_weights(db: Database, *, model: str) -> WeightsListPublic:
    sql = (
        "SELECT * FROM weights WHERE model = $model ORDER BY version;"
        "SELECT VALUE default_weights FROM ONLY type::thing('model', $model);"
    )
    rows, default = await db.query(sql, {"model": model})
    data = [_public(row, default) for row in rows]
    return WeightsListPublic(data=data, count=len(data))


async def find_weights(db: Database, *, model: str, version: str) -> WeightsPublic | None:
    sql = (
        "SELECT * FROM ONLY type::thing('weights', [$model, $version]);"
        "SELECT VALUE default_weights FROM ONLY type::thing('model', $model);"
    )
    row, default = await db.query(sql, {"model": model, "version": version})
    return _public(row, default) if row else None


async def get_weights(db: Database, *, model: str, version: str) -> WeightsPublic:
    weights = await find_weights(db, model=model, version=version)
    if weights is None:
        raise NotFound(f"model {model!r} has no weights version {version!r}")
    return weights


async def create_weights(
    db: Database, *, model: str, weights: WeightsCreate, size: int, tensors: list[TensorSpec]
) -> WeightsPublic:
    content = {
        "model": model,
        "version": weights.version,
        "blob": weights.blob,
        "size": size,
        "tensors": [t.model_dump() for t in tensors],
        "note": weights.note,
    }
    sql = (
        "CREATE ONLY type::thing('weights', [$model, $version]) CONTENT $content RETURN AFTER;"
        + _TOUCH_MODEL
        + BUMP
        + _DEFAULT_OF
    )
    variables = {"model": model, "version": weights.version, "content": content}
    try:
        row, _, _, default = await db.transaction(sql, variables)
    except Conflict:
        raise Conflict(f"model {model!r} already has weights version {weights.version!r}") from None
    except NotFound:
        raise NotFound(f"no model named {model!r}") from None
    return _public(row, default)


async def delete_weights(db: Database, *, model: str, version: str, clear_default: bool) -> None:
    """Delete a vector; ``clear_default`` also unsets the model's default (when it named it)."""
    sql = (
        "DELETE ONLY type::thing('weights', [$model, $version]) RETURN BEFORE;"
        + (_CLEAR_DEFAULT if clear_default else "")
        + _TOUCH_MODEL
        + BUMP
    )
    try:
        await db.transaction(sql, {"model": model, "version": version})
    except NotFound:
        raise NotFound(f"model {model!r} has no weights version {version!r}") from None


def _public(row: dict[str, Any], default: Any) -> WeightsPublic:
    return WeightsPublic.model_validate({**row, "is_default": row.get("version") == default})
