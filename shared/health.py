"""Reachability of the services the app depends on, for GET /api/health."""
from __future__ import annotations

from collections.abc import Callable, Mapping

from azure.core.exceptions import ResourceNotFoundError
from msrest.exceptions import HttpOperationError

from shared.bootstrap import Services

Probe = Callable[[], None]

# A twin read is the cheapest hub call (twin reads are throttled far more loosely than
# registry operations or queries); an unknown device answering 404 proves the hub is reachable.
_PROBE_DEVICE_ID = "health-probe"


def check_health(probes: Mapping[str, Probe]) -> dict:
    """Run every probe; a probe raises when its service is unreachable."""
    checks = {}
    for name, probe in probes.items():
        try:
            probe()
            checks[name] = {"status": "up"}
        except Exception as error:  # any failure means "down"; the message tells the operator why
            checks[name] = {"status": "down", "error": f"{type(error).__name__}: {error}"[:500]}
    healthy = all(check["status"] == "up" for check in checks.values())
    return {"status": "healthy" if healthy else "unhealthy", "checks": checks}


def default_probes(services: Services) -> dict[str, Probe]:
    return {"storage": lambda: probe_storage(services), "iotHub": lambda: probe_iothub(services)}


def probe_storage(services: Services) -> None:
    table = services.tables.get_table_client("jobs")
    try:
        next(iter(table.query_entities("PartitionKey eq 'health'", results_per_page=1)), None)
    except ResourceNotFoundError:
        pass  # the table does not exist yet, but storage answered


def probe_iothub(services: Services) -> None:
    try:
        services.registry_manager.get_twin(_PROBE_DEVICE_ID)
    except HttpOperationError as error:
        if error.response is None or error.response.status_code != 404:
            raise
