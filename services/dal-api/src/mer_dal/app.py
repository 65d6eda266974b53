"""``create_app(settings)``: the one place the DAL is assembled.

The lifespan opens the database (or adopts one the caller opened, e.g. ``mer-dal`` after
checking it with a one-line error) and closes it on shutdown. Nothing connects at import.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI
from mer_core.errors import Unauthorized
from mer_core.settings import DalSettings

from mer_dal.auth import AuthMiddleware, Tokens
from mer_dal.db import Database
from mer_dal.errors import install_error_handlers
from mer_dal.routes import access_logs, blobs, health, models, servers


def create_app(settings: DalSettings, *, database: Database | None = None) -> FastAPI:
    """The DAL app; it opens ``settings.db_url`` on startup unless handed an open ``database``,
    which it then owns and closes on shutdown."""
    if settings.token is None or settings.admin_token is None:
        raise Unauthorized("the DAL needs MER_TOKEN and MER_ADMIN_TOKEN")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database if database is not None else await Database.open(settings)
        app.state.db = db
        try:
            yield
        finally:
            await db.aclose()

    app = FastAPI(
        title="MER DAL",
        description="The registry of MER: servers, models, weight vectors, blobs, access logs.",
        version=version("mer-dal"),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(AuthMiddleware, tokens=Tokens(settings.token, settings.admin_token))
    install_error_handlers(app)
    for router in (health.router, servers.router, models.router, blobs.router, access_logs.router):
        app.include_router(router)
    return app
