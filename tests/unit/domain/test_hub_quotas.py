from shared.domain.hub_quotas import HubQuotas, fair_share_delay
from shared.domain.operations import Operation, OperationType

S1 = HubQuotas(twin_updates_per_second=50, method_units_per_second=40, queries_per_minute=20)
FAN = Operation(OperationType.PROPERTY, "fanSpeed", 3)
REBOOT = Operation(OperationType.COMMAND, "reboot", None)


def test_a_job_s_batches_are_visible_a_little_faster_than_the_hub_allows_it_alone():
    assert fair_share_delay(0, [FAN], S1) == 0
    assert fair_share_delay(98, [FAN], S1) == 98 / (50 * 1.25)
    assert fair_share_delay(98, [REBOOT], S1) == 98 / (40 * 1.25)
    assert fair_share_delay(98, [FAN, FAN, REBOOT], S1) == 98 / (25 * 1.25)  # two updates a device bind first


def test_no_pacing_no_delay():
    assert fair_share_delay(10_000, [FAN], HubQuotas(0, 0, 0)) == 0


def test_jobs_started_together_have_their_batches_interleaved_in_visibility_order():
    visible = sorted([(fair_share_delay(n * 98, [FAN], S1), job) for job in "AB" for n in range(5)])
    assert [job for _, job in visible] == ["A", "B"] * 5
