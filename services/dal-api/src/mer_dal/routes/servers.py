"""``/servers``: the machines that run models."""

from __future__ import annotations

from fastapi import APIRouter, Response
from mer_core.schemas.registry import ServerCreate, ServerPublic, ServersPublic, ServerUpdate

from mer_dal.crud import servers as crud
from mer_dal.deps import Db, Force, ServerName
from mer_dal.registry import servers as registry

router = APIRouter(prefix="/servers", tags=["servers"])


@router.get("")
async def list_servers(db: Db) -> ServersPublic:
    return await crud.list_servers(db)


@router.post("", status_code=201)
async def create_server(db: Db, server: ServerCreate) -> ServerPublic:
    return await registry.create_server(db, server)


@router.get("/{name}")
async def get_server(db: Db, name: ServerName) -> ServerPublic:
    return await crud.get_server(db, name=name)


@router.patch("/{name}")
async def update_server(db: Db, name: ServerName, update: ServerUpdate) -> ServerPublic:
    return await registry.update_server(db, name, update)


@router.delete("/{name}", status_code=204)
async def delete_server(db: Db, name: ServerName, force: Force = False) -> Response:
    await registry.delete_server(db, name, force=force)
    return Response(status_code=204)
