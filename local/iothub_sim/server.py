"""Composition root: builds the hub from a config and serves it over HTTPS with aiohttp."""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from .auth import SasVerifier
from .backend import HubBackend
from .certs import ensure_policy_key, ensure_tls_files
from .control_api import ControlApi
from .devices import LatencyDistribution
from .export_jobs import ImportExportJobs
from .faults import FaultInjector
from .fleet import default_behaviour
from .handlers import HubHandlers
from .persistence import load_state, save_state
from .routes import CONTROL_ROUTES, HUB_ROUTES, Router
from .throttling import Throttle
from .wire import Pipeline

log = logging.getLogger("iothub_sim")
POLICY_NAME = "iothubowner"
AUTOSAVE_SECONDS = 5.0


def default_state_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "iothub-sim"


@dataclass
class SimulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    fleet: str = "demo"
    seed: int = 1
    sku: str = "S1"
    units: int = 1
    state_file: Path | None = None
    state_dir: Path | None = None
    latency: str | None = None  # e.g. "uniform:5,20"; None keeps the fleet's default
    failure_probability: float | None = None


class Simulator:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.state_dir = Path(config.state_dir) if config.state_dir else default_state_dir()
        self.tls = ensure_tls_files(self.state_dir)
        self.policy_key = ensure_policy_key(self.state_dir)
        self.backend = HubBackend(config.fleet, config.seed, _behaviour(config))
        if config.state_file and Path(config.state_file).exists():
            load_state(self.backend, Path(config.state_file))
        self.throttle = Throttle(config.sku, config.units)
        self.faults = FaultInjector()
        self.jobs = ImportExportJobs(self.backend)
        self.control = ControlApi(self.backend, self.throttle, self.faults, self.jobs)
        self.pipeline = Pipeline(HubHandlers(self.backend, self.jobs), self.control, SasVerifier({POLICY_NAME: self.policy_key}),
                                 self.throttle, self.faults, Router(HUB_ROUTES), Router(CONTROL_ROUTES))
        self.control.call_counters = self.pipeline.counters
        self.port = 0
        self._runner: web.ServerRunner | None = None
        self._autosave: asyncio.Task | None = None

    @property
    def connection_string(self) -> str:
        return f"HostName=localhost:{self.port};SharedAccessKeyName={POLICY_NAME};SharedAccessKey={self.policy_key}"

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in self.config.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.config.host, self.config.port))
        self.port = sock.getsockname()[1]
        server = web.Server(self.pipeline, access_log=None)
        self._runner = web.ServerRunner(server, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock, ssl_context=self._ssl_context(), backlog=512).start()
        if self.config.state_file:
            self._autosave = asyncio.create_task(self._autosave_loop())
        log.info("IoT Hub simulator on https://localhost:%d (%d devices, sku %s)", self.port,
                 len(self.backend.devices), self.config.sku)

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.tls.cert, self.tls.key)
        return context

    async def stop(self) -> None:
        self.jobs.cancel_all()  # their writer threads read the registry through this loop, which is about to close
        if self._autosave is not None:
            self._autosave.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
        self._save_if_configured()

    async def _autosave_loop(self) -> None:
        saved = self.backend.changes
        while True:
            await asyncio.sleep(AUTOSAVE_SECONDS)
            if self.backend.changes != saved:
                saved = self.backend.changes
                self._save_if_configured()

    def _save_if_configured(self) -> None:
        if self.config.state_file:
            save_state(self.backend, Path(self.config.state_file))


def _behaviour(config: SimulatorConfig):
    behaviour = default_behaviour(config.fleet)
    changes = {}
    if config.latency is not None:
        LatencyDistribution.parse(config.latency)
        changes["latency"] = config.latency
    if config.failure_probability is not None:
        changes["failureProbability"] = config.failure_probability
    return behaviour.updated(changes)
