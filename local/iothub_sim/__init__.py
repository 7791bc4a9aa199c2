"""A local IoT Hub service simulator that the unmodified `azure-iot-hub` SDK can drive.

    from local.iothub_sim import start_simulator
    with start_simulator(fleet="demo", seed=1) as hub:
        manager = hub.registry_manager()          # real IoTHubRegistryManager, retries off
        hub.control.set_online("vending-0001", False)

See README.md in this folder for the CLI, the control API and every known difference from IoT Hub.
"""
from .control_client import ControlClient, ControlError
from .handle import SimulatorHandle, start_simulator

__all__ = ["ControlClient", "ControlError", "SimulatorHandle", "start_simulator"]
