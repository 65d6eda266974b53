"""What one REPL or ``mer exec`` run holds: settings, the config-change flag, and its clients.

Reads go to the DAL with ``MER_TOKEN`` (or the admin token when only that is set); registry
changes with ``MER_ADMIN_TOKEN``, and only when the run was started with
``--allow-config-changes``. Tokens come from the environment or ``.env``, never a command line.
Clients open on first use and close with the session.
"""

from __future__ import annotations

import getpass
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Self

from mer_core.dal_client import DalClient
from mer_core.oip_client import OipClient
from mer_core.settings import ReplSettings
from pydantic import SecretStr
from rich.console import Console

from mer_repl.problems import ChangesNotAllowed, NotConfigured

FLAG = "--allow-config-changes"


class Session:
    def __init__(
        self,
        settings: ReplSettings,
        *,
        allow_changes: bool = False,
        console: Console | None = None,
    ) -> None:
        self.settings = settings
        self.allow_changes = allow_changes
        self.console = console or Console(stderr=True)
        """Where progress bars go (stderr, so ``--output json`` keeps stdout to itself)."""
        self.caller = f"mer:{_user()}"
        self._stack = AsyncExitStack()
        self._reader: DalClient | None = None
        self._admin: DalClient | None = None
        self._worker: OipClient | None = None

    async def __aenter__(self) -> Self:
        await self._stack.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._reader = self._admin = self._worker = None
        await self._stack.__aexit__(exc_type, exc, tb)

    # --- permission checks ---------------------------------------------------------------------

    def check_may_change(self, command: str) -> None:
        """Refuse a registry change unless allowed by the flag and backed by the admin token."""
        if not self.allow_changes:
            raise ChangesNotAllowed(
                f"{command!r} changes the configuration; start mer with {FLAG} to allow it"
            )
        if self.settings.admin_token is None:
            raise NotConfigured(
                f"{command!r} needs the admin token, but none is configured: set MER_ADMIN_TOKEN "
                "in the environment or in .env (never on the command line)"
            )

    def read_token(self) -> SecretStr:
        """The token for reads and for workers: ``MER_TOKEN``, else the admin token."""
        token = self.settings.token or self.settings.admin_token
        if token is None:
            raise NotConfigured(
                "no token configured: set MER_TOKEN in the environment or in .env "
                "(make setup writes one)"
            )
        return token

    # --- clients -------------------------------------------------------------------------------

    async def dal(self) -> DalClient:
        """The DAL client for reads."""
        if self._reader is None:
            client = DalClient(self.settings.dal_url, self.read_token(), caller=self.caller)
            self._reader = await self._stack.enter_async_context(client)
        return self._reader

    async def admin(self) -> DalClient:
        """The DAL client for changes; only after ``check_may_change`` passed."""
        if self._admin is None:
            token = self.settings.admin_token
            if token is None or not self.allow_changes:
                raise ChangesNotAllowed(f"configuration changes need {FLAG} and MER_ADMIN_TOKEN")
            client = DalClient(self.settings.dal_url, token, caller=self.caller, timeout=60.0)
            self._admin = await self._stack.enter_async_context(client)
        return self._admin

    async def worker(self) -> OipClient:
        if self._worker is None:
            client = OipClient(self.settings.worker_url, self.read_token(), caller=self.caller)
            self._worker = await self._stack.enter_async_context(client)
        return self._worker


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"
