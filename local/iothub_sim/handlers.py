"""IoT Hub REST handlers, one per `IoTHubRegistryManager` operation: wire fields in, backend call, reply out."""
from __future__ import annotations

from .backend import HubBackend, MethodCall
from .errors import ArgumentInvalid, DeviceDefinedMultipleTimes, ModuleNotFound, TooManyDevices
from .export_jobs import ImportExportJobs
from .registry_import import BULK_LIMIT, import_devices
from .twin_rules import check_method_name
from .wire import Call, Reply

MAX_METHOD_PAYLOAD_BYTES = 128 * 1024
DEFAULT_LIST_TOP = 1000


class HubHandlers:
    def __init__(self, backend: HubBackend, jobs: ImportExportJobs) -> None:
        self.backend, self.jobs = backend, jobs

    # --- twins ---

    def get_twin(self, call: Call) -> Reply:
        return Reply(self.backend.get_twin(call.params["id"]))

    def update_twin(self, call: Call) -> Reply:
        return Reply(self.backend.update_twin(call.params["id"], call.json_object(), call.if_match))

    def replace_twin(self, call: Call) -> Reply:
        return Reply(self.backend.replace_twin(call.params["id"], call.json_object(), call.if_match))

    async def invoke_device_method(self, call: Call) -> Reply:
        method_call = _method_call(call)
        status, payload = await self.backend.invoke_device_method(call.params["id"], method_call)
        return Reply({"status": status, "payload": payload})

    # --- modules: the simulator has none, so every module lookup is ModuleNotFound ---

    def _no_module(self, call: Call) -> Reply:
        self.backend.device(call.params["id"])
        raise ModuleNotFound(f"Module {call.params['moduleId']} on device {call.params['id']} not found")

    get_module_twin = update_module_twin = replace_module_twin = _no_module
    get_module = delete_module = _no_module

    async def invoke_device_module_method(self, call: Call) -> Reply:
        return self._no_module(call)

    def create_or_update_module(self, call: Call) -> Reply:
        self.backend.device(call.params["id"])
        raise ArgumentInvalid("The IoT Hub simulator does not simulate module identities")

    def get_modules(self, call: Call) -> Reply:
        self.backend.device(call.params["id"])
        return Reply([])

    # --- registry ---

    def get_device(self, call: Call) -> Reply:
        return Reply(self.backend.get_device(call.params["id"]))

    def create_or_update_device(self, call: Call) -> Reply:
        """`create_device_with_sas` sends no If-Match; the `update_device_*` calls send one."""
        device_id, doc = call.params["id"], call.json_object()
        if doc.get("deviceId") not in (None, device_id):
            raise ArgumentInvalid(f"deviceId in the body ({doc['deviceId']}) does not match the URL ({device_id})")
        if call.if_match is None:
            return Reply(self.backend.create_device(device_id, doc))
        return Reply(self.backend.update_device(device_id, doc, call.if_match))

    def delete_device(self, call: Call) -> Reply:
        self.backend.delete_device(call.params["id"], call.if_match)
        return Reply(status=204)

    def get_devices(self, call: Call) -> Reply:
        top = _int_or(call.query.get("top"), DEFAULT_LIST_TOP)
        return Reply(self.backend.list_devices(top if 1 <= top <= DEFAULT_LIST_TOP else DEFAULT_LIST_TOP))

    def bulk_create_or_update_devices(self, call: Call) -> Reply:
        entries = call.json()
        if not isinstance(entries, list):
            raise ArgumentInvalid("Bulk registry operations take a JSON array of devices")
        if len(entries) > BULK_LIMIT:
            raise TooManyDevices(f"Too many devices: at most {BULK_LIMIT} per bulk operation")
        ids = [entry.get("id") for entry in entries if isinstance(entry, dict)]
        if len(ids) != len(set(ids)):
            raise DeviceDefinedMultipleTimes("A device is defined more than once in the bulk operation")
        result = import_devices(self.backend, entries)
        return Reply(result, status=200 if result["isSuccessful"] else 400)

    def get_device_registry_statistics(self, call: Call) -> Reply:
        return Reply(self.backend.registry_statistics())

    def get_service_statistics(self, call: Call) -> Reply:
        return Reply(self.backend.service_statistics())

    # --- query ---

    def query_iot_hub(self, call: Call) -> Reply:
        spec = call.json_object()
        max_items = _int_or(call.headers.get("x-ms-max-item-count"), None)
        page = self.backend.query_twins(spec.get("query"), max_items, call.headers.get("x-ms-continuation"))
        headers = {"x-ms-item-type": page.item_type}
        if page.continuation:
            headers["x-ms-continuation"] = page.continuation
        return Reply(page.items, headers=headers)

    # --- import/export jobs (IoTHubJobManager) ---

    def create_import_export_job(self, call: Call) -> Reply:
        return Reply(self.jobs.create(call.json_object()))

    def get_import_export_jobs(self, call: Call) -> Reply:
        return Reply(self.jobs.list_jobs())

    def get_import_export_job(self, call: Call) -> Reply:
        return Reply(self.jobs.get(call.params["id"]))

    def cancel_import_export_job(self, call: Call) -> Reply:
        return Reply(self.jobs.cancel(call.params["id"]))


def _method_call(call: Call) -> MethodCall:
    body = call.json_object()
    check_method_name(body.get("methodName"))
    if len(call.body) > MAX_METHOD_PAYLOAD_BYTES:
        raise ArgumentInvalid("Direct method payloads are limited to 128 KB")
    response_timeout = _seconds(body, "responseTimeoutInSeconds", default=30, low=5, high=300)
    connect_timeout = _seconds(body, "connectTimeoutInSeconds", default=0, low=0, high=300)
    return MethodCall(body["methodName"], body.get("payload"), response_timeout, connect_timeout)


def _seconds(body: dict, name: str, default: int, low: int, high: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ArgumentInvalid(f"{name} must be an integer from {low} to {high}")
    return value


def _int_or(text, default):
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise ArgumentInvalid(f"Expected an integer, got {text!r}") from None
