"""Simulated device behaviour: latency, failures, command handlers and IoT Plug and Play acks.

Pure logic: the backend decides *when* things happen (asyncio), this module decides *what*.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from typing import Callable

from .models import PropertySection


@dataclass(frozen=True)
class LatencyDistribution:
    """Device response latency. Kinds: `fixed:MS`, `uniform:LOW,HIGH`, `lognormal:MEDIAN,SIGMA[,MAX]`."""

    kind: str = "uniform"
    a: float = 20.0
    b: float = 120.0
    cap_ms: float = 10_000.0

    @classmethod
    def parse(cls, text: str) -> "LatencyDistribution":
        kind, _, numbers = text.partition(":")
        values = [float(v) for v in numbers.split(",") if v.strip()]
        if kind == "fixed" and len(values) == 1:
            return cls("fixed", values[0], values[0])
        if kind == "uniform" and len(values) == 2:
            return cls("uniform", values[0], values[1])
        if kind == "lognormal" and len(values) in (2, 3):
            return cls("lognormal", values[0], values[1], values[2] if len(values) == 3 else 10_000.0)
        raise ValueError(f"latency must look like fixed:50, uniform:20,200 or lognormal:80,0.5[,2000], not {text!r}")

    def sample_seconds(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            millis = self.a
        elif self.kind == "uniform":
            millis = rng.uniform(self.a, self.b)
        else:
            millis = min(self.cap_ms, rng.lognormvariate(math.log(max(self.a, 0.001)), self.b))
        return max(0.0, millis) / 1000.0

    def describe(self) -> str:
        if self.kind == "fixed":
            return f"fixed:{self.a:g}"
        if self.kind == "uniform":
            return f"uniform:{self.a:g},{self.b:g}"
        return f"lognormal:{self.a:g},{self.b:g},{self.cap_ms:g}"


@dataclass(frozen=True)
class PropertyRule:
    """A writable property of a device model: a number or integer within a range."""

    kind: str  # "integer" | "number"
    minimum: float
    maximum: float
    default: float

    def problem_with(self, value) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"expected a {self.kind}"
        if self.kind == "integer" and value != int(value):
            return "expected an integer"
        if not self.minimum <= value <= self.maximum:
            return f"out of range {self.minimum:g}..{self.maximum:g}"
        return None


@dataclass(frozen=True)
class CommandOutcome:
    status: int
    payload: object = None
    offline_for_seconds: float = 0.0


CommandHandler = Callable[[object, "DeviceBehaviour"], CommandOutcome]


@dataclass(frozen=True)
class DeviceProfile:
    """What a kind of device is: its model, writable properties, components and commands."""

    name: str
    model_id: str = ""
    writable: dict = field(default_factory=dict)  # property -> PropertyRule
    components: dict = field(default_factory=dict)  # component -> {property -> PropertyRule}
    commands: dict = field(default_factory=dict)  # "cmd" or "component*cmd" -> CommandHandler
    answers_methods: bool = True


@dataclass
class DeviceBehaviour:
    """Per-device knobs the control API can change."""

    latency: LatencyDistribution = field(default_factory=LatencyDistribution)
    failure_probability: float = 0.0
    reboot_seconds: float = 2.0
    ack_delay: LatencyDistribution = field(default_factory=lambda: LatencyDistribution("uniform", 20, 80))

    def to_dict(self) -> dict:
        return {
            "latency": self.latency.describe(),
            "failureProbability": self.failure_probability,
            "rebootSeconds": self.reboot_seconds,
            "ackDelay": self.ack_delay.describe(),
        }

    def updated(self, changes: dict) -> "DeviceBehaviour":
        fields = {}
        if "latency" in changes:
            fields["latency"] = LatencyDistribution.parse(changes["latency"])
        if "ackDelay" in changes:
            fields["ack_delay"] = LatencyDistribution.parse(changes["ackDelay"])
        if "failureProbability" in changes:
            fields["failure_probability"] = float(changes["failureProbability"])
        if "rebootSeconds" in changes:
            fields["reboot_seconds"] = float(changes["rebootSeconds"])
        return replace(self, **fields)


def run_command(profile: DeviceProfile, behaviour: DeviceBehaviour, rng: random.Random, name: str, payload) -> CommandOutcome:
    """The device's answer to a direct method (after its latency, which the caller waits)."""
    if behaviour.failure_probability and rng.random() < behaviour.failure_probability:
        return CommandOutcome(500, {"error": "simulated device failure"})
    handler = profile.commands.get(name)
    if handler is None:
        return CommandOutcome(501, {"error": f"command '{name}' is not implemented by this device"})
    return handler(payload, behaviour)


def reboot(payload, behaviour: DeviceBehaviour) -> CommandOutcome:
    return CommandOutcome(200, {"status": "rebooting"}, offline_for_seconds=behaviour.reboot_seconds)


def echo(payload, behaviour: DeviceBehaviour) -> CommandOutcome:
    return CommandOutcome(200, payload)


def set_fan_speed(payload, behaviour: DeviceBehaviour) -> CommandOutcome:
    speed = payload.get("speed", payload.get("fanSpeed")) if isinstance(payload, dict) else payload
    if isinstance(speed, bool) or not isinstance(speed, int) or not 0 <= speed <= 5:
        return CommandOutcome(400, {"error": "speed must be an integer from 0 to 5"})
    return CommandOutcome(200, {"fanSpeed": speed})


def get_max_min_report(payload, behaviour: DeviceBehaviour) -> CommandOutcome:
    return CommandOutcome(200, {"maxTemp": 24.5, "minTemp": 18.0, "avgTemp": 21.2, "since": payload})


def writable_property_acks(profile: DeviceProfile, desired: PropertySection, reported: dict) -> dict:
    """The reported patch a Plug and Play device sends for desired values it has not acknowledged yet."""
    patch = _acks_for(profile.writable, desired.values, reported, desired, ())
    for component, rules in profile.components.items():
        wanted = desired.values.get(component)
        if not isinstance(wanted, dict) or wanted.get("__t") != "c":
            continue
        current = reported.get(component) if isinstance(reported.get(component), dict) else {}
        acks = _acks_for(rules, wanted, current, desired, (component,))
        if acks:
            patch[component] = {"__t": "c", **acks}
    return patch


def _acks_for(rules: dict, wanted: dict, current: dict, desired: PropertySection, prefix: tuple) -> dict:
    acks = {}
    for name, rule in rules.items():
        if name not in wanted:
            continue
        version = desired.last_updated_version(*prefix, name)
        previous = current.get(name)
        if isinstance(previous, dict) and previous.get("av", -1) >= version:
            continue
        acks[name] = _ack(rule, wanted[name], previous, version)
    return acks


def _ack(rule: PropertyRule, value, previous, version: int) -> dict:
    problem = rule.problem_with(value)
    if problem is None:
        return {"value": value, "ac": 200, "av": version, "ad": "completed"}
    in_use = previous.get("value", rule.default) if isinstance(previous, dict) else rule.default
    return {"value": in_use, "ac": 400, "av": version, "ad": f"rejected: {problem}"}


def initial_reported_values(profile: DeviceProfile) -> dict:
    """Plug and Play devices report their defaults on first connection (`ac` 203, `av` 0)."""
    reported = {name: _initial(rule) for name, rule in profile.writable.items()}
    for component, rules in profile.components.items():
        reported[component] = {"__t": "c", **{name: _initial(rule) for name, rule in rules.items()}}
    return reported


def _initial(rule: PropertyRule) -> dict:
    return {"value": rule.default, "ac": 203, "av": 0, "ad": "initialize"}
