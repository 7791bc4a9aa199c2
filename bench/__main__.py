"""`python -m bench` (make bench): run every benchmark module in this folder, one after another.

Benchmarks print figures; none asserts on time. Run one alone with `python -m bench.<name>`.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def main() -> int:
    names = sorted(path.stem for path in BENCH_DIR.glob("*.py") if not path.stem.startswith("_"))
    failed = []
    for index, name in enumerate(names, start=1):
        print(f"\n=== [{index}/{len(names)}] bench.{name} ===", flush=True)
        if subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=BENCH_DIR.parent) != 0:
            failed.append(name)
    if failed:
        print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
