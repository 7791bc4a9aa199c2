"""Peak memory of archiving one job's report to Blob Storage: jobs of 1,000, 5,000 and 20,000 devices.

    python -m bench.retention_memory [--sizes 1000 5000 20000] [--block-kib 256]

Starts its own Azurite, seeds each job through the repositories (rows in transactions of 98 with
the progress row, then every outcome recorded; Azurite stores about 1,500 entities/s), then runs
the archive step of retention (stream the CSV in blocks, read it back for the MD5 check, record
it) and reports its peak memory two ways: tracemalloc's peak of Python allocations during the
step, and the peak resident set size above the level just before it (sampled every 5 ms, in a
run without tracemalloc, which also gives the time).
Flat memory means the peak stops growing once the CSV is larger than one block (5,000 devices),
whatever the job's size; the 1,000-device CSV is smaller than a block. Prints figures only.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
import tracemalloc
from datetime import datetime, timezone
from itertools import islice

from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from local.azurite import start_azurite
from retention.purge import archive_job
from shared.domain.devices import DeviceErrorCode, DeviceOutcome
from shared.domain.jobs import Job
from shared.domain.limits import MAX_BATCH_SIZE
from shared.domain.operations import Operation, OperationType
from shared.job_archive import JobArchive
from shared.repositories import JobDeviceRepository, JobRepository, ensure_tables

MIB = 1024 * 1024


def seed_ended_job(jobs, job_devices, job_id: str, devices: int) -> Job:
    now = datetime.now(timezone.utc)
    job = Job.draft(job_id, f"Bench {devices} devices", "bench-group",
                    [Operation(OperationType.PROPERTY, "fanSpeed", 2)], now)
    job.run(now)
    ids = [f"vending-{index:06d}" for index in range(devices)]
    _in_batches(ids, f"{job_id}: rows", lambda batch: job_devices.add_pending(job_id, batch, now))
    job.start(now)
    _in_batches(ids, f"{job_id}: outcomes",
                lambda batch: job_devices.record_outcomes(job_id, [_outcome(device_id) for device_id in batch], now))
    job.finish(job_devices.get_progress(job_id), now)
    return jobs.add(job)


def _outcome(device_id: str) -> DeviceOutcome:
    if device_id.endswith("7"):
        return DeviceOutcome.failure(device_id, DeviceErrorCode.TIMEOUT, "The device did not answer within 30 s.")
    return DeviceOutcome.success(device_id)


def _in_batches(ids: list[str], label: str, store) -> None:
    done, remaining = 0, iter(ids)
    while batch := list(islice(remaining, MAX_BATCH_SIZE)):
        store(batch)
        done += len(batch)
        if done == len(ids) or done % (MAX_BATCH_SIZE * 20) == 0:
            print(f"  {label}: {done:>6}/{len(ids)}", flush=True)


class PeakRss:
    """The highest resident set size seen while running, sampled from /proc."""

    def __init__(self, interval: float = 0.005):
        self.interval, self.peak = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "PeakRss":
        self.baseline = current_rss()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, current_rss())
            time.sleep(self.interval)


def current_rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def measure_archive(job: Job, job_devices, archive: JobArchive) -> dict:
    """Twice: untraced for time and RSS, then under tracemalloc (which slows it) for its peak."""
    started = time.perf_counter()
    with PeakRss() as rss:
        entry = archive_job(job, datetime.now(timezone.utc), job_devices=job_devices, archive=archive)
    seconds = time.perf_counter() - started
    tracemalloc.start()
    archive_job(job, datetime.now(timezone.utc), job_devices=job_devices, archive=archive)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"devices": entry.progress.total, "csv_bytes": entry.size, "seconds": seconds,
            "traced_peak": traced_peak, "rss_delta": max(0, rss.peak - rss.baseline)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--block-kib", type=int, default=256)
    args = parser.parse_args(argv)
    print("Starting Azurite ...", flush=True)
    azurite = start_azurite()
    try:
        results = run(azurite.connection_string, args.sizes, args.block_kib * 1024)
    finally:
        azurite.stop()
    report(results, args.block_kib)
    return 0


def run(connection_string: str, sizes: list[int], block_size: int) -> list[dict]:
    tables = TableServiceClient.from_connection_string(connection_string)
    ensure_tables(tables)
    jobs, job_devices = JobRepository(tables), JobDeviceRepository(tables)
    archive = JobArchive.in_blob_storage(BlobServiceClient.from_connection_string(connection_string),
                                         block_size=block_size)
    archive.ensure_container()
    results = []
    for devices in sizes:
        print(f"Seeding a {devices}-device job", flush=True)
        job = seed_ended_job(jobs, job_devices, f"bench-{devices}", devices)
        print(f"  archiving {job.id} ...", flush=True)
        results.append(measure_archive(job, job_devices, archive))
    return results


def report(results: list[dict], block_kib: int) -> None:
    print(f"\nArchive step (stream CSV in {block_kib} KiB blocks, read back for MD5, record):")
    print(f"{'devices':>8} {'CSV':>9} {'time':>7} {'tracemalloc peak':>17} {'RSS peak - before':>18}")
    for result in results:
        print(f"{result['devices']:>8} {result['csv_bytes'] / MIB:>7.2f}MB {result['seconds']:>6.1f}s "
              f"{result['traced_peak'] / MIB:>15.2f}MB {result['rss_delta'] / MIB:>16.2f}MB")


if __name__ == "__main__":
    sys.exit(main())
