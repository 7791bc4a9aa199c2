"""Which jobs a registry export plans: the planner's rule, which the preview's estimate follows."""
from __future__ import annotations

import pytest

from shared.domain.jobs import Job
from shared.domain.operations import Operation, OperationType
from shared.domain.registry_export import plans_from_export
from tests.fakes import START

FAN = Operation(OperationType.PROPERTY, "fanSpeed", 3)
WEST = "SELECT * FROM devices WHERE tags.region = 'west'"


def job(**changes) -> Job:
    fields = dict(id="j", display_name="J", group_id="g", operations=(FAN,), created_at=START, last_modified=START)
    return Job(**(fields | changes))


def test_a_groups_whole_set_is_planned_from_an_export_when_exports_are_on():
    assert plans_from_export(job(), WEST, exports_on=True)
    assert not plans_from_export(job(), WEST, exports_on=False)


@pytest.mark.parametrize("changes", [
    {"devices": ("d1", "d2")},  # an explicit subset: read by id
    {"rerun_of": "earlier"},  # a rerun: the failed rows of another job
    {"operations": (Operation(OperationType.PROPERTY, "fanSpeed", 3, target="dtmi:x:y;1"),)},  # no model ids
])
def test_subsets_reruns_and_model_targets_are_planned_by_queries(changes):
    assert not plans_from_export(job(**changes), WEST, exports_on=True)


def test_a_filter_on_what_an_export_lacks_is_planned_by_queries():
    assert not plans_from_export(job(), "SELECT * FROM devices WHERE connectionState = 'Connected'", exports_on=True)
