"""Log-in lock-out (django-axes), the back-off on two-factor codes (django-otp) and the API
key limits (django-ratelimit): each refuses exactly at its limit, and not one request before."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user
from django.core.cache import caches
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains

import keel.settings as production
from keel.accounts import two_factor
from keel.accounts.models import User
from keel.api import services as api_keys
from keel.ops.client_address import parse_trusted

from .conftest import next_code, wrong_code

LOGIN = reverse("accounts:login")
LOGIN_CODE = reverse("accounts:login_verify")
DASHBOARD = reverse("web:dashboard")
LOCKED = (
    "Log-in for this email address from your network is paused after 5 wrong passwords or codes."
)


@pytest.fixture(autouse=True)
def _fresh_limits():
    caches[django_settings.AXES_CACHE].clear()
    yield
    caches[django_settings.AXES_CACHE].clear()


def test_production_limits():
    assert production.AXES_FAILURE_LIMIT == 5
    assert timedelta(minutes=15) == production.AXES_COOLOFF_TIME
    assert production.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert production.KEEL_API_KEY_RATE == "3000/m"
    assert production.KEEL_API_KEY_FAILURE_RATE == "30/10m"
    # The suite runs with the production lock-out; only the key-guessing rate is relaxed.
    assert django_settings.AXES_FAILURE_LIMIT == 5


def wrong_password(client: Client, email: str = "ana@example.com", **extra: str):
    return client.post(LOGIN, {"username": email, "password": "not-her-password-1"}, **extra)


# ------------------------------------------------------------------------------ log-in


def test_the_fifth_wrong_password_locks_the_email_and_address_out(client, ana, password):
    for attempt in range(1, 5):
        response = wrong_password(client)
        assert response.status_code == 200, attempt
        assert response.context["form"].non_field_errors() == [
            "That email address and password do not match an account. Check both and try again."
        ]

    response = wrong_password(client)

    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assertContains(response, LOCKED, status_code=429)
    assertContains(response, "Try again in 15 minutes.", status_code=429)
    # Now even the right password is refused, and nobody is logged in.
    response = client.post(LOGIN, {"username": "ana@example.com", "password": password})
    assert response.status_code == 429
    assert not get_user(client).is_authenticated
    assert User.objects.get(pk=ana.pk).last_login is None


def test_four_wrong_passwords_do_not_lock_out_and_a_log_in_starts_the_count_again(
    client, ana, password
):
    for _ in range(4):
        assert wrong_password(client).status_code == 200

    response = client.post(LOGIN, {"username": "ana@example.com", "password": password})
    assert response.url == DASHBOARD
    assert get_user(client).pk == ana.pk

    client.post(reverse("accounts:logout"))
    for _ in range(4):
        assert wrong_password(client).status_code == 200


def test_the_count_is_per_email_in_any_case_and_per_address(client, ana, password):
    User.objects.create_user("bo@example.com", password, name="Bo")
    for typed in ("ana@example.com", "ANA@example.com ", "Ana@Example.com", "ana@example.COM"):
        assert wrong_password(client, typed).status_code == 200
    assert wrong_password(client, "ana@Example.com").status_code == 429

    # Someone else from the same address, and Ana from another, are not locked out.
    response = client.post(LOGIN, {"username": "bo@example.com", "password": password})
    assert response.url == DASHBOARD
    other_address = Client(REMOTE_ADDR="203.0.113.7")
    response = other_address.post(LOGIN, {"username": "ana@example.com", "password": password})
    assert response.url == DASHBOARD


def test_wrong_two_factor_codes_count_towards_the_same_lock_out(client, ana, password, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # only the lock-out here, not the per-device back-off
    device = two_factor.start_setup(ana)
    two_factor.confirm_setup(ana, next_code(device))
    wrong_password(client)  # one wrong password, then four wrong codes
    client.post(LOGIN, {"username": "ana@example.com", "password": password})

    for attempt in range(1, 4):
        response = client.post(LOGIN_CODE, {"code": wrong_code(device)})
        assert response.status_code == 200, attempt
    response = client.post(LOGIN_CODE, {"code": wrong_code(device)})

    assert response.status_code == 429
    assertContains(response, LOCKED, status_code=429)
    response = client.post(LOGIN_CODE, {"code": next_code(device)})
    assert response.status_code == 429
    assert not get_user(client).is_authenticated


def test_codes_typed_too_fast_after_a_wrong_one_are_not_checked(client, ana, password, settings):
    # django-otp's back-off per device: after n wrong codes the next is checked only after
    # factor * 2**(n-1) seconds; an hour here, so the test cannot outrun it.
    settings.OTP_TOTP_THROTTLE_FACTOR = 3600
    device = two_factor.start_setup(ana)
    two_factor.confirm_setup(ana, next_code(device))
    client.post(LOGIN, {"username": "ana@example.com", "password": password})
    client.post(LOGIN_CODE, {"code": wrong_code(device)})

    response = client.post(LOGIN_CODE, {"code": next_code(device)})

    assert response.status_code == 200
    [error] = response.context["form"].errors["code"]
    assert error.startswith("Too many wrong codes in a row: wait ")
    assert not get_user(client).is_authenticated
    device.refresh_from_db()
    assert device.throttling_failure_count == 1


# -------------------------------------------------------------------------------- API keys


@pytest.fixture
def key(ana) -> str:
    return api_keys.create_key(ana, "bookkeeping script", ["ledger:read"])[1]


def bearer(plaintext: str, address: str = "127.0.0.1") -> Client:
    return Client(headers={"Authorization": f"Bearer {plaintext}"}, REMOTE_ADDR=address)


def test_an_api_key_gets_429_with_retry_after_exactly_after_its_limit(ana, key, settings):
    # Three a day: a window so long the test cannot straddle two of them.
    settings.KEEL_API_KEY_RATE = "3/d"
    client = bearer(key)
    for request in range(1, 4):
        assert client.get("/api/v1/me").status_code == 200, request

    response = client.get("/api/v1/me")

    assert response.status_code == 429
    assert response.json() == {
        "error": {
            "code": "throttled",
            "message": "this API key has made more than 3 requests in the current window;"
            " wait before sending more",
            "field": None,
            "details": [],
        }
    }
    assert 1 <= int(response["Retry-After"]) <= 24 * 3600
    # The limit is the key's: another key of the same person, and her session, carry on.
    other = api_keys.create_key(ana, "second script", ["ledger:read"])[1]
    assert bearer(other).get("/api/v1/me").status_code == 200
    session = Client()
    session.force_login(ana)
    assert session.get("/api/v1/me").status_code == 200


def test_keys_that_are_not_valid_are_limited_per_address(ana, key, settings):
    settings.KEEL_API_KEY_FAILURE_RATE = "3/d"
    guesser = bearer("keel_ZZZZZZZZZZ_" + "A" * 40)
    for attempt in range(1, 4):
        assert guesser.get("/api/v1/me").status_code == 401, attempt

    response = guesser.get("/api/v1/me")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 24 * 3600
    # From that address even a good key waits; from another it works.
    assert bearer(key).get("/api/v1/me").status_code == 429
    assert bearer(key, address="198.51.100.4").get("/api/v1/me").status_code == 200


def test_good_keys_do_not_count_as_guesses(key, settings):
    settings.KEEL_API_KEY_FAILURE_RATE = "3/d"
    client = bearer(key)
    for _ in range(6):
        assert client.get("/api/v1/me").status_code == 200


# ---------------------------------------------------------------------- behind a proxy


def through_proxy(plaintext: str, client_address: str, *, proxy: str = "10.0.0.2") -> Client:
    """A client at `client_address` behind a proxy at `proxy` that appends it to
    X-Forwarded-For (after whatever the client sent)."""
    return Client(
        headers={
            "Authorization": f"Bearer {plaintext}",
            "X-Forwarded-For": f"192.0.2.99, {client_address}",
        },
        REMOTE_ADDR=proxy,
    )


def test_behind_a_trusted_proxy_key_guesses_are_limited_per_client_not_per_proxy(
    ana, key, settings
):
    settings.KEEL_API_KEY_FAILURE_RATE = "3/d"
    settings.KEEL_TRUSTED_PROXIES = parse_trusted(["10.0.0.0/8"])
    guesser = through_proxy("keel_ZZZZZZZZZZ_" + "A" * 40, "203.0.113.7")
    for attempt in range(1, 4):
        assert guesser.get("/api/v1/me").status_code == 401, attempt
    assert guesser.get("/api/v1/me").status_code == 429

    # Another platform behind the same proxy is not locked out by someone else's guesses,
    # and the guesser's own forged left-hand entry does not free it.
    assert through_proxy(key, "198.51.100.4").get("/api/v1/me").status_code == 200
    assert through_proxy(key, "203.0.113.7").get("/api/v1/me").status_code == 429


def test_without_trusted_proxies_x_forwarded_for_is_ignored(ana, key, settings):
    settings.KEEL_API_KEY_FAILURE_RATE = "3/d"
    assert settings.KEEL_TRUSTED_PROXIES == ()
    for attempt in range(1, 4):
        client = through_proxy("keel_ZZZZZZZZZZ_" + "A" * 40, f"203.0.113.{attempt}")
        assert client.get("/api/v1/me").status_code == 401, attempt
    # Each guess claimed another address; all came from 10.0.0.2, which is what counts.
    assert through_proxy(key, "198.51.100.4").get("/api/v1/me").status_code == 429
    assert bearer(key, address="10.0.0.3").get("/api/v1/me").status_code == 200
