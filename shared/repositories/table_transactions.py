"""Entity-group transactions with a light multipart codec.

The Tables SDK frames a transaction's `$batch` body and splits its answer with Python's
`email` package. For the 99-operation transactions a job makes per batch of devices (plan,
claim, record) that costs 38 ms of CPU each, measured against Azurite, where plain byte
joining and splitting take 9 ms. This client keeps everything else of the SDK: it builds each
operation (entity serialisation, ETag conditions, headers), sends the request through its own
pipeline (authentication, retries) and raises the same errors; only the framing is done here.

The wire format is the OData batch of the Table service's REST API ("Performing entity group
transactions"): one changeset holding one `application/http` part per operation.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from azure.core.exceptions import DecodeError
from azure.core.pipeline import Pipeline
from azure.core.rest import HttpRequest
from azure.core.utils import CaseInsensitiveDict
from azure.data.tables import RequestTooLargeError, TableClient, TableServiceClient, TableTransactionError
from azure.data.tables._base_client import TransportWrapper
from azure.data.tables._error import _decode_error, _validate_tablename_error

_CRLF = b"\r\n"


class TransactionTableClient(TableClient):
    """A TableClient whose `submit_transaction` frames the request and parses the answer itself."""

    def _batch_send(self, table_name: str, *operations: HttpRequest, **kwargs) -> list[Mapping[str, Any]]:
        batch, changeset = f"batch_{uuid.uuid4()}", f"changeset_{uuid.uuid4()}"
        request = HttpRequest("POST", f"{self.scheme}://{self._primary_hostname}/$batch", headers={
            "x-ms-version": self.api_version, "DataServiceVersion": "3.0", "MaxDataServiceVersion": "3.0;NetFx",
            "Content-Type": f"multipart/mixed; boundary={batch}", "Accept": "application/json",
        }, content=batch_body(operations, batch, changeset))
        response = self._client.send_request(request, stream=True, **kwargs)
        if response.status_code == 413:
            raise _decode_error(response, error_message="The transaction request was too large",
                                error_type=RequestTooLargeError)
        if response.status_code != 202:
            error = _decode_error(response)
            _validate_tablename_error(error, table_name)
            raise error
        parts = response_parts(response.read(), response.headers.get("Content-Type", ""))
        failed = next((part for part in parts if not 200 <= part.status_code < 300), None)
        if failed is not None:
            error_type = RequestTooLargeError if failed.status_code == 413 else TableTransactionError
            error = _decode_error(response=failed, error_type=error_type)
            _validate_tablename_error(error, table_name)
            raise error
        if len(parts) != len(operations):
            raise DecodeError(f"The transaction's answer has {len(parts)} parts for {len(operations)} operations.",
                              response=response)
        return [{"etag": part.etag} if part.etag else {} for part in parts]


def transaction_client(service: TableServiceClient, table_name: str) -> TableClient:
    """What `service.get_table_client(table_name)` gives, as a TransactionTableClient: the same
    credential, policies and connection pool (built as the SDK's own method builds it)."""
    pipeline = Pipeline(transport=TransportWrapper(service._client._client._pipeline._transport),
                        policies=service._policies)
    return TransactionTableClient(service.url, table_name=table_name, credential=service.credential,
                                  api_version=service.api_version, pipeline=pipeline,
                                  location_mode=service._location_mode, _hosts=service._hosts)


def batch_body(operations: Sequence[HttpRequest], batch: str, changeset: str) -> bytes:
    date = formatdate(usegmt=True)  # what the SDK's headers policy stamps on every operation
    chunks = [f"--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n".encode()]
    for index, operation in enumerate(operations):
        headers = {**operation.headers, "x-ms-date": date, "Date": date}
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        content = operation.content or b""
        chunks += [f"--{changeset}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
                   f"Content-ID: {index}\r\n\r\n{operation.method} {operation.url} HTTP/1.1\r\n{head}\r\n".encode(),
                   content.encode() if isinstance(content, str) else content, _CRLF]
    chunks.append(f"--{changeset}--\r\n\r\n--{batch}--\r\n".encode())
    return b"".join(chunks)


@dataclass
class PartResponse:
    """One operation's answer inside a batch answer; what the SDK's error decoding reads."""
    status_code: int
    reason: str
    fields: dict[str, str] = field(default_factory=dict)  # header names lower-cased
    content: bytes = b""

    @property
    def headers(self) -> CaseInsensitiveDict:
        return CaseInsensitiveDict(self.fields)

    @property
    def etag(self) -> str | None:
        return self.fields.get("etag")

    @property
    def content_type(self) -> str | None:
        return self.fields.get("content-type")

    def read(self) -> bytes:
        return self.content

    def body(self) -> bytes:
        return self.content

    def text(self, encoding: str | None = None) -> str:
        return self.content.decode(encoding or "utf-8-sig")

    def json(self) -> Any:
        return json.loads(self.text())


def response_parts(body: bytes, content_type: str) -> list[PartResponse]:
    """The operations' answers of a batch answer, in order (a failed changeset holds one)."""
    parts = []
    for changeset in _mime_parts(body, _boundary(content_type)):
        headers, content = _split_head(changeset)
        boundary = _boundary(headers.get("content-type", ""))
        if boundary:
            parts += [_http_response(_split_head(part)[1]) for part in _mime_parts(content, boundary)]
        else:
            parts.append(_http_response(content))
    return parts


def _boundary(content_type: str) -> str:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary":
            return value.strip('"')
    return ""


def _mime_parts(body: bytes, boundary: str) -> list[bytes]:
    if not boundary:
        raise DecodeError("The transaction's answer is not multipart/mixed.")
    delimiter = b"--" + boundary.encode()
    sections = body.split(delimiter)[1:]  # before the first delimiter: the preamble
    # Each section starts with the rest of its delimiter line; the closing one starts with "--".
    return [section.split(_CRLF, 1)[1] if _CRLF in section else b""
            for section in sections if not section.startswith(b"--")]


def _split_head(message: bytes) -> tuple[dict[str, str], bytes]:
    head, _, content = message.partition(_CRLF + _CRLF)
    headers = {}
    for line in head.decode("latin-1").split("\r\n"):
        name, separator, value = line.partition(":")
        if separator:
            headers[name.strip().lower()] = value.strip()
    return headers, content


def _http_response(message: bytes) -> PartResponse:
    status_line, _, rest = message.partition(_CRLF)
    _, status, reason = (status_line.decode("latin-1").split(" ", 2) + ["", ""])[:3]
    if not status.isdigit():
        raise DecodeError(f"A part of the transaction's answer has no HTTP status line: {status_line[:80]!r}")
    headers, content = _split_head(rest)
    return PartResponse(int(status), reason, headers, content.rstrip(_CRLF))
