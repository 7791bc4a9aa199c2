"""One client cannot fill the app: past MAX_DRAFT_JOBS a new draft is refused with 409
QuotaExceeded naming the setting, and nothing is written."""
from __future__ import annotations

from shared.domain.jobs import JobStatus
from shared.repositories import JobRepository


def test_drafts_past_the_limit_are_refused_with_a_clear_error(stack, jobs, host_settings):
    drafts = JobRepository(stack.tables).count([JobStatus.DRAFT])
    host_settings(MAX_DRAFT_JOBS=str(drafts + 2))
    group = jobs.group("SELECT * FROM devices WHERE tags.type = 'vending'")
    body = {"displayName": "Draft", "group": group, "data": [{"type": "property", "path": "fanSpeed", "value": 1}]}
    assert [jobs.api.post("jobs", body).status_code for _ in range(2)] == [201, 201]
    refused = jobs.api.post("jobs", body)
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert (error["code"], error["target"], refused.headers["x-ms-error-code"]) == \
        ("QuotaExceeded", "MAX_DRAFT_JOBS", "QuotaExceeded")
    assert JobRepository(stack.tables).count([JobStatus.DRAFT]) == drafts + 2
