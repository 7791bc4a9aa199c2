"""`python -m local.iothub_sim --port 8443 --fleet demo --seed 1 [--sku S1|S2|S3|none] [--units N] ...`

Prints exactly two lines to stdout when ready (IOTHUB_CONNECTION_STRING=..., IOTHUB_CA_BUNDLE=...),
logs to stderr, and serves until SIGINT or SIGTERM.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from .server import Simulator, SimulatorConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.iothub_sim", description="Local IoT Hub service simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443, help="0 picks a free port")
    parser.add_argument("--fleet", default="demo", choices=("demo", "empty"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sku", default="S1", choices=("S1", "S2", "S3", "none"), help="throttling; none disables it")
    parser.add_argument("--units", type=int, default=1)
    parser.add_argument("--state", type=Path, help="JSON file keeping the registry across restarts")
    parser.add_argument("--state-dir", type=Path, help="folder for the certificate and key (default ~/.cache/iothub-sim)")
    parser.add_argument("--latency", help="device latency for every device: fixed:MS, uniform:LO,HI or lognormal:MEDIAN,SIGMA[,MAX]")
    parser.add_argument("--failure-probability", type=float, help="chance a device answers a command with 500")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    return parser.parse_args(argv)


async def serve(config: SimulatorConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    simulator = Simulator(config)
    await simulator.start()
    print(f"IOTHUB_CONNECTION_STRING={simulator.connection_string}", flush=True)
    print(f"IOTHUB_CA_BUNDLE={simulator.tls.ca_bundle}", flush=True)
    await stop.wait()
    logging.getLogger("iothub_sim").info("stopping")
    await simulator.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = SimulatorConfig(
        host=args.host, port=args.port, fleet=args.fleet, seed=args.seed, sku=args.sku, units=args.units,
        state_file=args.state, state_dir=args.state_dir, latency=args.latency,
        failure_probability=args.failure_probability,
    )
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
