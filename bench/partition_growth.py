"""What a sender's two writes cost Azurite as its table grows: a claim (read the batch's rows, then
one transaction moving them to running) and the collector's outcomes for them (the same, to
completed), through the app's repository on a fresh Azurite, in a job whose partition grows and
in another job's small partition beside it.

    python -m bench.partition_growth [--sizes 1000 20000 100000 200000]

Azure Table Storage finds a row by its partition and row key whatever the table holds. Azurite
keeps a table in memory and its cost per update grows with the rows the table holds, whichever
partition they are in; so on this machine a job whose planning runs far ahead of its sending sends
each batch at a higher storage cost than a job planned just ahead of its sends, and so does every
job sent to while another's rows fill the table. Per size, 10 batches in each partition, each of
rows never sent before. Prints figures only; never asserts on time.
"""
from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone

from bench.planning_writes import device_id, fresh_job_devices, plan
from shared.domain.batching import DeviceBatch
from shared.domain.devices import DeviceOutcome
from shared.domain.limits import MAX_BATCH_SIZE

JOB, OTHER_JOB = "partition-growth", "beside-it"
BATCHES_PER_SIZE = 10


def send(repository, job_id: str, firsts, now: datetime) -> tuple[float, float, int]:
    """Claim then record each batch starting at `firsts`: seconds claiming, seconds recording, devices."""
    claims = outcomes = 0.0
    sent = 0
    for first in firsts:
        ids = [device_id(first + n) for n in range(MAX_BATCH_SIZE)]
        started = time.perf_counter()
        claimed = repository.claim(job_id, DeviceBatch(ids[0], ids[-1], len(ids)), now, "bench", "bench").claimed
        claims += time.perf_counter() - started
        started = time.perf_counter()
        repository.record_outcomes(job_id, [DeviceOutcome(row.device_id, True, attempt=1) for row in claimed],
                                   now, "bench")
        outcomes += time.perf_counter() - started
        sent += len(claimed)
    return claims, outcomes, sent


def shown(claims: float, outcomes: float, sent: int, batches: int) -> str:
    return (f"claim {1000 * claims / batches:6.1f} ms, outcomes {1000 * outcomes / batches:6.1f} ms per "
            f"{MAX_BATCH_SIZE}-device batch = {1000 * (claims + outcomes) / sent:.2f} ms per device")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 20_000, 100_000, 200_000])
    args = parser.parse_args()
    sizes, per_size = sorted(args.sizes), BATCHES_PER_SIZE * MAX_BATCH_SIZE
    with fresh_job_devices() as repository:
        planned, now = 0, datetime.now(timezone.utc)
        print(f"planning the other job's partition: {per_size * len(sizes)} rows, {per_size} to send per size ...",
              flush=True)
        plan(repository, OTHER_JOB, per_size * len(sizes))
        for index, size in enumerate(sizes):
            print(f"planning the job's partition up to {size} rows ...", flush=True)
            plan(repository, JOB, size - planned, first=planned)
            # Batches spread over the rows planned for this size, so none was sent at a smaller one.
            step = max((size - planned) // BATCHES_PER_SIZE // MAX_BATCH_SIZE, 1) * MAX_BATCH_SIZE
            firsts = range(planned, size - MAX_BATCH_SIZE + 1, step)[:BATCHES_PER_SIZE]
            planned = size
            own = send(repository, JOB, firsts, now)
            beside = send(repository, OTHER_JOB, range(index * per_size, (index + 1) * per_size, MAX_BATCH_SIZE), now)
            print(f"{size:>8} rows in the job's partition: {shown(*own, len(firsts))}\n"
                  f"{'':>8} in another job's {per_size * len(sizes)}-row partition: "
                  f"{shown(*beside, BATCHES_PER_SIZE)}", flush=True)


if __name__ == "__main__":
    main()
