"""Planning's own writes, alone: how fast the job-device table takes a job's pending rows. This is
the ceiling of planning devices/s on the machine, whatever the hub answers and however fast the
export is read.

    python -m bench.planning_writes [--devices 20000] [--jobs 4]

Each planned page is one transaction of MAX_BATCH_SIZE new rows and the job's progress row,
conditioned on that row (shared.repositories.job_devices), so one job's pages are written one
after another: a job plans at its partition's pace. Azure documents a target of 2,000 entities
a second for one table partition (1 KiB entities); planning's rows (a create each) share it
with the sends' claims and the collector's outcomes (an update each) while a job runs.

Prints, on a fresh Azurite through the app's repository:
- one job planned alone: devices/s, milliseconds per page, and this process's CPU per device;
- --jobs jobs planned at once (one writer each, separate partitions): devices/s together, which
  says how much of the single job's pace is the partition and how much the machine.
Prints figures only; never asserts on time.
"""
from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from azure.data.tables import TableServiceClient

from local.azurite import start_azurite
from shared.bootstrap import ensure_tables
from shared.domain.limits import MAX_BATCH_SIZE
from shared.repositories.job_devices import JobDeviceRepository


def device_id(index: int) -> str:
    return f"device-{index:07d}"


def plan(repository: JobDeviceRepository, job_id: str, devices: int, show=None, first: int = 0) -> None:
    """Pending rows for devices `first` .. `first + devices - 1`, a page at a time, as planning writes them."""
    now = datetime.now(timezone.utc)
    ids = [device_id(index) for index in range(first, first + devices)]
    for start in range(0, devices, MAX_BATCH_SIZE):
        repository.add_pending(job_id, ids[start:start + MAX_BATCH_SIZE], now, "bench")
        if show and (start // MAX_BATCH_SIZE) % 50 == 49:
            show(start + MAX_BATCH_SIZE)


@contextmanager
def fresh_job_devices() -> Iterator[JobDeviceRepository]:
    """The app's job-device repository on an Azurite of its own, stopped afterwards."""
    azurite = start_azurite()
    try:
        tables = TableServiceClient.from_connection_string(azurite.connection_string)
        ensure_tables(tables)
        yield JobDeviceRepository(tables)
    finally:
        azurite.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=4)
    args = parser.parse_args()
    with fresh_job_devices() as repository:
        pages = -(-args.devices // MAX_BATCH_SIZE)

        print(f"one job planning {args.devices} devices ({pages} pages of {MAX_BATCH_SIZE}) ...", flush=True)
        started, cpu = time.monotonic(), time.process_time()
        plan(repository, "alone", args.devices, show=lambda done: print(f"  {done} rows", flush=True))
        seconds, cpu = time.monotonic() - started, time.process_time() - cpu
        stored = repository.get_progress("alone").total
        print(f"one job: {stored} rows in {seconds:.1f} s = {stored / seconds:.0f} devices/s; "
              f"{1000 * seconds / pages:.1f} ms per page; this process {1000 * cpu / stored:.2f} ms CPU per device")

        each = args.devices // args.jobs
        print(f"{args.jobs} jobs planning {each} devices each at once ...", flush=True)
        writers = [threading.Thread(target=plan, args=(repository, f"together{n}", each)) for n in range(args.jobs)]
        started = time.monotonic()
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        seconds = time.monotonic() - started
        stored = sum(repository.get_progress(f"together{n}").total for n in range(args.jobs))
        print(f"{args.jobs} jobs together: {stored} rows in {seconds:.1f} s = {stored / seconds:.0f} devices/s "
              f"({stored / seconds / args.jobs:.0f} per job)")


if __name__ == "__main__":
    main()
