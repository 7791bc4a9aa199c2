"""Import the app's script and index its functions with azure-functions' own get_functions()."""
from __future__ import annotations

import importlib
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path

import azure.functions as func

DEFAULT_SCRIPT = "function_app.py"


class AppLoadError(RuntimeError):
    """The app could not be imported or indexed; the message carries the cause."""


@dataclass
class FunctionInfo:
    """One indexed function: its trigger binding and what the invoker needs."""
    name: str
    trigger: object  # azure.functions.decorators trigger (HttpTrigger, QueueTrigger, TimerTrigger, ...)
    user_function: object
    output_bindings: list = field(default_factory=list)
    retry: dict | None = None

    @property
    def trigger_type(self) -> str:
        return self.trigger.type

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.user_function)


@dataclass
class LoadedApp:
    module: object
    functions: list[FunctionInfo]
    app_dir: Path
    own_modules: list[str] = field(default_factory=list)

    def function(self, name: str) -> FunctionInfo | None:
        return next((f for f in self.functions if f.name.lower() == name.lower()), None)


def load_app(app_dir: Path, script_name: str | None = None) -> LoadedApp:
    """Import `function_app.py` (or PYTHON_SCRIPT_FILE_NAME) from app_dir, fresh, and index it."""
    script = app_dir / (script_name or DEFAULT_SCRIPT)
    if not script.exists():
        raise AppLoadError(f"{script} does not exist (is --app-dir right?)")
    modules_before = set(sys.modules)
    module = _import_fresh(app_dir, script.stem)
    own_modules = [name for name in sys.modules if name not in modules_before
                   and str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(app_dir))]
    register = _single_register(module, script)
    try:
        functions = register.get_functions()  # once only: a second call raises in azure-functions
    except Exception as error:
        raise AppLoadError(f"indexing {script.name} failed: {error}") from error
    return LoadedApp(module, [_function_info(f) for f in functions], app_dir, own_modules)


def _import_fresh(app_dir: Path, module_name: str):
    """Import with app_dir first on sys.path and no cached module, so each host gets its own app."""
    sys.path.insert(0, str(app_dir))
    sys.modules.pop(module_name, None)
    importlib.invalidate_caches()
    try:
        return importlib.import_module(module_name)
    except BaseException as error:
        sys.path.remove(str(app_dir))
        raise AppLoadError(f"importing {app_dir / (module_name + '.py')} failed: {error!r}") from error


def unload_app(app: LoadedApp) -> None:
    """Forget the modules the app's import added, so the next host imports them afresh."""
    if str(app.app_dir) in sys.path:
        sys.path.remove(str(app.app_dir))
    for name in app.own_modules:
        sys.modules.pop(name, None)


def _single_register(module, script: Path):
    registers = [v for v in vars(module).values() if isinstance(v, func.FunctionRegister)]
    if len(registers) != 1:
        found = "no" if not registers else f"{len(registers)}"
        raise AppLoadError(f"{script.name} must define exactly one FunctionApp at module level; found {found}")
    return registers[0]


def _function_info(function) -> FunctionInfo:
    trigger = function.get_trigger()
    outputs = [b for b in function.get_bindings() if b is not trigger and _is_output(b)]
    return FunctionInfo(
        name=function.get_function_name(),
        trigger=trigger,
        user_function=function.get_user_function(),
        output_bindings=[b for b in outputs if b.type != "http"],
        retry=function.get_settings_dict("retry_policy"),
    )


def _is_output(binding) -> bool:
    direction = getattr(binding, "direction", None)
    return getattr(direction, "value", direction) == 1
