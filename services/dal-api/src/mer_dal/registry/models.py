"""Models: imported from an uploaded ONNX blob, whose graph gives the signature; a placement
names an existing server; a default weight vector names an existing version."""

from __future__ import annotations

import asyncio

from mer_core.errors import Conflict, InvalidRequest, NotFound
from mer_core.schemas.registry import ModelCreate, ModelPublic, ModelUpdate

from mer_dal.crud import models as crud
from mer_dal.crud import servers as server_crud
from mer_dal.crud import weights as weights_crud
from mer_dal.db import Database
from mer_dal.formats.onnx_signature import Signature, read_signature
from mer_dal.formats.safetensors_header import check_against
from mer_dal.registry.blobs import read_blob

NULLABLE = {"default_weights"}


async def create_model(db: Database, model: ModelCreate) -> ModelPublic:
    await _check_server(db, model.server)
    if await crud.find_model(db, name=model.name) is not None:
        raise Conflict(f"model {model.name!r} exists already")
    signature, size = await _read_artifact(db, model.artifact)
    return await crud.create_model(db, model=model, signature=signature, artifact_size=size)


async def update_model(db: Database, name: str, update: ModelUpdate) -> ModelPublic:
    changes = update.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field not in NULLABLE:
            raise InvalidRequest(f"{field} cannot be null")
    current = await crud.get_model(db, name=name)
    if "server" in changes:
        await _check_server(db, changes["server"])
    default = changes.get("default_weights")
    if default is not None and default not in current.versions:
        available = ", ".join(current.versions) or "none yet"
        raise NotFound(f"model {name!r} has no weights version {default!r}; available: {available}")
    signature = size = None
    if "artifact" in changes:
        signature, size = await _read_artifact(db, changes["artifact"])
        await _check_weights_fit(db, name, signature)
    return await crud.update_model(
        db, name=name, changes=changes, signature=signature, artifact_size=size
    )


async def delete_model(db: Database, name: str, *, force: bool) -> None:
    model = await crud.get_model(db, name=name)
    if not force:
        server = await server_crud.find_server(db, name=model.server)
        reasons = []
        if model.versions:
            reasons.append(f"it has weights {', '.join(model.versions)}")
        if server is not None and server.kind == "ssh":
            reasons.append(f"it is placed on the remote server {server.name!r}")
        if reasons:
            raise Conflict(
                f"model {name!r} was not deleted: {'; '.join(reasons)} (delete with force=true)"
            )
    await crud.delete_model(db, name=name)


async def _read_artifact(db: Database, sha: str) -> tuple[Signature, int]:
    blob, data = await read_blob(db, sha)
    signature = await asyncio.to_thread(read_signature, data)
    return signature, blob.public.size


async def _check_server(db: Database, name: str) -> None:
    if await server_crud.find_server(db, name=name) is None:
        known = ", ".join(await server_crud.server_names(db)) or "none"
        raise NotFound(f"no server named {name!r}; known servers: {known}")


async def _check_weights_fit(db: Database, name: str, signature: Signature) -> None:
    """A new graph must still take every weight vector the model has."""
    for weights in (await weights_crud.list_weights(db, model=name)).data:
        try:
            check_against(weights.tensors, signature.initializers)
        except InvalidRequest as exc:
            raise Conflict(
                f"the new artifact does not fit weights {weights.version!r} of model {name!r} "
                f"({exc.message}): delete that version first"
            ) from None
