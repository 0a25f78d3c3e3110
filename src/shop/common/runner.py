"""``python -m shop.<service>``: parse the listen address, configure logs, run uvicorn."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence

import uvicorn
from fastapi import FastAPI

from shop.common.logs import configure_logging
from shop.common.settings import Settings


def parse_args(service: str, default_port: int, argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m shop.{service}", description=f"Run the shop {service} service"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=default_port, help="TCP port (default: %(default)s)")
    parser.add_argument("--uds", metavar="PATH", help="listen on this unix socket instead of TCP")
    return parser.parse_args(argv)


def run(
    service: str,
    create_app: Callable[[Settings], FastAPI],
    default_port: int,
    argv: Sequence[str] | None = None,
) -> None:
    args = parse_args(service, default_port, argv)
    settings = Settings.from_env(service)
    configure_logging(service, settings.log_level)
    if args.uds and os.path.exists(args.uds):
        os.unlink(args.uds)  # a stale socket left by a killed process
    config = uvicorn.Config(
        create_app(settings),
        host=args.host,
        port=args.port,
        uds=args.uds,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()
