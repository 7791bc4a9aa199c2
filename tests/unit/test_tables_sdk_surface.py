"""The private surface of azure-data-tables that shared/repositories/table_transactions.py stands on.

TransactionTableClient overrides TableClient._batch_send and reads private names of the SDK, so
requirements.txt pins the SDK exactly. Before moving the pin, these tests say what changed:
the private imports and attributes, the overridden method's signature, whether
submit_transaction still goes through it, how the SDK's error decoding reads an operation's
answer, and the SDK functions the module mirrors.
"""
from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import io
import textwrap
from importlib.metadata import version
from pathlib import Path

import pytest
import requests
import urllib3
from azure.core.exceptions import ResourceNotFoundError
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableClient, TableServiceClient, TableTransactionError
from packaging.requirements import Requirement
from requests.adapters import HTTPAdapter

from shared.repositories import table_transactions
from shared.repositories.table_transactions import TransactionTableClient, transaction_client

ROOT = Path(__file__).resolve().parents[2]
SOURCE = Path(table_transactions.__file__)
SDK = "azure-data-tables"
CONNECTION = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
              "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;")

# The SDK's code that table_transactions.py mirrors (_batch_send, get_table_client) or is called
# from (submit_transaction), fingerprinted at the pinned version: a new release that changes one
# needs a reading of the change before the pin moves.
MIRRORED = {
    "azure.data.tables._base_client:TablesBaseClient._batch_send": "cc67e28783d8273a",
    "azure.data.tables._table_client:TableClient.submit_transaction": "222f1e157cd0a52e",
    "azure.data.tables._table_service_client:TableServiceClient.get_table_client": "ceec14cb73484088",
}


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


# ------------------------------------------------------------------ the pin

def test_the_installed_sdk_is_the_one_requirements_txt_pins():
    requirements = [Requirement(line.split("#")[0]) for line in (ROOT / "requirements.txt").read_text().splitlines()
                    if line.split("#")[0].strip() and not line.startswith("-")]
    [pin] = [requirement for requirement in requirements if requirement.name == SDK]
    [specifier] = list(pin.specifier) or [None]
    assert specifier is not None and specifier.operator == "==", (
        f"requirements.txt must pin {SDK} exactly (==), not {pin.specifier}: table_transactions.py overrides its private _batch_send")
    assert version(SDK) == specifier.version, (
        f"requirements.txt pins {SDK}=={specifier.version} but {version(SDK)} is installed: run `make setup`")


# ------------------------------------------------------------------ names and signatures

def private_imports() -> list[tuple[str, str]]:
    """(module, name) of every `from azure... import name` where either is private."""
    return [(node.module, alias.name) for node in ast.walk(ast.parse(SOURCE.read_text()))
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("azure.")
            for alias in node.names
            if is_private(alias.name) or any(is_private(part) for part in node.module.split("."))]


def test_every_private_name_table_transactions_imports_still_exists():
    imports = private_imports()
    assert imports, "found no private import in table_transactions.py: is this test still needed?"
    missing = []
    for module_name, name in imports:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            missing.append(f"module {module_name}")
            continue
        if not hasattr(module, name):
            missing.append(f"{module_name}.{name}")
    assert not missing, f"{SDK} {version(SDK)} no longer has what table_transactions.py imports: {missing}"


def attribute_chains(function: ast.AST, root: str) -> set[str]:
    """Every `root.a.b` that the function reads (each prefix included)."""
    chains = set()
    for node in ast.walk(function):
        names = []
        while isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id == root and names:
            chains.add(".".join([root, *reversed(names)]))
    return chains


def test_every_attribute_table_transactions_reads_on_sdk_clients_still_exists():
    tree = ast.parse(SOURCE.read_text())
    # Where the module reads attributes of the SDK's clients: the override's `self`, the factory's `service`.
    [override] = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "TransactionTableClient"]
    [factory] = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "transaction_client"]
    service = TableServiceClient.from_connection_string(CONNECTION)
    objects = {"self": (override, transaction_client(service, "jobdevices")), "service": (factory, service)}

    missing = []
    for root, (scope, value) in objects.items():
        for chain in sorted(attribute_chains(scope, root)):
            target = value
            for name in chain.split(".")[1:]:
                if not hasattr(target, name):
                    missing.append(f"{chain} ({type(value).__name__} has no {name} there)")
                    break
                target = getattr(target, name)
    assert not missing, f"{SDK} {version(SDK)}: table_transactions.py reads what is gone: {missing}"

    checked = {id(node) for scope in (override, factory) for node in ast.walk(scope)}
    elsewhere = sorted(f"line {node.lineno}: .{node.attr}" for node in ast.walk(tree)
                       if isinstance(node, ast.Attribute) and is_private(node.attr) and id(node) not in checked)
    assert not elsewhere, f"table_transactions.py reads private attributes this test does not check: {elsewhere}"


def test_batch_send_still_has_the_signature_the_override_takes():
    assert "_batch_send" in vars(TransactionTableClient), "TransactionTableClient no longer overrides _batch_send"
    assert hasattr(TableClient, "_batch_send"), f"{SDK} {version(SDK)}: TableClient has no _batch_send to override"
    ours, theirs = inspect.signature(TransactionTableClient._batch_send), inspect.signature(TableClient._batch_send)

    def shape(signature: inspect.Signature) -> list[tuple[str, object]]:
        # The names of *args and **kwargs are the override's own business.
        return [("*" if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) else p.name, p.kind)
                for p in signature.parameters.values()]

    assert shape(theirs) == shape(ours), (
        f"{SDK} {version(SDK)}: TableClient._batch_send{theirs} no longer matches the override's _batch_send{ours}")


def transaction_client_and_sdk_client() -> tuple[TableClient, TableClient]:
    service = TableServiceClient.from_connection_string(CONNECTION)
    return transaction_client(service, "jobdevices"), service.get_table_client("jobdevices")


def test_transaction_client_is_configured_as_get_table_client_configures_a_client():
    ours, theirs = transaction_client_and_sdk_client()
    for name in ("url", "table_name", "api_version", "credential", "_hosts", "_location_mode", "_primary_hostname"):
        assert getattr(ours, name) == getattr(theirs, name), (
            f"{SDK} {version(SDK)}: get_table_client builds its client differently: {name} differs")
    assert [type(policy) for policy in ours._policies] == [type(policy) for policy in theirs._policies]


# ------------------------------------------------------------------ behaviour, through a canned transport

class CannedAdapter(HTTPAdapter):
    """requests' transport adapter answering every request with one canned answer."""

    def __init__(self, status: int, content_type: str, body: str):
        super().__init__()
        self.answer, self.sent = (status, content_type, body.encode()), []

    def send(self, request, **kwargs):
        self.sent.append(request)
        status, content_type, body = self.answer
        return self.build_response(request, urllib3.HTTPResponse(
            body=io.BytesIO(body), headers={"Content-Type": content_type}, status=status, preload_content=False))


def canned_client(adapter: CannedAdapter) -> TableClient:
    session = requests.Session()
    session.mount("http://", adapter)
    service = TableServiceClient.from_connection_string(
        CONNECTION, transport=RequestsTransport(session=session, session_owner=False))
    return transaction_client(service, "jobdevices")


def part(status_line: str, headers: str = "", content: str = "") -> str:
    return ("--changesetresponse_7\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            f"HTTP/1.1 {status_line}\r\n{headers}\r\n{content}\r\n")


def batch_answer(*parts: str) -> str:
    return ("--batchresponse_9\r\nContent-Type: multipart/mixed; boundary=changesetresponse_7\r\n\r\n"
            + "".join(parts) + "--changesetresponse_7--\r\n--batchresponse_9--\r\n")


BATCH_ANSWER = 'multipart/mixed; boundary="batchresponse_9"'
OPERATIONS = [("create", {"PartitionKey": "job", "RowKey": "d1"}), ("upsert", {"PartitionKey": "job", "RowKey": "d2"})]


def test_submit_transaction_goes_through_the_override(monkeypatch):
    real_body, real_parts, framed, read = table_transactions.batch_body, table_transactions.response_parts, [], []

    def spy_body(*args):
        framed.append(real_body(*args))
        return framed[-1]

    def spy_parts(*args):
        read.append(args)
        return real_parts(*args)

    monkeypatch.setattr(table_transactions, "batch_body", spy_body)
    monkeypatch.setattr(table_transactions, "response_parts", spy_parts)
    adapter = CannedAdapter(202, BATCH_ANSWER, batch_answer(
        part("201 Created", 'ETag: W/"1"\r\n'), part("204 No Content", 'ETag: W/"2"\r\n')))

    results = canned_client(adapter).submit_transaction(OPERATIONS)

    assert framed and read, (f"{SDK} {version(SDK)}: TableClient.submit_transaction no longer calls "
                             "self._batch_send, so the override is bypassed")
    assert results == [{"etag": 'W/"1"'}, {"etag": 'W/"2"'}]
    [sent] = adapter.sent
    assert sent.url.endswith("/devstoreaccount1/$batch") and sent.body == framed[0]
    # Sent through the service's pipeline: its transport, and its policies (shared-key signing).
    assert sent.headers["Authorization"].startswith("SharedKey devstoreaccount1:")


ODATA_ERROR = '{{"odata.error":{{"code":"{code}","message":{{"lang":"en-US","value":"{message}"}}}}}}'
JSON = "Content-Type: application/json;odata=minimalmetadata;charset=utf-8\r\n"


@pytest.mark.parametrize("status, content_type, body, error_type, expected", [
    pytest.param(202, BATCH_ANSWER, batch_answer(part(
        "412 Precondition Failed", JSON, ODATA_ERROR.format(code="UpdateConditionNotSatisfied", message="1:Stale."))),
        TableTransactionError, {"status_code": 412, "error_code": "UpdateConditionNotSatisfied", "index": 1},
        id="a failed operation"),
    pytest.param(404, "application/json", ODATA_ERROR.format(code="TableNotFound", message="No table."),
                 ResourceNotFoundError, {"status_code": 404, "error_code": "TableNotFound"}, id="a failed request"),
])
def test_errors_are_decoded_by_the_sdk_as_it_decodes_its_own(status, content_type, body, error_type, expected):
    # _decode_error reads an operation's answer through the attributes PartResponse provides.
    with pytest.raises(error_type) as raised:
        canned_client(CannedAdapter(status, content_type, body)).submit_transaction(OPERATIONS)
    found = {name: getattr(raised.value, name) for name in expected}
    assert found == expected, f"{SDK} {version(SDK)}: _decode_error decodes the answer differently: {found}"


# ------------------------------------------------------------------ the mirrored code

def fingerprint(qualified: str) -> str:
    """The function's code, docstring, comments and layout aside."""
    module_name, _, path = qualified.partition(":")
    target = importlib.import_module(module_name)
    for name in path.split("."):
        target = getattr(target, name)
    function = ast.parse(textwrap.dedent(inspect.getsource(target))).body[0]
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        function.body = body[1:]
    return hashlib.sha256(ast.unparse(function).encode()).hexdigest()[:16]


@pytest.mark.parametrize("qualified", MIRRORED)
def test_the_sdk_code_table_transactions_mirrors_is_unchanged(qualified):
    assert fingerprint(qualified) == MIRRORED[qualified], (
        f"{SDK} {version(SDK)} changed {qualified.partition(':')[2]}, which table_transactions.py mirrors or is "
        f"called from: port what changed into it, then record the new fingerprint {fingerprint(qualified)!r}")
