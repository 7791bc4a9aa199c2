"""Settings: local.settings.json, host.json, connection names and TimeSpan values."""
from __future__ import annotations

import json
import os
import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path


class SettingsError(ValueError):
    """A settings file or a setting is missing or malformed; the message says which."""


@dataclass(frozen=True)
class LocalSettings:
    values: dict[str, str]
    http_port: int | None = None


def read_local_settings(path: Path) -> LocalSettings:
    """Read local.settings.json; a missing file gives empty settings, as `func start` allows."""
    if not path.exists():
        return LocalSettings({})
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise SettingsError(f"{path} is not valid JSON: {error}") from error
    if document.get("IsEncrypted"):
        raise SettingsError(f"{path} is encrypted (IsEncrypted=true); this host reads plain values only")
    values = {str(k): "" if v is None else str(v) for k, v in (document.get("Values") or {}).items()}
    port = (document.get("Host") or {}).get("LocalHttpPort")
    return LocalSettings(values, int(port) if port else None)


def apply_settings(values: dict[str, str], environ: MutableMapping[str, str]) -> list[str]:
    """Copy values into the environment; like `func start`, a variable already set wins.

    Returns the names that were skipped because the environment already had them.
    """
    skipped = []
    for name, value in values.items():
        if environ.get(name):
            skipped.append(name)
        else:
            environ[name] = value
    return skipped


def read_host_json(app_dir: Path) -> dict:
    path = app_dir / "host.json"
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise SettingsError(f"{path} is not valid JSON: {error}") from error


HOST_JSON_OVERRIDE = "AzureFunctionsJobHost__"


def with_overrides(host_json: dict, environ: MutableMapping[str, str]) -> dict:
    """host.json with the app settings `AzureFunctionsJobHost__<path>` applied, as the host
    does: `__` separates levels, names match ignoring case, values are strings."""
    merged = json.loads(json.dumps(host_json))
    for name, value in environ.items():
        if not name.lower().startswith(HOST_JSON_OVERRIDE.lower()):
            continue
        *parents, leaf = name[len(HOST_JSON_OVERRIDE):].split("__")
        section = merged
        for part in parents:
            key = next((existing for existing in section if existing.lower() == part.lower()), part)
            if not isinstance(section.get(key), dict):
                section[key] = {}
            section = section[key]
        section[next((existing for existing in section if existing.lower() == leaf.lower()), leaf)] = value
    return merged


def extension_options(host_json: dict, extension: str) -> dict:
    """`extensions.<extension>` with keys lower-cased (.NET configuration ignores case)."""
    extensions = _ignoring_case(host_json, "extensions") or {}
    return {str(key).lower(): value for key, value in (_ignoring_case(extensions, extension) or {}).items()}


def _ignoring_case(section: dict, name: str):
    return next((value for key, value in section.items() if str(key).lower() == name.lower()), None)


_TIMESPAN = re.compile(r"^(?:(?P<days>\d+)\.)?(?P<h>\d+):(?P<m>\d+)(?::(?P<s>\d+(?:\.\d+)?))?$")


def parse_timespan(value, *, bare_number_unit: float = 1.0) -> float:
    """Seconds from a .NET TimeSpan string ("00:00:02", "1.00:00:00") or a bare number.

    `bare_number_unit` converts a bare number to seconds (0.001 for settings that older
    host versions took in milliseconds, such as maxPollingInterval).
    """
    if isinstance(value, (int, float)) or (isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value)):
        return float(value) * bare_number_unit
    match = _TIMESPAN.match(str(value).strip())
    if match is None:
        raise SettingsError(f"'{value}' is not a TimeSpan like 00:00:05")
    days = int(match.group("days") or 0)
    return days * 86400 + int(match.group("h")) * 3600 + int(match.group("m")) * 60 + float(match.group("s") or 0)


def resolve_connection(name: str | None, environ: MutableMapping[str, str] = os.environ) -> str:
    """The storage connection string for `connection=name`: `name`, then `AzureWebJobs<name>`.

    An empty name means `AzureWebJobsStorage`. Identity-based connections
    (`<name>__queueServiceUri` etc.) are not supported by this host.
    """
    name = name or "AzureWebJobsStorage"
    for candidate in (name, f"AzureWebJobs{name}"):
        if environ.get(candidate):
            return environ[candidate]
    if any(key.startswith(f"{name}__") for key in environ):
        raise SettingsError(f"connection '{name}' is identity-based ({name}__...); "
                            "the dev host supports connection strings only")
    raise SettingsError(f"connection '{name}' is not set: define the app setting '{name}' "
                        f"(or 'AzureWebJobs{name}') in local.settings.json or the environment")


def expand_settings(text: str, environ: MutableMapping[str, str] = os.environ) -> str:
    """Replace %Name% with the app setting Name, as the host does for binding expressions."""
    def replace(match: re.Match) -> str:
        if match.group(1) not in environ:
            raise SettingsError(f"'{text}' refers to app setting '{match.group(1)}', which is not set")
        return environ[match.group(1)]
    return re.sub(r"%([^%]+)%", replace, text)
