"""What the simulator answers: IoT Hub REST routes and the `/_sim/` control routes, as data.

Each route names its handler (named after the `IoTHubRegistryManager` operation that sends it)
and the throttling class it is metered in. Path segments are matched on the raw path and then
percent-decoded, so device ids containing `# % ? : =` and the like arrive intact.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from .errors import RouteNotFound
from .throttling import JOBS, METHOD, QUERY, REGISTRY, TWIN_READ, TWIN_UPDATE


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: str
    operation_class: str | None = None

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.template.split("/"))


HUB_ROUTES = [
    Route("GET", "twins/{id}", "get_twin", TWIN_READ),
    Route("PATCH", "twins/{id}", "update_twin", TWIN_UPDATE),
    Route("PUT", "twins/{id}", "replace_twin", TWIN_UPDATE),
    Route("POST", "twins/{id}/methods", "invoke_device_method", METHOD),
    Route("GET", "twins/{id}/modules/{moduleId}", "get_module_twin", TWIN_READ),
    Route("PATCH", "twins/{id}/modules/{moduleId}", "update_module_twin", TWIN_UPDATE),
    Route("PUT", "twins/{id}/modules/{moduleId}", "replace_module_twin", TWIN_UPDATE),
    Route("POST", "twins/{id}/modules/{moduleId}/methods", "invoke_device_module_method", METHOD),
    Route("POST", "devices/query", "query_iot_hub", QUERY),
    Route("GET", "devices", "get_devices", REGISTRY),
    Route("POST", "devices", "bulk_create_or_update_devices", REGISTRY),
    Route("GET", "devices/{id}", "get_device", REGISTRY),
    Route("PUT", "devices/{id}", "create_or_update_device", REGISTRY),
    Route("DELETE", "devices/{id}", "delete_device", REGISTRY),
    Route("GET", "devices/{id}/modules", "get_modules", REGISTRY),
    Route("GET", "devices/{id}/modules/{moduleId}", "get_module", REGISTRY),
    Route("PUT", "devices/{id}/modules/{moduleId}", "create_or_update_module", REGISTRY),
    Route("DELETE", "devices/{id}/modules/{moduleId}", "delete_module", REGISTRY),
    Route("GET", "statistics/devices", "get_device_registry_statistics", REGISTRY),
    Route("GET", "statistics/service", "get_service_statistics", REGISTRY),
    # Jobs operations are metered as IoT Hub lists them (create, update, list, delete); a job's get is not in that list.
    Route("POST", "jobs/create", "create_import_export_job", JOBS),
    Route("GET", "jobs", "get_import_export_jobs", JOBS),
    Route("GET", "jobs/{id}", "get_import_export_job"),
    Route("DELETE", "jobs/{id}", "cancel_import_export_job", JOBS),
]

CONTROL_ROUTES = [
    Route("GET", "_sim/health", "health"),
    Route("GET", "_sim/stats", "stats"),
    Route("POST", "_sim/reset", "reset"),
    Route("GET", "_sim/counters", "counters"),
    Route("GET", "_sim/faults", "list_faults"),
    Route("POST", "_sim/faults", "inject_fault"),
    Route("DELETE", "_sim/faults", "clear_faults"),
    Route("GET", "_sim/throttle", "get_throttle"),
    Route("PUT", "_sim/throttle", "set_throttle"),
    Route("PATCH", "_sim/behaviour", "set_fleet_behaviour"),
    Route("GET", "_sim/jobs", "import_export_jobs"),
    Route("PUT", "_sim/jobs", "set_job_queue_seconds"),
    Route("GET", "_sim/devices/{id}", "describe_device"),
    Route("PUT", "_sim/devices/{id}/connection", "set_connection"),
    Route("PATCH", "_sim/devices/{id}/behaviour", "set_device_behaviour"),
    Route("GET", "_sim/devices/{id}/log", "device_log"),
]


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self.table: dict[tuple[str, int], list[Route]] = {}
        for route in routes:
            self.table.setdefault((route.method, len(route.segments)), []).append(route)

    def match(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]]:
        segments = raw_path.strip("/").split("/")
        for route in self.table.get((method, len(segments)), ()):
            params = _match(route.segments, segments)
            if params is not None:
                return route, params
        raise RouteNotFound(f"No {method} operation at /{'/'.join(segments)} in this simulator")


def _match(template: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    params = {}
    for expected, actual in zip(template, segments):
        if expected[0] == "{":
            params[expected[1:-1]] = unquote(actual)
        elif expected != actual:
            return None
    return params
