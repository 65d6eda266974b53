"""The gateway's SSH links, one per remote server (``link.SshLink``), made on first use.

A server whose SSH settings change in the registry gets a new link (the old one is closed); a
change of its worker address alone keeps the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from mer_core.errors import Unavailable

from mer_meal.remote.connect import SshSettings
from mer_meal.remote.link import LinkHook, LinkState, SshLink
from mer_meal.remote.target import SshTarget


class SshPool:
    """The links of a gateway, one per remote server; an edited target gets a new link."""

    def __init__(self, settings: SshSettings, hooks: Sequence[LinkHook] = ()) -> None:
        self.settings = settings
        self.hooks = list(hooks)
        self._links: dict[str, SshLink] = {}
        self._closed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        links, self._links = list(self._links.values()), {}
        await asyncio.gather(*(link.aclose() for link in links))

    def links(self) -> list[SshLink]:
        return list(self._links.values())

    async def link(self, target: SshTarget) -> SshLink:
        """The link of ``target.server``, started on first use, replaced if its target changed."""
        if self._closed:
            raise Unavailable(f"server {target.server}: the gateway is shutting down")
        link = self._links.get(target.server)
        if link is not None and link.target is target and link.state is not LinkState.CLOSED:
            return link  # the request path: the executor hands out the same target object
        if (
            link is not None
            and link.state is not LinkState.CLOSED
            and link.target.connection_key() == target.connection_key()
        ):
            if link.target != target:
                link.target = target  # e.g. a new worker port: same connection
            return link
        fresh = SshLink(target, self.settings, self.hooks)
        fresh.start()
        self._links[target.server] = fresh
        if link is not None:
            await link.aclose()
        return fresh

    async def forget(self, server: str) -> None:
        """Close the link of a server that left the registry."""
        link = self._links.pop(server, None)
        if link is not None:
            await link.aclose()
