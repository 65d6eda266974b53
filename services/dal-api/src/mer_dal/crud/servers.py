"""SurrealQL of the ``server`` table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mer_core.errors import Conflict, NotFound
from mer_core.schemas.registry import ServerCreate, ServerPublic, ServersPublic

from mer_dal.crud.revision import BUMP
from mer_dal.db import Database


async def list_servers(db: Database) -> ServersPublic:
    [rows] = await db.query("SELECT * FROM server ORDER BY name")
    data = [ServerPublic.model_validate(row) for row in rows]
    return ServersPublic(data=data, count=len(data))


async def find_server(db: Database, *, name: str) -> ServerPublic | None:
    [row] = await db.query("SELECT * FROM ONLY type::thing('server', $name)", {"name": name})
    return ServerPublic.model_validate(row) if row else None


async def get_server(db: Database, *, name: str) -> ServerPublic:
    server = await find_server(db, name=name)
    if server is None:
        raise NotFound(f"no server named {name!r}")
    return server


async def server_names(db: Database) -> list[str]:
    [names] = await db.query("SELECT VALUE name FROM server ORDER BY name")
    return [str(n) for n in names]


async def create_server(db: Database, *, server: ServerCreate) -> ServerPublic:
    sql = "CREATE ONLY type::thing('server', $name) CONTENT $content RETURN AFTER;" + BUMP
    content = server.model_dump(exclude_none=True)
    try:
        row, _ = await db.transaction(sql, {"name": server.name, "content": content})
    except Conflict:
        raise Conflict(f"server {server.name!r} exists already") from None
    return ServerPublic.model_validate(row)


async def update_server(db: Database, *, name: str, changes: dict[str, Any]) -> ServerPublic:
    """Merge ``changes`` (``None`` removes an optional field) into the server ``name``."""
    sql = "UPDATE ONLY type::thing('server', $name) MERGE $changes RETURN AFTER;" + BUMP
    changes = {**changes, "updated_at": datetime.now(UTC)}
    try:
        row, _ = await db.transaction(sql, {"name": name, "changes": changes})
    except NotFound:
        raise NotFound(f"no server named {name!r}") from None
    return ServerPublic.model_validate(row)


async def delete_server(db: Database, *, name: str) -> None:
    sql = "DELETE ONLY type::thing('server', $name) RETURN BEFORE;" + BUMP
    try:
        await db.transaction(sql, {"name": name})
    except NotFound:
        raise NotFound(f"no server named {name!r}") from None
