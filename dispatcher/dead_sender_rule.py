"""The dead-sender rule: what becomes of a device row left `running` by a sender that is gone.

A `running` row means a sender claimed the device and its outcome was never recorded: the
sender died (or its outcomes message is stuck with a dead instance), or the job was stopped
and resumed before it finished. Nothing tells how far it got, so:

- a job of property and cloud-property writes only: the row is released to `pending` and sent
  again. A desired or tags PATCH of the same values is idempotent; the device may see the
  same desired values twice (a new `$version`), which Plug and Play devices acknowledge again.
- a job with any command: the row fails with `OutcomeUnknown`. A command is never sent twice;
  the device may or may not have run it.

Applied when a dispatch message is redelivered (to the rows of its batch: the delivery that
claimed them has ended), by the stall watchdog (to every `running` row of a job whose counters
stood still) and when a job is resumed, there only to rows claimed longer ago than the sender
lease (see sender_lease). A newer `running` row may belong to a live sender finishing its
device, or about to give unstarted devices back after the stop (it batches them again if the
job runs by then); a dead sender's newer rows are resolved when its message is redelivered, or
by the watchdog. If the first sender was in fact alive, its outcome still counts only once:
outcomes are recorded only on rows that are not final yet.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from shared.domain.acknowledgements import timed_out
from shared.domain.devices import DeviceErrorCode, DeviceOutcome, DeviceStatus, JobDevice
from shared.domain.jobs import Job
from shared.domain.operations import commands
from shared.host_config import HostConfig

_CLOCK_SKEW_MARGIN = timedelta(minutes=1)


def sender_lease(host: HostConfig) -> timedelta | None:
    """The longest a live sender holds a row `running`: a sender is one invocation, and the host
    ends any invocation after its functionTimeout; a minute more for clock skew. None when
    invocations are unbounded: then no row is ever known to be a dead sender's by its age alone."""
    return None if host.function_timeout is None else host.function_timeout + _CLOCK_SKEW_MARGIN


UNKNOWN_OUTCOME_MESSAGE = ("The sender stopped before this device's outcome was known; the command is not "
                           "sent twice, so the device may or may not have run it.")


def may_resend(job: Job) -> bool:
    return not commands(job.operations)


def resolve_leftovers(job: Job, rows: Iterable[JobDevice], job_devices, now: datetime) -> list[DeviceOutcome]:
    """Release or fail the `running` rows among `rows`; returns the failures to report (the
    collector records them, and ends the job if that was the last work)."""
    rows = [row for row in rows if row.status is DeviceStatus.RUNNING]
    # A row waiting for an acknowledgement is no sender's: its check messages resolve it, and
    # should they be lost, its timeout does here.
    timed_out_waits = [outcome for row in rows if row.awaiting_version is not None
                       and (outcome := timed_out(row, job.in_progress_limit, now)) is not None]
    running = [row.device_id for row in rows if row.awaiting_version is None]
    if not running:
        return timed_out_waits
    if may_resend(job):
        job_devices.release(job.id, running, now, job.incarnation)
        return timed_out_waits
    return timed_out_waits + [DeviceOutcome.failure(device_id, DeviceErrorCode.OUTCOME_UNKNOWN,
                                                    UNKNOWN_OUTCOME_MESSAGE) for device_id in running]
