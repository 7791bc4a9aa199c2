"""Messages between the stages, one model per queue. Queue text is the model's JSON (camelCase).

The Functions host base64-decodes trigger messages, so the app's queue senders base64-encode
(see shared.queues).
"""
from __future__ import annotations

from datetime import datetime
from enum import Enum

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic.alias_generators import to_camel

from shared.domain.batching import DeviceBatch
from shared.domain.devices import DeviceErrorCode, DeviceOutcome
from shared.domain.jobs import Job

# A queue message holds 64 KB, base64-encoded: 48 KB of text. Reports stay well below.
MAX_REPORT_BYTES = 40 * 1024
MAX_REPORTED_MESSAGE_LENGTH = 300


class QueueMessageModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore")


class JobMessage(QueueMessageModel):
    """A message about one job: it names the job's id and incarnation, and a stage drops a
    message whose incarnation is not the job's (a job deleted and made again under its id).
    A message sent before incarnations existed names none: it is for a job stored before
    them, whose incarnation reads as "" too."""
    job_id: str
    incarnation: str = ""
    resent: int = 0  # times a stage sent it again itself rather than let it go to poison (see later())

    def is_for(self, job: Job) -> bool:
        return job.id == self.job_id and job.incarnation == self.incarnation

    def later(self):
        """The same message, to be sent again after a failure that waiting may cure (storage
        out of reach), instead of being delivered again at once until the host gives up."""
        return self.model_copy(update={"resent": self.resent + 1})

    def to_text(self) -> str:
        return self.model_dump_json(by_alias=True)

    @classmethod
    def from_text(cls, text: str | bytes):
        return cls.model_validate_json(text)


class PlanKind(str, Enum):
    """What a `jobs-plan` message asks of the planner."""
    PLAN = "plan"  # resolve a pending job's targets (sent by the API when a job is run)
    CONTINUE = "continue"  # go on resolving a large group from the hub query's `continuation`
    DISPATCH_MORE = "dispatchMore"  # go on sending dispatch messages after the device `after`
    RESUME = "resume"  # a resumed job: resolve dead senders' leftovers, batch its pending devices
    WATCH = "watch"  # the stall watchdog's look at a running job
    NEXT_BATCH = "nextBatch"  # rollout batch `finished` has every outcome: start the next one
    EXPORTED = "exported"  # look at registry export `exportId`; once written, plan from it (after `after`)


class PlanRequest(JobMessage):
    """jobs-plan: one message kind per job of the planner, with the fields that kind needs.

    A watch message is sent with a delay while the job runs; `progress` holds the counters seen
    by the previous look and `since` the job's lastModified that started the chain (a stop,
    resume or end changes it, which ends the chain)."""
    kind: PlanKind
    continuation: str | None = None  # CONTINUE: the hub query's position
    after: str | None = None  # DISPATCH_MORE: the last device id already batched
    progress: dict[str, int | str | None] | None = None  # WATCH: the counters (and planning's position)
    # WATCH; DISPATCH_MORE of a paced job: the run (job lastModified) its steps belong to. EXPORTED
    # carrying on: when the job's first page was sent (later pages are visible at its fair share).
    since: datetime | None = None
    # WATCH of a pending job: planning was already asked again once. EXPORTED: the job had rows
    # before this planning (planned again), so its pending rows are batched anew at the end.
    replanned: bool = False
    finished: int | None = None  # NEXT_BATCH: the index of the rollout batch that finished
    export_id: str | None = None  # EXPORTED: IoT Hub's export job
    export_blob: str | None = None  # EXPORTED: the blob it writes, in the registry-exports container
    asked_at: datetime | None = None  # EXPORTED: when the export was asked for (how long to wait)

    @model_validator(mode="before")
    @classmethod
    def _kind_of_a_message_sent_before_kinds(cls, data: object) -> object:
        """Messages queued by an earlier version said their kind with flags."""
        if not isinstance(data, dict) or "kind" in data:
            return data
        legacy = {key: value for key, value in data.items() if key not in ("watch", "resume", "dispatchAfter")}
        if data.get("watch"):
            return {**legacy, "kind": PlanKind.WATCH}
        if data.get("resume"):
            return {**legacy, "kind": PlanKind.RESUME}
        if data.get("dispatchAfter") is not None:
            return {**legacy, "kind": PlanKind.DISPATCH_MORE, "after": data["dispatchAfter"]}
        if data.get("continuation") is not None:
            return {**legacy, "kind": PlanKind.CONTINUE}
        return {**legacy, "kind": PlanKind.PLAN}

    @model_validator(mode="after")
    def _has_what_its_kind_needs(self) -> "PlanRequest":
        needed = {PlanKind.CONTINUE: "continuation", PlanKind.DISPATCH_MORE: "after", PlanKind.WATCH: "since",
                  PlanKind.NEXT_BATCH: "finished", PlanKind.EXPORTED: "export_id"}
        field = needed.get(self.kind)
        if field and getattr(self, field) is None:
            raise ValueError(f"a {self.kind.value} message needs {field}")
        return self

    @classmethod
    def plan(cls, job: Job) -> "PlanRequest":
        return cls(kind=PlanKind.PLAN, job_id=job.id, incarnation=job.incarnation)

    @classmethod
    def continuing(cls, job: Job, continuation: str) -> "PlanRequest":
        return cls(kind=PlanKind.CONTINUE, job_id=job.id, incarnation=job.incarnation, continuation=continuation)

    @classmethod
    def dispatch_more(cls, job: Job, after: str) -> "PlanRequest":
        return cls(kind=PlanKind.DISPATCH_MORE, job_id=job.id, incarnation=job.incarnation, after=after)

    @classmethod
    def next_batch(cls, job_id: str, incarnation: str, finished: int) -> "PlanRequest":
        return cls(kind=PlanKind.NEXT_BATCH, job_id=job_id, incarnation=incarnation, finished=finished)

    @classmethod
    def exported(cls, job: Job, export_id: str, export_blob: str, asked_at: datetime,
                 after: str | None = None) -> "PlanRequest":
        return cls(kind=PlanKind.EXPORTED, job_id=job.id, incarnation=job.incarnation, export_id=export_id,
                   export_blob=export_blob, asked_at=asked_at, after=after)

    @classmethod
    def resume(cls, job: Job) -> "PlanRequest":
        return cls(kind=PlanKind.RESUME, job_id=job.id, incarnation=job.incarnation)

    @classmethod
    def watch(cls, job: Job, progress: dict[str, int] | None, replanned: bool = False) -> "PlanRequest":
        return cls(kind=PlanKind.WATCH, job_id=job.id, incarnation=job.incarnation, progress=progress,
                   since=job.last_modified, replanned=replanned)


class DispatchRequest(JobMessage):
    """jobs-dispatch: send a job's operations to the devices firstDeviceId..lastDeviceId (one
    batch of at most 98 consecutive ids, as they sort). With `acknowledgements`, send nothing:
    look whether the devices of the range that wait for an acknowledgement have given it."""
    first_device_id: str
    last_device_id: str
    size: int
    acknowledgements: bool = False

    @classmethod
    def of(cls, job: Job, batch: DeviceBatch) -> "DispatchRequest":
        return cls.of_range(job.id, job.incarnation, batch)

    @classmethod
    def of_range(cls, job_id: str, incarnation: str, batch: DeviceBatch,
                 acknowledgements: bool = False) -> "DispatchRequest":
        return cls(job_id=job_id, incarnation=incarnation, first_device_id=batch.first_device_id,
                   last_device_id=batch.last_device_id, size=batch.size, acknowledgements=acknowledgements)

    @classmethod
    def check_acknowledgements(cls, job_id: str, incarnation: str, batch: DeviceBatch) -> "DispatchRequest":
        return cls.of_range(job_id, incarnation, batch, acknowledgements=True)

    @property
    def batch(self) -> DeviceBatch:
        return DeviceBatch(self.first_device_id, self.last_device_id, self.size)


class ReportedOutcome(QueueMessageModel):
    """One device's outcome: no errorCode means it succeeded. `attempt` numbers the sender's
    attempt (absent in reports sent before attempts were); `retryIn`, a failure the job tries
    again after that many seconds."""
    device_id: str
    error_code: DeviceErrorCode | None = None
    error_message: str | None = None
    attempt: int | None = None
    retry_in: float | None = None
    awaiting_version: int | None = None  # written: the device is to acknowledge this desired version

    def to_text(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)

    @classmethod
    def of(cls, outcome: DeviceOutcome) -> "ReportedOutcome":
        message = outcome.error_message[:MAX_REPORTED_MESSAGE_LENGTH] if outcome.error_message else None
        return cls(device_id=outcome.device_id, error_code=outcome.error_code, error_message=message,
                   attempt=outcome.attempt, retry_in=round(outcome.retry_in, 1) if outcome.retry_in is not None else None,
                   awaiting_version=outcome.awaiting_version)

    def to_outcome(self) -> DeviceOutcome:
        if self.error_code is None:
            return DeviceOutcome(self.device_id, True, attempt=self.attempt, awaiting_version=self.awaiting_version)
        return DeviceOutcome(self.device_id, False, self.error_code, self.error_message or "", attempt=self.attempt,
                             retry_in=self.retry_in)


class OutcomesReport(JobMessage):
    """jobs-outcomes: what a sender learned about the devices of one batch. An empty list asks
    the collector only to end the job if nothing is left to do."""
    outcomes: list[ReportedOutcome] = []

    @classmethod
    def nothing_left(cls, job: Job) -> "OutcomesReport":
        return cls(job_id=job.id, incarnation=job.incarnation)

    def to_text(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)  # a success is just its id

    @classmethod
    def split(cls, job: Job, outcomes: list[DeviceOutcome]) -> list["OutcomesReport"]:
        """Usually one report; more only when long error messages would pass the queue's 64 KB;
        none for no outcomes."""
        reports, current, size = [], [], 0
        for outcome in outcomes:
            item = ReportedOutcome.of(outcome)
            item_size = len(item.to_text().encode("utf-8"))
            if current and size + item_size > MAX_REPORT_BYTES:
                reports.append(cls(job_id=job.id, incarnation=job.incarnation, outcomes=current))
                current, size = [], 0
            current.append(item)
            size += item_size
        if current:
            reports.append(cls(job_id=job.id, incarnation=job.incarnation, outcomes=current))
        return reports
