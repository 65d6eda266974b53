"""Servers: an SSH server needs a host (or an OpenSSH alias); one in use is not deleted lightly."""

from __future__ import annotations

from mer_core.errors import Conflict, InvalidRequest
from mer_core.schemas.registry import ServerCreate, ServerPublic, ServerUpdate

from mer_dal.crud import models as model_crud
from mer_dal.crud import servers as crud
from mer_dal.db import Database

NULLABLE = {
    "ssh_host",
    "ssh_user",
    "identity_file",
    "known_hosts_file",
    "ssh_config_host",
    "remote_command",
    "remote_dir",
}


async def create_server(db: Database, server: ServerCreate) -> ServerPublic:
    _check_reachable(server.kind, server.ssh_host, server.ssh_config_host, server.name)
    return await crud.create_server(db, server=server)


async def update_server(db: Database, name: str, update: ServerUpdate) -> ServerPublic:
    changes = update.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field not in NULLABLE:
            raise InvalidRequest(f"{field} cannot be null")
    current = await crud.get_server(db, name=name)
    merged = current.model_copy(update=changes)
    _check_reachable(merged.kind, merged.ssh_host, merged.ssh_config_host, name)
    return await crud.update_server(db, name=name, changes=changes)


async def delete_server(db: Database, name: str, *, force: bool) -> None:
    await crud.get_server(db, name=name)
    placed = await model_crud.models_on_server(db, server=name)
    if placed and not force:
        raise Conflict(
            f"server {name!r} runs models {', '.join(placed)}: move them first, "
            "or delete with force=true"
        )
    await crud.delete_server(db, name=name)


def _check_reachable(kind: str, host: str | None, alias: str | None, name: str) -> None:
    if kind == "ssh" and not host and not alias:
        raise InvalidRequest(f"ssh server {name!r} needs ssh_host or ssh_config_host")
