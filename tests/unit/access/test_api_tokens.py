"""API tokens in IoT Central's form: minted, parsed and verified against the stored record."""
from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta, timezone

import pytest

from shared.access import api_tokens
from shared.access.api_tokens import CredentialRefused, PresentedToken
from shared.domain.access import OPERATOR, VIEWER, ApiToken, ApiTokenNotFound

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
EXPIRY = datetime(2027, 11, 26, 12, 0, tzinfo=timezone.utc)
EXPIRY_MS = int(EXPIRY.timestamp() * 1000)
APP = "bulk-jobs"
NOT_VALID, EXPIRED, MALFORMED = ("The API token is not valid.", "The API token has expired.",
                                 "The API token is malformed.")
FORM = re.compile(r"SharedAccessSignature sr=(?P<sr>[^&]+)&sig=(?P<sig>[^&]+)&skn=(?P<skn>[^&]+)&se=(?P<se>[0-9]+)")


class Store:
    """Records by id, as the repository's `get` reads them."""

    def __init__(self, *records: ApiToken):
        self.records = {record.id: record for record in records}
        self.reads: list[str] = []

    def find(self, token_id: str) -> ApiToken:
        self.reads.append(token_id)
        if token_id not in self.records:
            raise ApiTokenNotFound(token_id)
        return self.records[token_id]


def minted(token_id: str = "ci-deploy", expiry: datetime = EXPIRY, app: str = APP):
    return api_tokens.mint(token_id, (OPERATOR.id,), expiry, app, NOW, created_by="user:ana")


def fields(token: str) -> dict[str, str]:
    return FORM.fullmatch(token).groupdict()


def header(sr=APP, sig="c2VjcmV0", skn="ci-deploy", se=str(EXPIRY_MS)) -> str:
    return f"SharedAccessSignature sr={sr}&sig={sig}&skn={skn}&se={se}"


def refusal(token: str, store: Store, now: datetime = NOW, app: str = APP) -> CredentialRefused:
    with pytest.raises(CredentialRefused) as refused:
        api_tokens.verify(token, store.find, app, now)
    return refused.value


def test_a_minted_token_verifies_to_its_record():
    token = minted()
    assert api_tokens.verify(token.token, Store(token.record).find, APP, NOW) == token.record


def test_the_token_has_iot_centrals_form():
    token = minted()
    parts = fields(token.token)
    assert (parts["sr"], parts["skn"], parts["se"]) == (APP, "ci-deploy", str(EXPIRY_MS))
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", parts["sig"])  # 256 bits, URL-safe base64 without padding


def test_the_record_holds_what_was_asked_and_a_hash():
    record = minted().record
    assert (record.id, record.role_ids, record.expiry, record.created_at, record.created_by) == (
        "ci-deploy", (OPERATOR.id,), EXPIRY, NOW, "user:ana")
    assert re.fullmatch(r"[0-9a-f]{64}", record.secret_hash)


def test_the_record_holds_neither_the_secret_nor_the_token():
    token = minted()
    secret = fields(token.token)["sig"]
    for field in dataclasses.fields(token.record):
        value = str(getattr(token.record, field.name))
        assert secret not in value and token.token not in value, field.name


def test_each_token_has_its_own_secret():
    first, second = minted(), minted()
    assert fields(first.token)["sig"] != fields(second.token)["sig"]
    assert first.record.secret_hash != second.record.secret_hash


def test_the_secret_is_never_in_a_repr():
    token = minted()
    secret = fields(token.token)["sig"]
    presented = api_tokens.parse(token.token)
    assert presented.secret == secret
    assert secret not in repr(presented) and secret not in repr(token) and token.token not in repr(token)


@pytest.mark.parametrize("part, value", [("sr", "other-app"), ("skn", "ci-deplot"), ("se", str(EXPIRY_MS + 1)),
                                         ("sig", "A" * 43)])
def test_a_changed_part_is_refused_as_not_valid(part, value):
    token = minted()
    other = minted("ci-deplot")  # a real token of the id a changed skn names
    changed = header(**{**fields(token.token), part: value})
    refused = refusal(changed, Store(token.record, other.record))
    assert (refused.reason, refused.claimed) == (NOT_VALID, api_tokens.parse(changed).token_id)


def test_one_character_of_the_secret_changed_is_refused():
    token = minted()
    parts = fields(token.token)
    sig = parts["sig"]
    parts["sig"] = sig[:-1] + ("B" if sig[-1] != "B" else "C")
    assert refusal(header(**parts), Store(token.record)).reason == NOT_VALID


def test_a_token_of_another_app_is_refused_before_storage_is_read():
    token = minted(app="other-app")
    store = Store(token.record)
    assert refusal(token.token, store).reason == NOT_VALID
    assert store.reads == []


def test_a_revoked_token_is_refused_as_a_tampered_one_is():
    token = minted()
    revoked = refusal(token.token, Store())
    tampered = refusal(header(**{**fields(token.token), "sig": "A" * 43}), Store(token.record))
    assert (revoked.reason, revoked.claimed) == (tampered.reason, tampered.claimed) == (NOT_VALID, "ci-deploy")


def test_an_expired_token_is_refused_by_its_se_without_reading_storage():
    token = minted()
    store = Store(token.record)
    assert refusal(token.token, store, now=EXPIRY).reason == EXPIRED
    assert refusal(token.token, store, now=EXPIRY + timedelta(days=1)).reason == EXPIRED
    assert store.reads == []


def test_a_token_is_valid_until_the_millisecond_before_its_expiry():
    token = minted()
    assert api_tokens.verify(token.token, Store(token.record).find, APP, EXPIRY - timedelta(milliseconds=1))


def test_a_record_that_expired_earlier_than_se_says_refuses_it():
    token = minted()
    shortened = dataclasses.replace(token.record, expiry=NOW - timedelta(seconds=1))
    assert refusal(token.token, Store(shortened)).reason == EXPIRED


def test_the_expiry_in_the_record_is_the_millisecond_the_token_carries():
    token = minted(expiry=EXPIRY + timedelta(microseconds=999))
    assert token.record.expiry == EXPIRY
    assert fields(token.token)["se"] == str(EXPIRY_MS)


@pytest.mark.parametrize("token", [
    "",
    "SharedAccessSignature",
    "SharedAccessSignature ",
    "Bearer sr=bulk-jobs&sig=x&skn=a&se=1",
    "SharedAccessSignaturesr=bulk-jobs&sig=x&skn=a&se=1",
    header().replace("&se=" + str(EXPIRY_MS), ""),  # a field missing
    header().replace("sig=c2VjcmV0&", ""),
    header().replace("sr=bulk-jobs&", ""),
    header().replace("skn=ci-deploy&", ""),
    header() + "&se=1",  # a field repeated
    header() + "&sig=c2VjcmV0",  # even with the same value
    header() + "&other=1",  # an extra field
    header() + "&",  # an empty pair
    header(se="12a4"),
    header(se="-1"),
    header(se="+1"),
    header(se="1e10"),
    header(se=""),
    header(se="1" * 16),  # more digits than any expiry
    header(se="9" * 15),  # digits, but past the year 9999
    header(sig=""),
    header(sr=""),
    header(skn=""),
    header(skn="a.b"),  # not an id
    header(skn="a%2Fb"),  # not an id once decoded
    header(skn="x" * 256),
    header(sig="a b"),
    header(sig="abc\x00"),
    header(sig="abc\n"),
    header(sig="abc%0A"),  # a control character once decoded
    header(sig="abc%00"),
    header(sr="bülk"),
    header(sig="x" * api_tokens.MAX_TOKEN_LENGTH),  # huge
    header().replace("&", ";"),
    header().replace("sig=", "SIG="),
])
def test_malformed_tokens_are_refused(token):
    store = Store(minted().record)
    refused = refusal(token, store)
    assert refused.reason == MALFORMED and refused.claimed is None
    assert store.reads == []


def test_the_length_limit_is_on_the_whole_header():
    token = minted().token
    padded = token.replace("SharedAccessSignature ", "SharedAccessSignature " + " " * (
        api_tokens.MAX_TOKEN_LENGTH - len(token)))
    assert len(padded) == api_tokens.MAX_TOKEN_LENGTH
    assert api_tokens.parse(padded).token_id == "ci-deploy"
    with pytest.raises(CredentialRefused):
        api_tokens.parse(padded.replace("  ", "   ", 1))


def test_a_url_encoded_sig_is_accepted():
    token = minted()
    parts = fields(token.token)
    parts["sig"] = "".join(f"%{ord(character):02X}" for character in parts["sig"])
    assert api_tokens.verify(header(**parts), Store(token.record).find, APP, NOW) == token.record


def test_fields_may_come_in_any_order():
    token = minted()
    parts = fields(token.token)
    reordered = "SharedAccessSignature " + "&".join(f"{name}={parts[name]}" for name in ("se", "skn", "sig", "sr"))
    assert api_tokens.verify(reordered, Store(token.record).find, APP, NOW) == token.record


def test_the_scheme_is_case_insensitive_as_http_auth_schemes_are():
    """RFC 9110 §11.1: an auth-scheme is case-insensitive; the code accepts any case."""
    token = minted()
    lowered = token.token.replace("SharedAccessSignature", "sharedaccesssignature")
    assert api_tokens.is_api_token(lowered)
    assert api_tokens.verify(lowered, Store(token.record).find, APP, NOW) == token.record


def test_field_names_are_case_sensitive():
    token = minted()
    with pytest.raises(CredentialRefused):
        api_tokens.parse(token.token.replace("skn=", "SKN="))


def test_parse_gives_the_parts():
    assert api_tokens.parse(header()) == PresentedToken(APP, "ci-deploy", EXPIRY_MS, "c2VjcmV0")


@pytest.mark.parametrize("authorization, expected", [
    ("SharedAccessSignature sr=a", True), ("sharedAccessSignature x", True), ("SharedAccessSignature", False),
    ("Bearer eyJ", False), ("SharedAccessSignatureX sr=a", False), ("", False)])
def test_is_api_token(authorization, expected):
    assert api_tokens.is_api_token(authorization) is expected


def test_an_unknown_id_costs_one_read_and_is_not_valid():
    store = Store()
    refused = refusal(header(skn="nobody"), store)
    assert (refused.reason, refused.claimed, store.reads) == (NOT_VALID, "nobody", ["nobody"])


def test_a_token_with_another_tokens_secret_is_refused():
    first, second = minted("first"), minted("second")
    crossed = header(**{**fields(first.token), "sig": fields(second.token)["sig"]})
    assert refusal(crossed, Store(first.record, second.record)).reason == NOT_VALID


def test_a_record_of_other_roles_is_what_verify_returns():
    """Roles are the record's, not anything in the token: the token carries none."""
    token = minted()
    changed = dataclasses.replace(token.record, role_ids=(VIEWER.id,))
    assert api_tokens.verify(token.token, Store(changed).find, APP, NOW).role_ids == (VIEWER.id,)
