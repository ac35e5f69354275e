"""Testimonial links: issued, verified, refused when forged, expired, opened for another
request or used a second time; public profile handles."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.career.rules.reputation import (
    DEFAULT_VALIDITY,
    RESERVED_HANDLES,
    HandleError,
    TokenClaims,
    TokenError,
    TokenExpired,
    TokenForged,
    TokenMalformed,
    TokenUsed,
    WrongRequest,
    issue_token,
    require_unused,
    validate_handle,
    verify_token,
)

SECRET = b"k" * 32
OTHER_SECRET = b"q" * 32
ISSUED = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
EXPIRES = ISSUED + DEFAULT_VALIDITY  # 31 March 2025, 09:30 UTC


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token() -> str:
    return issue_token(SECRET, "req-42", "client@example.com", EXPIRES)


# --------------------------------------------------------------------------- tokens


def test_a_token_round_trips_to_its_claims():
    claims = verify_token(SECRET, token(), ISSUED, request_id="req-42")
    assert claims == TokenClaims("req-42", "client@example.com", EXPIRES)


def test_the_token_layout_is_version_payload_signature():
    version, payload, signature = token().split(".")
    assert version == "t1"
    # 2025-03-31 09:30 UTC is 1743413400 seconds after the epoch.
    assert base64.urlsafe_b64decode(payload + "==") == (
        b'["req-42","client@example.com",1743413400]'
    )
    expected = hmac.new(
        SECRET, b"keel.career.testimonial-request\x00t1." + payload.encode(), hashlib.sha256
    ).digest()
    assert signature == b64(expected)
    assert len(signature) == 43  # 32 bytes, unpadded


def test_an_integer_request_id_is_carried_as_text():
    issued = issue_token(SECRET, 42, "client@example.com", EXPIRES)
    assert verify_token(SECRET, issued, ISSUED, request_id=42).request_id == "42"


def test_a_token_signed_with_another_secret_is_forged():
    forged = issue_token(OTHER_SECRET, "req-42", "client@example.com", EXPIRES)
    with pytest.raises(TokenForged) as err:
        verify_token(SECRET, forged, ISSUED)
    assert err.value.code == "forged"
    assert not isinstance(err.value, TokenMalformed)


def test_changing_the_payload_breaks_the_signature():
    # The attacker swaps in a later expiry and another address, keeping the old signature.
    version, _, signature = token().split(".")
    payload = b64(
        json.dumps(["req-42", "me@evil.test", 1900000000], separators=(",", ":")).encode()
    )
    with pytest.raises(TokenForged):
        verify_token(SECRET, f"{version}.{payload}.{signature}", ISSUED)


def test_changing_the_signature_is_forged():
    version, payload, signature = token().split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    with pytest.raises(TokenForged):
        verify_token(SECRET, f"{version}.{payload}.{flipped}", ISSUED)


@pytest.mark.parametrize(
    "bad",
    ["", "t1", "t1.abc", "t2.abc.def", "t1.a b.c", "t1.abc.def.ghi", "t1.abc.de=f", "x" * 2000],
)
def test_malformed_tokens_are_refused_as_forged(bad):
    with pytest.raises(TokenMalformed) as err:
        verify_token(SECRET, bad, ISSUED)
    assert isinstance(err.value, TokenForged)
    assert err.value.code == "malformed"


def test_a_non_canonical_spelling_of_the_signature_is_refused():
    # 43 base64 characters carry 258 bits; the last character's two low bits are padding.
    # Setting them gives a different text that decodes to the same bytes.
    version, payload, signature = token().split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    twin = signature[:-1] + alphabet[last ^ 1]
    assert base64.urlsafe_b64decode(twin + "=") == base64.urlsafe_b64decode(signature + "=")
    with pytest.raises(TokenMalformed):
        verify_token(SECRET, f"{version}.{payload}.{twin}", ISSUED)


def test_a_token_expires_at_its_expiry():
    just_before = EXPIRES - timedelta(seconds=1)
    assert verify_token(SECRET, token(), just_before).request_id == "req-42"
    with pytest.raises(TokenExpired) as err:
        verify_token(SECRET, token(), EXPIRES)
    assert err.value.code == "expired"
    assert str(err.value) == "the link expired on 2025-03-31T09:30:00+00:00: ask for a new one"


def test_expiry_is_compared_across_time_zones():
    new_york = timezone(timedelta(hours=-4))
    assert verify_token(SECRET, token(), datetime(2025, 3, 31, 5, 29, tzinfo=new_york))
    with pytest.raises(TokenExpired):
        verify_token(SECRET, token(), datetime(2025, 3, 31, 5, 30, tzinfo=new_york))


def test_a_fraction_of_a_second_makes_the_link_expire_early_not_late():
    issued = issue_token(SECRET, "r", "c@example.com", EXPIRES + timedelta(microseconds=900_000))
    with pytest.raises(TokenExpired):
        verify_token(SECRET, issued, EXPIRES)


def test_a_token_opened_for_another_request_is_refused():
    with pytest.raises(WrongRequest) as err:
        verify_token(SECRET, token(), ISSUED, request_id="req-43")
    assert err.value.code == "wrong_request"


def test_the_checks_come_in_order_forged_before_expired():
    forged = issue_token(OTHER_SECRET, "req-42", "client@example.com", ISSUED)
    with pytest.raises(TokenForged):
        verify_token(SECRET, forged, EXPIRES)


def test_a_link_used_once_is_refused_by_the_row_state():
    # The service verifies, then checks the request row: the second visit finds used_at set.
    claims = verify_token(SECRET, token(), ISSUED, request_id="req-42")
    used_at: datetime | None = None
    require_unused(used_at)
    used_at = ISSUED + timedelta(minutes=5)
    # The token itself still verifies; only the row refuses it.
    assert verify_token(SECRET, token(), ISSUED, request_id=claims.request_id) == claims
    with pytest.raises(TokenUsed) as err:
        require_unused(used_at)
    assert err.value.code == "used"
    assert isinstance(err.value, TokenError)


def test_every_refusal_has_its_own_code():
    codes = {
        cls.code for cls in (TokenForged, TokenMalformed, TokenExpired, WrongRequest, TokenUsed)
    }
    assert len(codes) == 5


def test_the_secret_and_clock_are_checked():
    with pytest.raises(ValueError, match="at least 32 bytes"):
        issue_token(b"short", "r", "c@example.com", EXPIRES)
    with pytest.raises(TypeError, match="bytes"):
        issue_token("k" * 32, "r", "c@example.com", EXPIRES)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="timezone-aware"):
        issue_token(SECRET, "r", "c@example.com", datetime(2025, 1, 1))  # noqa: DTZ001
    with pytest.raises(TypeError, match="timezone-aware"):
        verify_token(SECRET, token(), datetime(2025, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="client_email"):
        issue_token(SECRET, "r", "not an address", EXPIRES)


@given(
    request_id=st.text(min_size=1, max_size=100),
    email=st.from_regex(r"[a-z0-9._+-]{1,20}@[a-z0-9-]{1,20}\.[a-z]{2,6}", fullmatch=True),
    seconds=st.integers(1, 10**8),
)
def test_any_issued_token_verifies_until_it_expires(request_id, email, seconds):
    expires = ISSUED + timedelta(seconds=seconds)
    issued = issue_token(SECRET, request_id, email, expires)
    claims = verify_token(SECRET, issued, ISSUED, request_id=request_id)
    assert (claims.request_id, claims.client_email, claims.expires_at) == (
        request_id,
        email,
        expires,
    )
    with pytest.raises(TokenForged):
        verify_token(OTHER_SECRET, issued, ISSUED)
    with pytest.raises(TokenExpired):
        verify_token(SECRET, issued, expires)


# --------------------------------------------------------------------------- handles


@pytest.mark.parametrize("handle", ["ana", "ana-lima", "studio-42", "a1b", "x" * 30, " ana "])
def test_good_handles(handle):
    assert validate_handle(handle) == handle.strip()


@pytest.mark.parametrize(
    ("handle", "code"),
    [
        ("ab", "length"),
        ("x" * 31, "length"),
        ("Ana-Lima", "uppercase"),
        ("ana_lima", "characters"),
        ("ana.lima", "characters"),
        ("anä", "characters"),
        ("-ana", "hyphen"),
        ("ana-", "hyphen"),
        ("xn--ana", "hyphen"),
        ("admin", "reserved"),
        ("api", "reserved"),
        ("pools", "reserved"),
        ("income", "reserved"),
    ],
)
def test_bad_handles(handle, code):
    with pytest.raises(HandleError) as err:
        validate_handle(handle)
    assert (err.value.field, err.value.code) == ("handle", code)


def test_uppercase_gets_a_suggestion():
    with pytest.raises(HandleError) as err:
        validate_handle("Ana-Lima")
    assert str(err.value) == "handle must be in lowercase: try 'ana-lima'"
    with pytest.raises(HandleError) as err:
        validate_handle("ADMIN")  # no suggestion of a reserved word
    assert str(err.value) == "handle must be in lowercase"


def test_keels_own_top_level_pages_are_reserved():
    assert {"admin", "api", "pools", "income", "accounts", "dashboard", "settings"} <= (
        RESERVED_HANDLES
    )
    # Each is otherwise a valid handle, so only the reserved list keeps it out.
    for handle in RESERVED_HANDLES:
        with pytest.raises(HandleError) as err:
            validate_handle(handle)
        assert err.value.code == "reserved"
