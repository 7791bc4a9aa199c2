"""The dispatcher: plans jobs into batches and sends batches to devices through IoT Hub."""
from dispatcher.blueprint import bp

__all__ = ["bp"]
