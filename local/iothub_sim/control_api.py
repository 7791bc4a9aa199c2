"""The simulator's own `/_sim/` API for tests and demos. Not part of IoT Hub."""
from __future__ import annotations

import os
import time

from .backend import HubBackend
from .errors import ArgumentInvalid
from .export_jobs import ImportExportJobs
from .faults import FaultInjector
from .throttling import Throttle
from .wire import Call, Counters, Reply


class ControlApi:
    def __init__(self, backend: HubBackend, throttle: Throttle, faults: FaultInjector, jobs: ImportExportJobs) -> None:
        self.backend, self.throttle, self.faults, self.jobs = backend, throttle, faults, jobs
        self.call_counters: Counters | None = None  # set by the server once the pipeline exists

    def health(self, call: Call) -> Reply:
        return Reply({"ok": True, "devices": len(self.backend.devices)})

    def stats(self, call: Call) -> Reply:
        times = os.times()
        return Reply({"pid": os.getpid(), "cpuSeconds": times.user + times.system, "wallTime": time.time()})

    def reset(self, call: Call) -> Reply:
        """Fleet, behaviour and throttling back to their start; logs, counters, faults and jobs cleared."""
        self.backend.behaviour = self.backend.initial_behaviour
        self.backend.reset()
        self.jobs.reset()
        self.faults.clear()
        self.throttle.reset()
        if self.call_counters is not None:
            self.call_counters.clear()
        return Reply({"ok": True, "devices": len(self.backend.devices)})

    def counters(self, call: Call) -> Reply:
        return Reply(self.call_counters.to_dict() if self.call_counters is not None else {})

    def list_faults(self, call: Call) -> Reply:
        return Reply(self.faults.to_list())

    def inject_fault(self, call: Call) -> Reply:
        body = call.json_object()
        fault = self.faults.inject(
            body.get("operationClass", "*"), int(body.get("count", 1)),
            body.get("status"), float(body.get("latencyMs", 0)))
        return Reply(fault.to_dict())

    def clear_faults(self, call: Call) -> Reply:
        self.faults.clear()
        return Reply({"ok": True})

    def get_throttle(self, call: Call) -> Reply:
        return Reply(self.throttle.to_dict())

    def set_throttle(self, call: Call) -> Reply:
        """Either `{"sku": "S1", "units": 1}` or `{"operationClass": ..., "capacity": X|null, "refillPerSecond": r}`."""
        body = call.json_object()
        if "sku" in body:
            try:
                self.throttle.configure(body["sku"], int(body.get("units", 1)))
            except ValueError as error:
                raise ArgumentInvalid(str(error)) from None
        else:
            self.throttle.set_bucket(body.get("operationClass"), body.get("capacity"),
                                     float(body.get("refillPerSecond", 0)))
        return Reply(self.throttle.to_dict())

    def set_fleet_behaviour(self, call: Call) -> Reply:
        changes = call.json_object()
        for device_id in self.backend.devices:
            self.backend.set_behaviour(device_id, changes)
        self.backend.behaviour = self.backend.behaviour.updated(changes)
        return Reply({"devices": len(self.backend.devices), **self.backend.behaviour.to_dict()})

    def import_export_jobs(self, call: Call) -> Reply:
        return Reply(self.jobs.summary())

    def set_job_queue_seconds(self, call: Call) -> Reply:
        """`{"queueSeconds": s}`: new import/export jobs stay enqueued this long before they run."""
        seconds = float(call.json_object().get("queueSeconds", 0))
        if seconds < 0:
            raise ArgumentInvalid("queueSeconds must not be negative")
        self.jobs.queue_seconds = seconds
        return Reply(self.jobs.summary())

    def describe_device(self, call: Call) -> Reply:
        return Reply(self.backend.describe_device(call.params["id"]))

    def set_connection(self, call: Call) -> Reply:
        online = call.json_object().get("online")
        if not isinstance(online, bool):
            raise ArgumentInvalid('Body must be {"online": true|false}')
        self.backend.set_online(call.params["id"], online)
        return Reply(self.backend.describe_device(call.params["id"]))

    def set_device_behaviour(self, call: Call) -> Reply:
        return Reply(self.backend.set_behaviour(call.params["id"], call.json_object()))

    def device_log(self, call: Call) -> Reply:
        device_id = call.params["id"]
        if device_id not in self.backend.logs:
            self.backend.device(device_id)  # never logged and not registered: DeviceNotFound
        return Reply(self.backend.device_log(device_id))
