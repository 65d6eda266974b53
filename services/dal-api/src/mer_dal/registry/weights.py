"""Weight vectors: a safetensors blob whose every tensor replaces an initializer of the model's
graph with the same name, datatype and shape. Only the header is read, never the tensors."""

from __future__ import annotations

from mer_core.errors import Conflict
from mer_core.schemas.registry import WeightsCreate, WeightsPublic

from mer_dal.crud import blobs as blob_crud
from mer_dal.crud import models as model_crud
from mer_dal.crud import weights as crud
from mer_dal.db import Database
from mer_dal.formats.safetensors_header import PREFIX, check_against, header_length, read_tensors
from mer_dal.registry.blobs import read_prefix


async def add_weights(db: Database, model_name: str, weights: WeightsCreate) -> WeightsPublic:
    model = await model_crud.get_model(db, name=model_name)
    if model.artifact is None:
        raise Conflict(
            f"model {model_name!r} has no ONNX file yet: import one first "
            f"(PATCH /models/{model_name} with an artifact)"
        )
    if weights.version in model.versions:
        raise Conflict(f"model {model_name!r} already has weights version {weights.version!r}")
    blob = await blob_crud.get_blob(db, sha=weights.blob)
    size = blob.public.size
    length = header_length(await read_prefix(db, blob, PREFIX), size)
    header = (await read_prefix(db, blob, PREFIX + length))[PREFIX:]
    tensors = read_tensors(header, size)
    check_against(tensors, model.initializers)
    return await crud.create_weights(
        db, model=model_name, weights=weights, size=size, tensors=tensors
    )


async def delete_weights(db: Database, model_name: str, version: str, *, force: bool) -> None:
    model = await model_crud.get_model(db, name=model_name)
    await crud.get_weights(db, model=model_name, version=version)
    is_default = model.default_weights == version
    if is_default and not force:
        raise Conflict(
            f"weights {version!r} are the default of model {model_name!r}: set another default "
            "first, or delete with force=true"
        )
    await crud.delete_weights(db, model=model_name, version=version, clear_default=is_default)
