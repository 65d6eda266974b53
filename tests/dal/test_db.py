"""Opening the MER-DB: the app's lifespan, the directory lock, refusing unmigrated databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from mer_core.dblock import DatabaseInUse
from mer_core.errors import Unauthorized, Unavailable
from mer_core.settings import DalSettings
from mer_dal.app import create_app
from mer_dal.crud import revision
from mer_dal.db import Database
from pydantic import SecretStr

from tests.support.procs import Tokens, base_env, migrate


def _settings(db_url: str, tokens: Tokens) -> DalSettings:
    return DalSettings(
        db_url=db_url, token=SecretStr(tokens.token), admin_token=SecretStr(tokens.admin)
    )


async def test_lifespan_holds_the_database_and_lets_go(tmp_path: Path, tokens: Tokens) -> None:
    url = f"surrealkv://{tmp_path / 'db'}"
    done = migrate(url, base_env(tmp_path, tokens))
    assert done.returncode == 0, done.stderr
    app = create_app(_settings(url, tokens))
    async with app.router.lifespan_context(app):
        assert await revision.get_revision(app.state.db) == 0
        with pytest.raises(DatabaseInUse, match=r"is in use by another process \(mer-dal pid"):
            await Database.open(_settings(url, tokens))
    again = await Database.open(_settings(url, tokens))
    try:
        assert await again.check_migrated() >= 4
    finally:
        await again.aclose()


async def test_unmigrated_database_is_refused(tokens: Tokens) -> None:
    app = create_app(_settings("mem://", tokens))
    with pytest.raises(Unavailable, match="is not migrated: run mer-migrate up first"):
        async with app.router.lifespan_context(app):
            pass


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:8000", "use ws://HOST:PORT"),
        ("postgres://x", "is not one of surrealkv://DIR, mem:// or ws://HOST:PORT"),
    ],
)
async def test_bad_database_urls(url: str, message: str, tokens: Tokens) -> None:
    with pytest.raises(Unavailable, match=message):
        await Database.open(_settings(url, tokens))


def test_app_needs_both_tokens() -> None:
    with pytest.raises(Unauthorized, match="MER_TOKEN and MER_ADMIN_TOKEN"):
        create_app(DalSettings(db_url="mem://", token=SecretStr("t")))
