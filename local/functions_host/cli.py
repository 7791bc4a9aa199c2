"""`python -m local.functions_host`: run the app like `func start`, until Ctrl-C or SIGTERM."""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
import traceback
from pathlib import Path

from .app_loader import AppLoadError
from .host import FunctionsHost, HostConfig
from .settings import SettingsError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.functions_host",
                                     description="Development Functions host for a Python v2 app.")
    parser.add_argument("--app-dir", type=Path, default=Path.cwd(), help="folder with function_app.py (default: .)")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default: Host.LocalHttpPort or 7071)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--settings", type=Path, default=None, help="settings file (default: <app-dir>/local.settings.json)")
    parser.add_argument("--enforce-keys", action="store_true", help="check x-functions-key / ?code= like Azure")
    return parser.parse_args(argv)


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter("[%(asctime)s.%(msecs)03dZ] %(message)s", datefmt="%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    for noisy in ("azure", "aiohttp.access"):  # the real host does not echo storage SDK traffic
        logging.getLogger(noisy).setLevel(logging.WARNING)


def echo(text: str) -> None:
    print(text, flush=True)


async def run(host: FunctionsHost) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await host.serve(stop)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    config = HostConfig(args.app_dir, args.port, args.host, args.settings, enforce_keys=args.enforce_keys)
    host = FunctionsHost(config, echo=echo)
    try:
        host.prepare()
    except (AppLoadError, SettingsError) as error:
        print(f"Error: {error}", file=sys.stderr)
        traceback.print_exception(error.__cause__ or error, file=sys.stderr)
        return 1
    try:
        asyncio.run(run(host))
    except OSError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    echo("Host stopped.")
    return 0
