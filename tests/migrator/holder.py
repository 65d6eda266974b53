"""Run as a process: lock an embedded database like the DAL does, open it, and hold it.

python holder.py DB_URL ROLE READY_FILE SECONDS
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from mer_core.dblock import hold_embedded_db
from surrealdb import AsyncSurreal


async def hold(db_url: str, role: str, ready: Path, seconds: float) -> None:
    with hold_embedded_db(db_url, role=role):
        db: Any = AsyncSurreal(db_url)
        await db.connect()
        await db.use("mer", "mer")
        ready.write_text("held")
        time.sleep(seconds)
        await db.close()


if __name__ == "__main__":
    asyncio.run(hold(sys.argv[1], sys.argv[2], Path(sys.argv[3]), float(sys.argv[4])))
