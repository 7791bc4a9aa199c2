"""The host: applies settings, loads the app, serves HTTP, runs queue listeners and timers."""
from __future__ import annotations

import asyncio
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from .admin import AdminApi
from .app_loader import FunctionInfo, LoadedApp, load_app, unload_app
from .http_server import HttpFrontEnd, build_routes, route_template_text
from .invoker import Invoker
from .keys import HostKeys
from .outputs import OutputWriter
from .queue_listener import QueueListener, QueueOptions, QueueWatcher
from .settings import (SettingsError, apply_settings, extension_options, read_host_json, read_local_settings,
                       resolve_connection, with_overrides)
from .timer_scheduler import ScheduleMonitor, TimerScheduler, default_host_id, schedule_of, utc_now

log = logging.getLogger("local.functions_host")

DEFAULT_PORT = 7071
SUPPORTED_TRIGGERS = ("httpTrigger", "queueTrigger", "timerTrigger")


@dataclass
class HostConfig:
    app_dir: Path
    port: int | None = None  # None: Host.LocalHttpPort of local.settings.json, else 7071
    host: str = "127.0.0.1"
    settings_file: Path | None = None  # default: <app_dir>/local.settings.json
    environ: dict[str, str] = field(default_factory=dict)  # set before the settings file, so they win
    enforce_keys: bool = False
    drain_timeout: float = 10.0  # how long stopping waits for invocations in flight


class FunctionsHost:
    def __init__(self, config: HostConfig, echo=None) -> None:
        self.config = config
        self.app_dir = config.app_dir.resolve()
        self.echo = echo or log.info  # where the function list and the ready line go
        self.base_url = ""
        self.app: LoadedApp | None = None
        self._env_before: dict[str, str] | None = None
        self._tasks: list[asyncio.Task] = []
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._failure: BaseException | None = None

    # --- preparation: settings, then the app import (sync, before serving) ---

    def prepare(self) -> None:
        self._env_before = dict(os.environ)
        os.environ.update(self.config.environ)
        settings = read_local_settings(self.config.settings_file or self.app_dir / "local.settings.json")
        for name in apply_settings(settings.values, os.environ):
            log.info("Skipping '%s' from local settings as it's already defined in current "
                     "environment variables.", name)
        self.port = self.config.port if self.config.port is not None else settings.http_port or DEFAULT_PORT
        self.host_json = with_overrides(read_host_json(self.app_dir), os.environ)
        self.queue_options = QueueOptions.from_host_json(extension_options(self.host_json, "queues"))
        self.app = load_app(self.app_dir, os.environ.get("PYTHON_SCRIPT_FILE_NAME"))

    def restore(self) -> None:
        """Undo prepare(): the environment and the app's modules (for in-process use)."""
        if self._env_before is None:
            return
        if self.app is not None:
            unload_app(self.app)
        for name in set(os.environ) - set(self._env_before):
            del os.environ[name]
        os.environ.update(self._env_before)
        self._env_before = None

    # --- serving ---

    async def serve(self, stop: asyncio.Event) -> None:
        await self._start_components()
        try:
            self._started.set()
            await stop.wait()
        finally:
            await self._shutdown()

    async def _start_components(self) -> None:
        self.watcher = QueueWatcher()
        thread_count = int(os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT") or 0) or None
        self.invoker = Invoker(self.app_dir, thread_count, on_completed=self.watcher.notify_all)
        self.outputs = OutputWriter(os.environ, self.watcher, self.queue_options.message_encoding)
        self.host_id = default_host_id(self.app_dir, os.environ)
        self.admin = AdminApi(self.app, self.invoker, self.outputs.write, self.host_id)
        self.listeners = self._queue_listeners()
        self.timers = self._timer_schedulers()
        self._report_unsupported()
        await self._start_http()
        self.echo(self._function_list())
        self._tasks = [asyncio.create_task(worker.run()) for worker in [*self.listeners, *self.timers]]
        for task in self._tasks:
            task.add_done_callback(_report_crash)
        self.echo(f"Host started: {self.base_url}")

    async def _start_http(self) -> None:
        keys = HostKeys.from_settings(os.environ) if self.config.enforce_keys else None
        if keys is not None and keys.master_generated:
            self.echo(f"Keys are enforced; generated master key: {keys.master}")
        prefix = self.route_prefix
        http_functions = self._usable(self._of_type("httpTrigger"), lambda f: build_routes([f], prefix))
        routes = build_routes(http_functions, prefix)
        front = HttpFrontEnd(routes, self.invoker, self.admin, keys, self.outputs.write)
        self._runner = web.AppRunner(front.web_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.port)
        try:
            await site.start()
        except OSError as error:
            await self._runner.cleanup()
            self.invoker.close()
            raise OSError(f"cannot listen on {self.config.host}:{self.port} (is the port taken?): {error}") from error
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"

    @property
    def route_prefix(self) -> str:
        return str(extension_options(self.host_json, "http").get("routeprefix", "api"))

    def _of_type(self, trigger_type: str) -> list[FunctionInfo]:
        return [f for f in self.app.functions if f.trigger_type == trigger_type]

    def _usable(self, functions: list[FunctionInfo], check) -> list[FunctionInfo]:
        """Functions whose set-up passes `check`; the others are reported and left out, as the
        host puts a function in error but keeps running the rest."""
        usable = []
        for function in functions:
            try:
                check(function)
                usable.append(function)
            except Exception as error:
                log.error("The '%s' function is in error: %s", function.name, error)
        return usable

    def _report_unsupported(self) -> None:
        for function in self.app.functions:
            if function.trigger_type not in SUPPORTED_TRIGGERS:
                log.warning("The dev host does not run %s triggers: '%s' runs only through "
                            "POST /admin/functions/%s", function.trigger_type, function.name, function.name)

    def _queue_listeners(self) -> list[QueueListener]:
        listeners = []
        for function in self._of_type("queueTrigger"):
            try:
                connection = resolve_connection(function.trigger.connection, os.environ)
                listeners.append(QueueListener(function, connection, self.queue_options, self.invoker,
                                               self.watcher, self.outputs.write))
            except Exception as error:
                log.error("The '%s' function is in error: %s", function.name, error)
        return listeners

    def _timer_schedulers(self) -> list[TimerScheduler]:
        schedulers, monitor = [], None
        for function in self._of_type("timerTrigger"):
            try:
                schedule = schedule_of(function, os.environ)
                if _uses_monitor(function, schedule) and monitor is None:
                    monitor = self._schedule_monitor()
                use = monitor if _uses_monitor(function, schedule) else None
                schedulers.append(TimerScheduler(function, schedule, self.invoker, use))
            except Exception as error:
                log.error("The '%s' function is in error: %s", function.name, error)
        self._monitor = monitor
        return schedulers

    def _schedule_monitor(self) -> ScheduleMonitor:
        try:
            return ScheduleMonitor(resolve_connection("AzureWebJobsStorage", os.environ), self.host_id)
        except SettingsError as error:
            raise SettingsError(f"useMonitor needs storage: {error}") from error

    def _function_list(self) -> str:
        lines = ["Functions:", ""]
        for function in self.app.functions:
            if function.trigger_type == "httpTrigger":
                methods = function.trigger.methods
                shown = f"[{','.join(str(getattr(m, 'value', m)) for m in methods)}] " if methods else ""
                path = route_template_text(function, self.route_prefix)
                lines.append(f"        {function.name}: {shown}{self.base_url}/{path}")
            else:
                lines.append(f"        {function.name}: {function.trigger_type}")
            lines.append("")
        return "\n".join(lines)

    async def _shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        pending = [worker.drain(self.config.drain_timeout) for worker in [*self.listeners, *self.timers]]
        await asyncio.gather(*pending, return_exceptions=True)
        if self.admin.running:
            await asyncio.wait(self.admin.running, timeout=self.config.drain_timeout)
        await self._runner.cleanup()
        await self.outputs.close()
        if self._monitor is not None:
            await self._monitor.close()
        self.invoker.close()

    # --- running on a background thread (tests, the local stack) ---

    def start(self, timeout: float = 30.0) -> "FunctionsHost":
        try:
            self.prepare()
        except BaseException:
            self.restore()
            raise
        self._thread = threading.Thread(target=self._thread_main, name="functions-host", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout) or self._failure is not None:
            self.stop()
            raise RuntimeError(f"the Functions host did not start: {self._failure!r}") from self._failure
        return self

    def _thread_main(self) -> None:
        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            await self.serve(self._stop)
        try:
            asyncio.run(main())
        except BaseException as error:
            self._failure = error
            self._started.set()

    def stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=self.config.drain_timeout + 10)
        self.restore()


def _report_crash(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("A listener stopped unexpectedly", exc_info=task.exception())


def _uses_monitor(function: FunctionInfo, schedule) -> bool:
    """useMonitor, defaulting as the host does to 'schedule recurs a minute apart or more'."""
    if function.trigger.use_monitor is not None:
        return bool(function.trigger.use_monitor)
    return schedule.fires_at_most_once_a_minute(utc_now())


def start_host(app_dir, port: int = 0, environ: dict[str, str] | None = None, settings_file=None,
               enforce_keys: bool = False, host: str = "127.0.0.1", echo=None) -> FunctionsHost:
    """Start a host on a background thread; returns once it serves. Call `.stop()` when done.

    `echo` receives the function list and the ready line (default: the host's logger).
    """
    config = HostConfig(Path(app_dir), port, host, Path(settings_file) if settings_file else None,
                        dict(environ or {}), enforce_keys)
    return FunctionsHost(config, echo=echo).start()
