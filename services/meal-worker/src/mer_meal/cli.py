"""``mer-meal``: run a worker with uvicorn (uvloop and httptools where installed).

Every setting comes from ``MER_*`` environment variables or ``.env``; the token never from the
command line. Without ``MER_TOKEN`` the worker refuses to start (exit 2).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

import uvicorn
from mer_core.settings import WorkerSettings
from pydantic import ValidationError

from mer_meal.app import MissingToken, create_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mer-meal",
        description="MER worker: an Open Inference Protocol server over onnxruntime. "
        "Settings come from MER_* environment variables or .env.",
    )
    parser.add_argument("--host", help="bind address (default MER_WORKER_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default MER_WORKER_PORT or 8701)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # One line per DAL call (the refresher polls every second) drowns what matters.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        settings = WorkerSettings()
        app = create_app(settings)
    except MissingToken as exc:
        print(f"mer-meal: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"mer-meal: bad settings: {exc}", file=sys.stderr)
        return 2
    config = uvicorn.Config(
        app,
        host=args.host or settings.host,
        port=args.port or settings.port,
        loop="auto",
        http="auto",
        lifespan="on",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        log_level=args.log_level,
        timeout_graceful_shutdown=int(settings.request_timeout_s),
    )
    # uvicorn re-raises the SIGTERM it stopped on once everything is shut down (access logs
    # flushed or spooled): by then it is a clean stop, exit 0, not a death by signal.
    signal.signal(signal.SIGTERM, _stopped)
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


def _stopped(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
