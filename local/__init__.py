"""Development-only tooling: the Functions dev host, the IoT Hub simulator and the local stack."""
