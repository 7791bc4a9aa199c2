"""Device profiles and the fleets the simulator starts with (deterministic from the seed)."""
from __future__ import annotations

import base64
import random
from dataclasses import dataclass

from . import devices as dev
from .devices import DeviceBehaviour, DeviceProfile, LatencyDistribution, PropertyRule
from .models import Device, utc_timestamp

VENDING = DeviceProfile(
    name="vending",
    model_id="dtmi:contoso:RefrigeratedVendingMachine;1",
    writable={
        "fanSpeed": PropertyRule("integer", 0, 5, 2),
        "targetTemperature": PropertyRule("number", 0, 12, 4),
    },
    commands={"reboot": dev.reboot, "setFanSpeed": dev.set_fan_speed, "echo": dev.echo},
)

THERMOSTAT_RULES = {"targetTemperature": PropertyRule("number", 10, 35, 21)}
TEMPERATURE_CONTROLLER = DeviceProfile(
    name="temperature-controller",
    model_id="dtmi:com:example:TemperatureController;2",
    components={"thermostat1": THERMOSTAT_RULES, "thermostat2": THERMOSTAT_RULES},
    commands={
        "reboot": dev.reboot,
        "echo": dev.echo,
        "thermostat1*getMaxMinReport": dev.get_max_min_report,
        "thermostat2*getMaxMinReport": dev.get_max_min_report,
    },
)

KIOSK = DeviceProfile(name="kiosk", commands={"reboot": dev.reboot, "echo": dev.echo})
EDGE = DeviceProfile(name="edge", answers_methods=False)
GENERIC = DeviceProfile(name="generic", commands={"reboot": dev.reboot, "echo": dev.echo, "setFanSpeed": dev.set_fan_speed})

PROFILES = {p.name: p for p in (VENDING, TEMPERATURE_CONTROLLER, KIOSK, EDGE, GENERIC)}
REGIONS = ("west", "east", "north", "south")
FIRMWARE = ("1.4.2", "1.4.3", "1.5.0")


@dataclass
class FleetDevice:
    device: Device
    profile: DeviceProfile
    behaviour: DeviceBehaviour


def build_fleet(name: str, seed: int, behaviour: DeviceBehaviour) -> list[FleetDevice]:
    if name == "empty":
        return []
    if name != "demo":
        raise ValueError(f"unknown fleet {name!r} (known: demo, empty)")
    rng = random.Random(seed)
    specs = (
        [(f"vending-{n:04d}", VENDING, "vending") for n in range(1, 1001)]
        + [(f"thermostat-{n:03d}", TEMPERATURE_CONTROLLER, "thermostat") for n in range(1, 25)]
        + [(f"kiosk-{n:03d}", KIOSK, "kiosk") for n in range(1, 31)]
        + [(f"edge-gateway-{n:02d}", EDGE, "gateway") for n in (1, 2)]
    )
    return [_demo_device(device_id, profile, kind, rng, behaviour) for device_id, profile, kind in specs]


def _demo_device(device_id: str, profile: DeviceProfile, kind: str, rng: random.Random, behaviour: DeviceBehaviour) -> FleetDevice:
    tags = {"type": kind, "region": rng.choice(REGIONS), "site": f"site-{rng.randint(1, 40):02d}"}
    online = profile is EDGE or rng.random() >= 0.03
    reported = {"firmwareVersion": rng.choice(FIRMWARE), "serialNumber": f"SN{rng.randrange(10**8):08d}"}
    device = new_device(device_id, profile, rng, online=online, iot_edge=profile is EDGE)
    device.twin.tags = tags
    device.twin.reported.apply_patch({**reported, **dev.initial_reported_values(profile)}, utc_timestamp())
    return FleetDevice(device, profile, behaviour)


def new_device(device_id: str, profile: DeviceProfile, rng: random.Random, online: bool, iot_edge: bool = False) -> Device:
    return Device(
        device_id=device_id,
        primary_key=base64.b64encode(rng.randbytes(32)).decode(),
        secondary_key=base64.b64encode(rng.randbytes(32)).decode(),
        iot_edge=iot_edge,
        model_id=profile.model_id,
        online=online,
        generation_id=str(637_000_000_000_000_000 + rng.randrange(10**15)),
        connection_state_updated_time=utc_timestamp(),
    )


def default_behaviour(fleet: str) -> DeviceBehaviour:
    """Demo devices are a little slow and fail now and then; other fleets are quick and reliable."""
    if fleet == "demo":
        return DeviceBehaviour(latency=LatencyDistribution("lognormal", 60, 0.5, 1500), failure_probability=0.01)
    return DeviceBehaviour(latency=LatencyDistribution("uniform", 5, 20))
