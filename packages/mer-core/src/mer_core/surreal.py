"""Open a SurrealDB connection from ``DatabaseSettings``: for the migrator and the DAL alone.

Those two services own the MER-DB and depend on the ``surrealdb`` SDK; mer-core does not, so it
is imported when a connection is opened. Errors enter MER here as ``Unavailable``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mer_core.errors import Unavailable
from mer_core.settings import DatabaseSettings

CONNECT_TIMEOUT_S = 10.0


async def connect(settings: DatabaseSettings, timeout_s: float = CONNECT_TIMEOUT_S) -> Any:
    """A connection to ``settings.db_url``, signed in (when a user is set) and on mer/mer."""
    from surrealdb import AsyncSurreal

    url = settings.db_url
    try:
        conn: Any = AsyncSurreal(url)
        await asyncio.wait_for(conn.connect(), timeout_s)
        if settings.db_user is not None and settings.db_password is not None:
            await conn.signin(
                {"username": settings.db_user, "password": settings.db_password.get_secret_value()}
            )
        await conn.use(settings.db_namespace, settings.db_database)
    except TimeoutError as exc:
        raise Unavailable(
            f"cannot reach the database at {url}: no answer in {timeout_s:g}s"
        ) from exc
    except (OSError, RuntimeError, ValueError) as exc:
        raise Unavailable(f"cannot reach the database at {url}: {_headline(exc)}") from exc
    except Exception as exc:  # the SDK raises bare Exception subclasses for refused sign-ins
        raise Unavailable(f"cannot open the database at {url}: {_headline(exc)}") from exc
    return conn


def _headline(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
