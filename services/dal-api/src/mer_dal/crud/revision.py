"""The registry's global revision counter (``meta:registry``), which workers poll."""

from __future__ import annotations

from mer_dal.db import Database

BUMP = "UPSERT meta:registry SET revision += 1, updated_at = time::now() RETURN NONE;"
"""The statement every registry write runs inside its transaction."""


async def get_revision(db: Database) -> int:
    """The current revision: grows by one on every registry write."""
    [value] = await db.query("SELECT VALUE revision FROM ONLY meta:registry")
    return int(value) if isinstance(value, int) else 0
