"""What routes receive from the app: the open database, the settings, and path parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from mer_core.schemas.registry import NAME_PATTERN
from mer_core.settings import DalSettings

from mer_dal.db import Database


def _database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _settings(request: Request) -> DalSettings:
    settings: DalSettings = request.app.state.settings
    return settings


Db = Annotated[Database, Depends(_database)]
Settings = Annotated[DalSettings, Depends(_settings)]
Force = Annotated[bool, Query(description="Delete even what is still in use.")]
ServerName = Annotated[str, Path(pattern=NAME_PATTERN, description="A server's name.")]
ModelName = Annotated[str, Path(pattern=NAME_PATTERN, description="A model's name.")]
Version = Annotated[str, Path(pattern=NAME_PATTERN, description="A weight vector's version.")]
