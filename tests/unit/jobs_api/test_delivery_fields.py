"""The delivery fields (ours): `retry`, `rolloutRate`, `timeout` and a property's `completion`
are validated naming the field, stored with drafts, copied by copy, kept by rerun and shown."""
from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from jobs_api import jobs as use_cases
from jobs_api import scheduled_jobs
from jobs_api.errors import from_exception
from jobs_api.models import DraftRequest, JobDefinition, JobPatch, ScheduledJobDefinition
from shared.domain.devices import DeviceOutcome
from shared.domain.errors import InvalidField
from shared.domain.jobs import JobStatus
from shared.domain.schedules import Occurrence, occurrences
from tests.unit.jobs_api.conftest import definition

FIELDS = {"retry": {"criteria": [{"failureType": "DeviceNotOnline", "numberOfRetries": 2}],
                    "backoff": {"initialSeconds": 10, "maximumSeconds": 120}},
          "rolloutRate": {"maximumPerMinute": 600},
          "timeout": {"inProgressMinutes": 15}}
ACKNOWLEDGED = [{"type": "property", "path": "fanSpeed", "value": 2, "completion": "acknowledged"}]


def refused(body: dict) -> str:
    try:
        JobDefinition.model_validate({"group": "west", "data": ACKNOWLEDGED, **body})
    except ValidationError as error:
        api_error = from_exception(error)
        assert api_error.status == 400
        return api_error.target
    raise AssertionError("accepted")


@pytest.mark.parametrize("body, target", [
    ({"retry": {"criteria": [{"failureType": "Sometimes", "numberOfRetries": 1}]}}, "retry.criteria[0].failureType"),
    ({"retry": {"criteria": [{"failureType": "all", "numberOfRetries": -1}]}}, "retry.criteria[0].numberOfRetries"),
    ({"retry": {"criteria": []}}, "retry.criteria"),
    ({"retry": {"criteria": [{"failureType": "all", "numberOfRetries": 1}], "backoff": {"initialSeconds": 601}}},
     "retry.backoff.initialSeconds"),
    ({"rolloutRate": {}}, "rolloutRate"),
    ({"rolloutRate": {"maximumPerMinute": 0}}, "rolloutRate.maximumPerMinute"),
    ({"rolloutRate": {"exponentialRate": {"baseRatePerMinute": 10, "incrementFactor": 1.0,
                                          "rateIncreaseCriteria": {"numberOfNotifiedDevices": 5}}}},
     "rolloutRate.exponentialRate.incrementFactor"),
    ({"rolloutRate": {"exponentialRate": {"baseRatePerMinute": 10, "incrementFactor": 2,
                                          "rateIncreaseCriteria": {}}}},
     "rolloutRate.exponentialRate.rateIncreaseCriteria"),
    ({"timeout": {"inProgressMinutes": 0}}, "timeout.inProgressMinutes"),
    ({"timeout": {"inProgressMinutes": "5"}}, "timeout.inProgressMinutes"),
    ({"data": [{"type": "property", "path": "p", "value": 1, "completion": "eventually"}]}, "data[0].completion"),
])
def test_bad_values_are_refused_naming_the_field(body, target):
    assert refused(body) == target


def test_completion_applies_to_properties_only(ctx):
    command = definition(data=[{"type": "command", "path": "reboot", "completion": "acknowledged"}])
    with pytest.raises(InvalidField) as refusal:
        use_cases.create_job("job-1", command, ctx)
    assert refusal.value.field == "data[0].completion"
    assert ctx.jobs.list_recent(ctx.clock()) == []


def test_the_fields_are_stored_shown_copied_and_kept_by_a_rerun(ctx):
    job = use_cases.create_job("job-1", definition(data=ACKNOWLEDGED, **FIELDS), ctx)
    shown = use_cases.get_job("job-1", ctx).to_json()
    assert {name: shown[name] for name in FIELDS} == FIELDS
    assert shown["data"][0]["completion"] == "acknowledged"

    copied = use_cases.copy_job("job-1", ctx)
    assert (copied.retry, copied.rollout_rate, copied.timeout) == (job.retry, job.rollout_rate, job.timeout)
    assert copied.operations[0].acknowledged

    stored = ctx.jobs.get("job-1")
    stored.start(ctx.clock())
    ctx.jobs.update(stored)
    ctx.job_devices.add_pending("job-1", ["vending-0001"], ctx.clock(), stored.incarnation)
    ctx.job_devices.record_outcomes("job-1", [DeviceOutcome.failure("vending-0001", "DeviceNotOnline", "offline")],
                                    ctx.clock(), stored.incarnation)
    ended = ctx.jobs.get("job-1")
    ended.finish(ctx.job_devices.get_progress("job-1"), ctx.clock())
    ctx.jobs.update(ended)
    rerun = use_cases.rerun_job("job-1", "job-2", ctx)
    assert (rerun.retry, rerun.rollout_rate, rerun.timeout) == (job.retry, job.rollout_rate, job.timeout)
    assert rerun.status in (JobStatus.PENDING, JobStatus.DRAFT)


def test_a_draft_keeps_them_and_a_patch_replaces_or_drops_them(ctx):
    draft = use_cases.save_draft(DraftRequest.model_validate(
        {"displayName": "Fan", "group": "west", "data": ACKNOWLEDGED, **FIELDS}), ctx)
    assert ctx.jobs.get(draft.id).retry == FIELDS["retry"]
    patch = JobPatch.model_validate({"retry": None, "timeout": {"inProgressMinutes": 5}})
    edited = use_cases.edit_draft(draft.id, patch, None, ctx)
    assert (edited.retry, edited.timeout, edited.rollout_rate) == (None, {"inProgressMinutes": 5},
                                                                   FIELDS["rolloutRate"])


def test_a_scheduled_job_passes_them_on_to_each_run(ctx):
    start = (ctx.clock() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    definition_ = ScheduledJobDefinition.model_validate(
        {"displayName": "Nightly", "group": "west", "data": ACKNOWLEDGED, "schedule": {"start": start}, **FIELDS})
    saved = scheduled_jobs.put_scheduled_job("nightly", definition_, None, ctx)
    shown = scheduled_jobs.read_scheduled_job("nightly", ctx).to_json()
    assert {name: shown[name] for name in FIELDS} == FIELDS
    stored = ctx.scheduled_jobs.get("nightly")
    (first,) = occurrences(stored.schedule, ctx.clock(), 1)
    run = stored.run_for(Occurrence(1, first), ctx.clock())
    assert (run.retry, run.rollout_rate, run.timeout) == (FIELDS["retry"], FIELDS["rolloutRate"], FIELDS["timeout"])
    assert run.operations[0].acknowledged and saved.id == "nightly"
