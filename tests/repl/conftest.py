"""Shared pieces of the driver's tests: a registry, sessions with and without tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mer_core.settings import ReplSettings
from mer_repl.commands import build_registry
from mer_repl.registry import Registry
from mer_repl.session import Session
from pydantic import SecretStr

UNREACHABLE = "http://127.0.0.1:9"
"""Port 9 (discard) on loopback: nothing listens there, connections are refused at once."""


@pytest.fixture
def registry() -> Registry:
    return build_registry()


def make_settings(*, token: str | None = "t", admin: str | None = None) -> ReplSettings:
    return ReplSettings(
        dal_url=UNREACHABLE,
        worker_url=UNREACHABLE,
        token=SecretStr(token) if token else None,
        admin_token=SecretStr(admin) if admin else None,
    )


@pytest.fixture
async def session() -> AsyncIterator[Session]:
    async with Session(make_settings()) as s:
        yield s
