"""``mer-dal``: serve the DAL with the settings of the environment and ``.env``.

It refuses to start, with one line on stderr and exit status 2, without both tokens, or when the
database is busy (another process holds the embedded directory), unreachable or not migrated.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from types import FrameType
from typing import NoReturn

import uvicorn
from mer_core.errors import MerError
from mer_core.settings import DalSettings
from pydantic import ValidationError

from mer_dal.app import create_app
from mer_dal.db import Database

EXIT_REFUSED = 2
_MISSING_SETTING = (
    "mer-dal: {missing} not set: export it or put it in .env "
    "(`make setup` writes a .env with fresh random tokens)"
)


# The embedded engine caches every value it reads, up to a cap that defaults to far more than a
# DAL should hold: a 200 MB blob read once would stay resident. Bound it unless set already.
ENGINE_VALUE_CACHE = ("SURREAL_SURREALKV_MAX_VALUE_CACHE_SIZE", str(64 * 1024 * 1024))


def main() -> None:
    os.environ.setdefault(*ENGINE_VALUE_CACHE)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = DalSettings()
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        _refuse(f"mer-dal: bad setting {where}: {error['msg']}")
    missing = [
        name
        for name, value in (
            ("MER_TOKEN", settings.token),
            ("MER_ADMIN_TOKEN", settings.admin_token),
        )
        if value is None or not value.get_secret_value()
    ]
    if missing:
        _refuse(_MISSING_SETTING.format(missing=" and ".join(missing)))
    try:
        asyncio.run(_serve(settings))
    except MerError as exc:
        _refuse(f"mer-dal: {exc.message}")
    except KeyboardInterrupt:
        pass


async def _serve(settings: DalSettings) -> None:
    database = await Database.open(settings)
    try:
        app = create_app(settings, database=database)
    except BaseException:
        await database.aclose()
        raise
    # uvicorn re-raises the SIGTERM it stopped on once it has shut down; by then the database is
    # closed, so that is a clean stop (exit 0), not a death by signal.
    signal.signal(signal.SIGTERM, _stopped)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None, proxy_headers=False
    )
    await uvicorn.Server(config).serve()


def _stopped(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _refuse(message: str) -> NoReturn:
    print(message, file=sys.stderr)
    raise SystemExit(EXIT_REFUSED)
