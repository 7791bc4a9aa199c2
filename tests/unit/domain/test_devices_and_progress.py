import pytest

from shared.domain.devices import DeviceErrorCode, DeviceOutcome, DeviceStatus, JobDevice, can_move
from shared.domain.errors import IllegalTransition
from shared.domain.limits import MAX_ERROR_MESSAGE_LENGTH
from shared.domain.progress import Progress
from tests.unit.domain.conftest import NOW

P, R, C, F = DeviceStatus.PENDING, DeviceStatus.RUNNING, DeviceStatus.COMPLETED, DeviceStatus.FAILED
ALLOWED = {(P, R), (P, C), (P, F), (R, P), (R, C), (R, F)}


@pytest.mark.parametrize("source", list(DeviceStatus))
@pytest.mark.parametrize("target", list(DeviceStatus))
def test_device_state_machine(source, target):
    assert can_move(source, target) == ((source, target) in ALLOWED)
    device = JobDevice("job", "dev", source)
    if (source, target) in ALLOWED:
        assert device.moved_to(target, NOW).status is target
    else:
        with pytest.raises(IllegalTransition):
            device.moved_to(target, NOW)


def test_the_error_vocabulary():
    assert {code.value for code in DeviceErrorCode} == {
        "DeviceNotFound", "DeviceNotOnline", "Timeout", "Throttled", "DeviceRejected", "EdgeNotSupported",
        "InvalidValue", "OutcomeUnknown", "HubError", "ModelMismatch"}


def test_a_failure_outcome_keeps_code_and_a_bounded_message():
    outcome = DeviceOutcome.failure("dev", DeviceErrorCode.DEVICE_NOT_FOUND, "gone " * 1000)
    device = JobDevice("job", "dev", R).with_outcome(outcome, NOW)
    assert (device.status, device.error_code, device.deleted) == (F, DeviceErrorCode.DEVICE_NOT_FOUND, True)
    assert len(device.error_message) == MAX_ERROR_MESSAGE_LENGTH and device.updated_at == NOW


def test_success_clears_errors_and_final_rows_refuse_outcomes():
    device = JobDevice("job", "dev", R).with_outcome(DeviceOutcome.success("dev"), NOW)
    assert (device.status, device.error_code, device.deleted) == (C, None, False)
    with pytest.raises(IllegalTransition):
        device.with_outcome(DeviceOutcome.success("dev"), NOW)


def test_progress_moves_counts_and_they_add_up():
    progress = Progress().with_planned(3).moved(P, R, 2).moved(R, C).moved(R, F).moved(P, F)
    assert progress.as_dict() == {"total": 3, "pending": 0, "running": 0, "completed": 1, "failed": 2}
    assert progress.is_done and not progress.succeeded


def test_progress_end_rule():
    assert not Progress(total=2, pending=1, completed=1).is_done
    assert not Progress(total=2, running=1, completed=1).is_done
    assert Progress(total=2, completed=2).succeeded
    assert Progress().is_done and Progress().succeeded  # an empty group completes

