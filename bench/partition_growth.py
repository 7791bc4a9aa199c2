"""What a sender's two writes cost the table as a job's partition grows: a claim (read the batch's
rows, then one transaction moving them to running) and the collector's outcomes for them (the same,
to completed), through the app's repository on a fresh Azurite.

    python -m bench.partition_growth [--sizes 1000 20000 100000 200000]

Azure Table Storage finds a row by its partition and row key whatever the partition holds. Azurite
keeps a table in memory and its cost per write grows with the partition, so on this machine a job
whose planning runs far ahead of its sending (its partition already holds every device) sends
each batch at a higher storage cost than a job planned just ahead of its sends. The figures say
by how much, size by size.
Prints figures only; never asserts on time.
"""
from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone

from bench.planning_writes import device_id, fresh_job_devices, plan
from shared.domain.batching import DeviceBatch
from shared.domain.devices import DeviceOutcome
from shared.domain.limits import MAX_BATCH_SIZE

JOB = "partition-growth"
BATCHES_PER_SIZE = 10


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 20_000, 100_000, 200_000])
    args = parser.parse_args()
    with fresh_job_devices() as repository:
        planned, now = 0, datetime.now(timezone.utc)
        for size in sorted(args.sizes):
            print(f"planning the partition up to {size} rows ...", flush=True)
            plan(repository, JOB, size - planned, first=planned)
            # Batches spread over the rows planned for this size, so none was sent at a smaller one.
            step = max((size - planned) // BATCHES_PER_SIZE // MAX_BATCH_SIZE, 1) * MAX_BATCH_SIZE
            firsts = range(planned, size - MAX_BATCH_SIZE + 1, step)[:BATCHES_PER_SIZE]
            planned = size
            claims = outcomes = 0.0
            sent = 0
            for first in firsts:
                ids = [device_id(first + n) for n in range(MAX_BATCH_SIZE)]
                started = time.perf_counter()
                claimed = repository.claim(JOB, DeviceBatch(ids[0], ids[-1], len(ids)), now, "bench", "bench").claimed
                claims += time.perf_counter() - started
                started = time.perf_counter()
                repository.record_outcomes(JOB, [DeviceOutcome(row.device_id, True, attempt=1) for row in claimed],
                                           now, "bench")
                outcomes += time.perf_counter() - started
                sent += len(claimed)
            print(f"{size:>8} rows: claim {1000 * claims / len(firsts):6.1f} ms, outcomes "
                  f"{1000 * outcomes / len(firsts):6.1f} ms per {MAX_BATCH_SIZE}-device batch "
                  f"= {1000 * (claims + outcomes) / sent:.2f} ms per device ({sent} devices sent)", flush=True)

if __name__ == "__main__":
    main()
