"""Domain model, storage repositories, the IoT Hub gateway and settings. Never imports azure.functions."""
