"""One worker's components, built from its settings, started and stopped together.

``Worker`` is the whole core without HTTP: tests drive ``worker.dataplane`` and
``worker.control`` directly. Stopping happens after the HTTP server finished its requests:
batchers first, then the access log (so the last rows are flushed or spooled), then the rest.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor

from mer_core.dal_client import DalClient
from mer_core.errors import MerError
from mer_core.settings import WorkerSettings

from mer_meal.access_log import AccessLogger, AccessLogSink
from mer_meal.blobs import BlobCache
from mer_meal.control import Control
from mer_meal.dataplane import Dataplane
from mer_meal.log_sink import DalLogSink
from mer_meal.placement import RemoteExecutor
from mer_meal.repository import ModelRepository, Registry
from mer_meal.sessions import SessionCache
from mer_meal.spool import Spool
from mer_meal.stats import Stats, metrics_registry
from mer_meal.targets import Targets

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        settings: WorkerSettings,
        *,
        registry: Registry | None = None,
        log_sink: AccessLogSink | None = None,
        remote: RemoteExecutor | None = None,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        """``executor`` runs ``session.run`` (default: a pool of its own)."""
        self.settings = settings
        self._dal: DalClient | None = None
        if registry is None:
            self._dal = DalClient(
                settings.dal_url, settings.token, caller=f"mer-meal@{settings.server_name}"
            )
            registry = self._dal
        self.registry = registry
        self._own_sink: DalLogSink | None = None
        if log_sink is None:
            log_sink = self._own_sink = DalLogSink(settings.dal_url, settings.token)
        self.remote = remote
        self.blobs = BlobCache(registry, settings.cache_dir)
        self.repo = ModelRepository(registry, settings.config_refresh_s)
        self.sessions = SessionCache(settings.session_memory_budget_mb * 1024 * 1024)
        self.targets = Targets(
            self.repo,
            self.sessions,
            self.blobs,
            intra_op_threads=settings.intra_op_threads,
            inter_op_threads=settings.inter_op_threads,
        )
        self.stats = Stats()
        spool = Spool(settings.spool_dir / f"access-log-{settings.server_name}.jsonl")
        self.access_log = AccessLogger(
            log_sink,
            server=settings.server_name,
            spool=spool,
            flush_s=settings.access_log_flush_ms / 1000,
            enabled=settings.access_log_enabled,
        )
        self.executor = executor or ThreadPoolExecutor(
            max_workers=min(32, (os.cpu_count() or 1) + 4), thread_name_prefix="mer-run"
        )
        self.dataplane = Dataplane(
            server_name=settings.server_name,
            repo=self.repo,
            targets=self.targets,
            stats=self.stats,
            access_log=self.access_log,
            executor=self.executor,
            remote=remote,
            request_timeout_s=settings.request_timeout_s,
        )
        self.sessions.on_evict = self.dataplane.session_evicted
        self.metrics = metrics_registry(
            self.stats,
            {
                "mer_sessions_loaded": ("Sessions in the cache.", lambda: len(self.sessions)),
                "mer_session_cache_bytes": (
                    "Estimated bytes of the cached sessions.",
                    lambda: self.sessions.used_bytes,
                ),
                "mer_access_log_pending_rows": (
                    "Access-log rows waiting to be written.",
                    lambda: self.access_log.pending,
                ),
                "mer_access_log_spooled_rows": (
                    "Access-log rows in the spool, waiting for the DAL.",
                    lambda: self.access_log.spool.rows,
                ),
            },
        )
        self.control = Control(
            server_name=settings.server_name,
            repo=self.repo,
            targets=self.targets,
            sessions=self.sessions,
            remote_enabled=remote is not None,
        )

    async def start(self) -> None:
        if self.remote is not None:
            await self.remote.start()
        try:
            await self.repo.refresh()
        except MerError as exc:
            log.warning("the DAL at %s does not answer yet: %s", self.settings.dal_url, exc.message)
        self.repo.start()
        self.access_log.start()

    async def stop(self) -> None:
        await self.repo.stop()
        await self.dataplane.stop()
        await self.access_log.stop()
        await self.sessions.stop()
        await self.blobs.stop()
        if self.remote is not None:
            await self.remote.stop()
        await asyncio.to_thread(self.executor.shutdown, wait=True, cancel_futures=True)
        if self._own_sink is not None:
            await self._own_sink.aclose()
        if self._dal is not None:
            await self._dal.aclose()
