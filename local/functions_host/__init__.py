"""Development Functions host: runs an unchanged Python v2 `function_app.py` like `func start`.

    python -m local.functions_host [--app-dir DIR] [--port 7071] [--settings FILE] [--enforce-keys]

or, in-process: `host = start_host(app_dir, port=0, environ={...})`; `host.base_url`; `host.stop()`.
"""
from .app_loader import AppLoadError
from .host import FunctionsHost, HostConfig, start_host
from .settings import SettingsError

__all__ = ["AppLoadError", "FunctionsHost", "HostConfig", "SettingsError", "start_host"]
