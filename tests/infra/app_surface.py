"""What the app's code reads and uses, derived from the code itself (never from a list kept here).

- settings: the field aliases of shared.settings.Settings, `%Name%` references in timer
  schedules, and the identity-based settings behind every binding's `connection`;
- storage: shared.storage_names plus every queue/table/container a binding names (and the
  `-poison` queue the host creates for each queue trigger);
- SDK calls: every use of a known Azure SDK client method name in the app's source, found with
  `ast`.
"""
from __future__ import annotations

import ast
import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The app's own source; local/, tests/ and bench/ never run in Azure.
SOURCE_PATHS = ("function_app.py", "jobs_api", "dispatcher", "status_collector", "retention", "shared")
DEFAULT_STORAGE_CONNECTION = "AzureWebJobsStorage"
STORAGE_BINDINGS = {"queueTrigger", "queue", "blobTrigger", "blob", "table"}


@lru_cache(maxsize=1)
def functions() -> tuple:
    """`app.get_functions()` of a private copy of function_app.py.

    get_functions() may run only once per FunctionApp object, so loading our own copy keeps
    these tests from disturbing (or being disturbed by) any other test that introspects the app.
    """
    spec = importlib.util.spec_from_file_location("_infra_function_app", ROOT / "function_app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import azure.functions as func

    apps = [value for value in vars(module).values() if isinstance(value, func.FunctionRegister)]
    assert len(apps) == 1, "function_app.py must define exactly one FunctionApp"
    return tuple(apps[0].get_functions())


def bindings() -> list:
    return [binding for function in functions() for binding in function.get_bindings()]


# ------------------------------------------------------------------ settings

def settings_fields() -> dict:
    """App setting name -> pydantic FieldInfo, for every field of Settings."""
    from shared.settings import Settings

    return {(field.alias or field.validation_alias or name): field for name, field in Settings.model_fields.items()}


def schedule_settings() -> set[str]:
    return {name for binding in bindings() if binding.type == "timerTrigger"
            for name in re.findall(r"%([^%]+)%", str(getattr(binding, "schedule", "") or ""))}


def binding_connections() -> set[str]:
    """Connection names of storage bindings ('' or None means AzureWebJobsStorage)."""
    return {getattr(binding, "connection", None) or DEFAULT_STORAGE_CONNECTION
            for binding in bindings() if binding.type in STORAGE_BINDINGS}


# ------------------------------------------------------------------ storage

def queues_used() -> set[str]:
    from shared import storage_names

    queues = set(storage_names.QUEUES)
    for binding in bindings():
        if binding.type == "queueTrigger":
            queues |= {binding.queue_name, f"{binding.queue_name}-poison"}
        elif binding.type == "queue":
            queues.add(binding.queue_name)
    return queues


def tables_used() -> set[str]:
    from shared import storage_names

    return set(storage_names.TABLES) | {binding.table_name for binding in bindings() if binding.type == "table"}


def containers_used() -> set[str]:
    from shared import storage_names

    return set(storage_names.BLOB_CONTAINERS) | {str(binding.path).split("/")[0] for binding in bindings()
                                                 if binding.type in ("blob", "blobTrigger")}


# ------------------------------------------------------------------ SDK calls

@dataclass(frozen=True)
class SdkUse:
    path: str
    line: int
    method: str


def source_files(root: Path = ROOT) -> list[Path]:
    files = []
    for entry in SOURCE_PATHS:
        path = root / entry
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += sorted(path.rglob("*.py"))
    return files


def sdk_uses(source: str, path: str, method_names: frozenset[str]) -> list[SdkUse]:
    """Every `something.<sdk method>` in `source`, called or passed around."""
    return [SdkUse(path, node.lineno, node.attr) for node in ast.walk(ast.parse(source, filename=path))
            if isinstance(node, ast.Attribute) and node.attr in method_names]


def app_sdk_uses(method_names: frozenset[str], root: Path = ROOT) -> list[SdkUse]:
    uses = []
    for path in source_files(root):
        uses += sdk_uses(path.read_text(), str(path.relative_to(root)), method_names)
    return uses
