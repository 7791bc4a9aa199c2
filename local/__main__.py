"""`python -m local up`: the whole product on one machine (Azurite, IoT Hub simulator, dev host)."""
from __future__ import annotations

import argparse
import signal
import sys

from local.stack import StackError, run_stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start Azurite, the IoT Hub simulator with the demo fleet, and the Functions dev host")
    up.add_argument("--port", type=int, default=7071, help="dev host HTTP port (default 7071)")
    up.add_argument("--iothub-port", type=int, default=8443, help="IoT Hub simulator HTTPS port (default 8443)")
    up.add_argument("--storage-ports", type=int, nargs=3, default=(10000, 10001, 10002),
                    metavar=("BLOB", "QUEUE", "TABLE"), help="Azurite ports (default 10000 10001 10002)")
    up.add_argument("--sku", default="S1", help="IoT Hub throttling of the simulator: S1, S2, S3 or none (default S1)")
    up.add_argument("--seed", type=int, default=1, help="demo fleet seed (default 1)")
    args = parser.parse_args(argv)
    # Ctrl-C and SIGTERM both stop the stack cleanly, even when started from a script that
    # ignores SIGINT for its background jobs.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return run_stack(args)
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C while starting: everything started so far was stopped
        print("\nInterrupted.", file=sys.stderr)
        return 130


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
