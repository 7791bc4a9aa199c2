"""The registry-exports container against Azurite: an export is read back line by line, a range
of bytes at a time, exactly as IoT Hub wrote it."""
import pytest
from azure.storage.blob import BlobServiceClient

from shared import registry_exports
from shared.registry_exports import RegistryExports


@pytest.fixture
def service(storage_connection_string) -> BlobServiceClient:
    return BlobServiceClient.from_connection_string(storage_connection_string)


@pytest.fixture
def exports(service, unique_name) -> RegistryExports:
    exports = RegistryExports(service, container=unique_name)
    exports.ensure_container()
    return exports


@pytest.fixture
def write(service, unique_name, exports):
    return lambda content: service.get_container_client(unique_name).upload_blob("export.txt", content)


def test_lines_that_cross_read_ranges_come_back_whole_and_in_order(exports, write, monkeypatch):
    monkeypatch.setattr(registry_exports, "READ_RANGE", 7)  # every line spans two or more ranges
    devices = [f'{{"id":"device-{n:03d}","status":"enabled"}}'.encode() for n in range(25)]
    write(b"\n".join(devices) + b"\n")

    assert list(exports.lines("export.txt")) == devices


def test_a_last_line_without_newline_and_blank_lines_are_handled(exports, write, monkeypatch):
    monkeypatch.setattr(registry_exports, "READ_RANGE", 16)
    write(b'{"id":"a"}\n\n  \n{"id":"b"}\n{"id":"c"}')

    assert list(exports.lines("export.txt")) == [b'{"id":"a"}', b'{"id":"b"}', b'{"id":"c"}']


def test_an_empty_export_has_no_lines(exports, write):
    write(b"")

    assert list(exports.lines("export.txt")) == []
