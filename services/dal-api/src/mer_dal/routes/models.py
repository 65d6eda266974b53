"""``/models`` and ``/models/{name}/weights``: model configurations and their weight vectors."""

from __future__ import annotations

from fastapi import APIRouter, Response
from mer_core.schemas.registry import (
    ModelCreate,
    ModelPublic,
    ModelsPublic,
    ModelUpdate,
    WeightsCreate,
    WeightsListPublic,
    WeightsPublic,
)

from mer_dal.crud import models as crud
from mer_dal.crud import weights as weights_crud
from mer_dal.deps import Db, Force, ModelName, Version
from mer_dal.registry import models as registry
from mer_dal.registry import weights as weights_registry

router = APIRouter(prefix="/models", tags=["models"])


@router.get("")
async def list_models(db: Db) -> ModelsPublic:
    return await crud.list_models(db)


@router.post("", status_code=201)
async def create_model(db: Db, model: ModelCreate) -> ModelPublic:
    return await registry.create_model(db, model)


@router.get("/{name}")
async def get_model(db: Db, name: ModelName) -> ModelPublic:
    return await crud.get_model(db, name=name)


@router.patch("/{name}")
async def update_model(db: Db, name: ModelName, update: ModelUpdate) -> ModelPublic:
    return await registry.update_model(db, name, update)


@router.delete("/{name}", status_code=204)
async def delete_model(db: Db, name: ModelName, force: Force = False) -> Response:
    await registry.delete_model(db, name, force=force)
    return Response(status_code=204)


@router.get("/{name}/weights")
async def list_weights(db: Db, name: ModelName) -> WeightsListPublic:
    await crud.get_model(db, name=name)
    return await weights_crud.list_weights(db, model=name)


@router.post("/{name}/weights", status_code=201)
async def add_weights(db: Db, name: ModelName, weights: WeightsCreate) -> WeightsPublic:
    return await weights_registry.add_weights(db, name, weights)


@router.get("/{name}/weights/{version}")
async def get_weights(db: Db, name: ModelName, version: Version) -> WeightsPublic:
    await crud.get_model(db, name=name)
    return await weights_crud.get_weights(db, model=name, version=version)


@router.delete("/{name}/weights/{version}", status_code=204)
async def delete_weights(
    db: Db, name: ModelName, version: Version, force: Force = False
) -> Response:
    await weights_registry.delete_weights(db, name, version, force=force)
    return Response(status_code=204)
