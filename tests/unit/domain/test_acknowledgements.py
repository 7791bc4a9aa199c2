"""How a device's reported properties answer for a property written at a desired version."""
from __future__ import annotations

from datetime import timedelta

from shared.domain.acknowledgements import next_look_seconds, timed_out, verdict
from shared.domain.devices import DeviceErrorCode, DeviceStatus, JobDevice
from shared.domain.operations import Operation, OperationType
from tests.fakes import START

FAN = Operation(OperationType.PROPERTY, "fanSpeed", 3, completion="acknowledged")
TARGET = Operation(OperationType.PROPERTY, "thermostat1.targetTemperature", 21, completion="acknowledged")
WRITTEN_ONLY = Operation(OperationType.PROPERTY, "label", "x")
ROW = JobDevice("job", "dev", DeviceStatus.RUNNING, attempts=1, awaiting_version=7, awaiting_since=START)


def ack(ac=200, av=7, ad="completed"):
    return {"value": 3, "ac": ac, "av": av, "ad": ad}


def test_an_acknowledgement_of_the_version_written_or_a_later_one_completes_the_device():
    for reported in ({"fanSpeed": ack()}, {"fanSpeed": ack(av=9)}):
        outcome = verdict((FAN,), reported, ROW)
        assert (outcome.succeeded, outcome.attempt) == (True, 1)


def test_an_older_version_an_in_progress_or_a_start_up_answer_is_no_answer_yet():
    for reported in ({}, {"fanSpeed": ack(av=6)}, {"fanSpeed": ack(ac=202)}, {"fanSpeed": ack(ac=203)},
                     {"fanSpeed": 3}, {"fanSpeed": {"value": 3}}):
        assert verdict((FAN,), reported, ROW) is None, reported


def test_a_component_property_is_read_under_its_component_and_every_acknowledged_one_must_answer():
    both = (FAN, TARGET, WRITTEN_ONLY)
    assert verdict(both, {"fanSpeed": ack()}, ROW) is None
    outcome = verdict(both, {"fanSpeed": ack(), "thermostat1": {"__t": "c", "targetTemperature": ack()}}, ROW)
    assert outcome.succeeded


def test_a_rejection_fails_with_the_devices_description_and_a_missing_twin_as_deleted():
    outcome = verdict((FAN,), {"fanSpeed": ack(ac=400, ad="out of range")}, ROW)
    assert (outcome.error_code, outcome.error_message) == (DeviceErrorCode.DEVICE_REJECTED,
                                                           "The device rejected fanSpeed (ac 400): out of range")
    assert verdict((FAN,), None, ROW).error_code is DeviceErrorCode.DEVICE_NOT_FOUND


def test_the_timeout_counts_from_the_write_and_looks_grow_sparser_but_never_pass_it():
    limit = timedelta(minutes=10)
    assert timed_out(ROW, limit, START + timedelta(minutes=9)) is None
    assert timed_out(ROW, limit, START + limit).error_code is DeviceErrorCode.TIMEOUT
    assert next_look_seconds(ROW, START, limit) == 5
    assert next_look_seconds(ROW, START + timedelta(minutes=2), limit) == 30
    assert next_look_seconds(ROW, START + timedelta(minutes=8), limit) == 60
    assert next_look_seconds(ROW, START + timedelta(seconds=590), limit) == 11
