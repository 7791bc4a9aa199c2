"""What a job does to each device: set a writable property, set a cloud property, run a command."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from shared.domain import limits
from shared.domain.errors import InvalidField


ACKNOWLEDGED = "acknowledged"  # a property's completion: the device acknowledged it (IoT Plug and Play)
WRITTEN = "written"  # the default: the hub stored the desired value
COMPLETIONS = (WRITTEN, ACKNOWLEDGED)


class OperationType(str, Enum):
    PROPERTY = "property"  # desired properties of the twin
    CLOUD_PROPERTY = "cloudProperty"  # tags of the twin
    COMMAND = "command"  # a direct method


# IoT Central's docs name the types by their schema class; its spec uses the values above.
_TYPE_ALIASES = {
    "PropertyJobData": OperationType.PROPERTY,
    "CloudPropertyJobData": OperationType.CLOUD_PROPERTY,
    "CommandJobData": OperationType.COMMAND,
}


def parse_operation_type(value: Any, field: str = "type") -> OperationType:
    if isinstance(value, str) and value in _TYPE_ALIASES:
        return _TYPE_ALIASES[value]
    try:
        return OperationType(value)
    except ValueError:
        raise InvalidField(field, "must be one of property, cloudProperty, command.") from None


@dataclass(frozen=True)
class Operation:
    type: OperationType
    path: str
    value: Any = None
    target: str | None = None  # a device model id; devices of another model fail the job
    response_timeout_seconds: int | None = None  # commands only
    connect_timeout_seconds: int | None = None  # commands only
    completion: str | None = None  # properties only: WRITTEN (None) or ACKNOWLEDGED

    @property
    def acknowledged(self) -> bool:
        return self.completion == ACKNOWLEDGED

    @property
    def component(self) -> str | None:
        return self.path.split(".", 1)[0] if "." in self.path else None

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def effective_response_timeout(self) -> int:
        chosen = self.response_timeout_seconds
        return limits.DEFAULT_COMMAND_RESPONSE_TIMEOUT_SECONDS if chosen is None else chosen

    @property
    def effective_connect_timeout(self) -> int:
        chosen = self.connect_timeout_seconds
        return limits.DEFAULT_COMMAND_CONNECT_TIMEOUT_SECONDS if chosen is None else chosen

    @property
    def method_name(self) -> str:
        """IoT Plug and Play invokes a component's command as `component*command`."""
        return f"{self.component}*{self.name}" if self.component else self.name

    def validated(self, field: str = "data[0]") -> "Operation":
        _validate_path(self.path, f"{field}.path")
        _validate_value(self, f"{field}.value")
        if self.target is not None:
            _validate_model_id(self.target, f"{field}.target")
        _validate_timeouts(self, field)
        if self.completion is not None:
            if self.completion not in COMPLETIONS:
                raise InvalidField(f"{field}.completion", f"must be one of {', '.join(COMPLETIONS)}.")
            if self.type is not OperationType.PROPERTY:
                raise InvalidField(f"{field}.completion", "applies to property operations only.")
        return self


def validate_operations(operations: list[Operation], field: str = "data") -> tuple[Operation, ...]:
    if not operations:
        raise InvalidField(field, "must hold at least one operation.")
    if len(operations) > limits.MAX_OPERATIONS_PER_JOB:
        raise InvalidField(field, f"must hold at most {limits.MAX_OPERATIONS_PER_JOB} operations.")
    for index, operation in enumerate(operations):
        operation.validated(f"{field}[{index}]")
    _refuse_component_name_clash(operations, field)
    total = sum(limits.serialized_size(operation.value) for operation in operations)
    if total > limits.MAX_OPERATIONS_TOTAL_BYTES:
        raise InvalidField(field, f"values must total at most {limits.MAX_OPERATIONS_TOTAL_BYTES} bytes.")
    return tuple(operations)


def _refuse_component_name_clash(operations: list[Operation], field: str) -> None:
    """`x` and `x.y` of one patch (desired or tags) cannot both be written: x is one key."""
    for kind in (OperationType.PROPERTY, OperationType.CLOUD_PROPERTY):
        paths = [operation.path for operation in operations if operation.type is kind]
        clash = {path for path in paths if "." not in path} & {path.split(".")[0] for path in paths if "." in path}
        if clash:
            raise InvalidField(field, f"`{sorted(clash)[0]}` is used both as a value and as a component.")


def _validate_path(path: Any, field: str) -> None:
    if not isinstance(path, str) or not path:
        raise InvalidField(field, "must be a non-empty string.")
    parts = path.split(".")
    if len(parts) > 2 or any(limits.DTDL_NAME_PATTERN.fullmatch(part) is None for part in parts):
        raise InvalidField(field, "must be `name` or `component.name`; names are letters, digits and _, "
                                  "start with a letter, at most 64 characters.")


def _validate_value(operation: Operation, field: str) -> None:
    limits.validate_json_value(operation.value, field)  # else IoT Hub would get `Infinity`, which is not JSON
    size = limits.serialized_size(operation.value)
    if operation.type is OperationType.COMMAND:
        if size > limits.MAX_COMMAND_PAYLOAD_BYTES:
            raise InvalidField(field, f"a command payload must be at most {limits.MAX_COMMAND_PAYLOAD_BYTES} bytes.")
    elif size > limits.MAX_PROPERTY_VALUE_BYTES:
        raise InvalidField(field, f"a property value must be at most {limits.MAX_PROPERTY_VALUE_BYTES} bytes.")


def _validate_model_id(target: Any, field: str) -> None:
    valid = isinstance(target, str) and len(target) <= limits.MAX_MODEL_ID_LENGTH
    if not valid or not (limits.MODEL_ID_PATTERN.fullmatch(target) or limits.TEMPLATE_URN_PATTERN.fullmatch(target)):
        raise InvalidField(field, "must be a device template id: a DTMI (dtmi:…;version) or an IoT Central URN "
                                  "(urn:…).")


def _validate_timeouts(operation: Operation, field: str) -> None:
    chosen = {"responseTimeout": (operation.response_timeout_seconds, limits.COMMAND_RESPONSE_TIMEOUT_RANGE),
              "connectTimeout": (operation.connect_timeout_seconds, limits.COMMAND_CONNECT_TIMEOUT_RANGE)}
    for name, (seconds, (low, high)) in chosen.items():
        if seconds is None:
            continue
        if operation.type is not OperationType.COMMAND:
            raise InvalidField(f"{field}.{name}", "applies to commands only.")
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not low <= seconds <= high:
            raise InvalidField(f"{field}.{name}", f"must be whole seconds from {low} to {high}.")


def desired_properties_patch(operations: Iterable[Operation]) -> dict:
    """Every `property` operation as one desired-properties patch, in order (a later write of
    the same path wins). A component's properties carry the IoT Plug and Play marker `__t: c`."""
    patch: dict = {}
    for operation in operations:
        if operation.type is OperationType.PROPERTY:
            target = patch.setdefault(operation.component, {"__t": "c"}) if operation.component else patch
            target[operation.name] = operation.value
    return patch


def tags_patch(operations: Iterable[Operation]) -> dict:
    """Every `cloudProperty` operation as one tags patch; `a.b` is the nested tag {a: {b: …}}."""
    patch: dict = {}
    for operation in operations:
        if operation.type is OperationType.CLOUD_PROPERTY:
            target = patch.setdefault(operation.component, {}) if operation.component else patch
            target[operation.name] = operation.value
    return patch


def acknowledged(operations: Iterable[Operation]) -> list[Operation]:
    """The property operations whose device must acknowledge them before it counts as completed."""
    return [operation for operation in operations if operation.acknowledged]


def commands(operations: Iterable[Operation]) -> list[Operation]:
    return [operation for operation in operations if operation.type is OperationType.COMMAND]
