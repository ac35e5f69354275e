"""Two-factor sign-in: turning it on with a real authenticator code, logging in in two steps,
backup codes, turning it off, and sessions that have not given their code."""

from __future__ import annotations

import re
from base64 import b32encode

import pytest
from django.conf import settings
from django.contrib.auth import get_user
from django.core.cache import caches
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django.asserts import assertContains, assertNotContains

from keel.accounts import two_factor
from keel.accounts.models import User
from keel.api import services as api_keys
from keel.audit.models import AuditEvent
from keel.gateway.services.platforms import create_platform
from keel.pools import services as pools

from .conftest import next_code, wrong_code

LOGIN = reverse("accounts:login")
LOGIN_CODE = reverse("accounts:login_verify")
TWO_FACTOR = reverse("accounts:two_factor")
SETTINGS = reverse("accounts:settings")
DASHBOARD = reverse("web:dashboard")


@pytest.fixture(autouse=True)
def _fresh_limits():
    # The log-in lock-out counts wrong codes too; each test starts from none.
    caches[settings.AXES_CACHE].clear()
    yield
    caches[settings.AXES_CACHE].clear()


@pytest.fixture
def ana_2fa(ana: User) -> tuple[User, TOTPDevice, list[str]]:
    """Ana with two-factor sign-in on, through the same service the settings page uses."""
    device = two_factor.start_setup(ana)
    device, codes = two_factor.confirm_setup(ana, next_code(device))
    ana.refresh_from_db()
    return ana, device, codes


def log_in_password_step(client: Client, password: str, **extra: str) -> None:
    response = client.post(LOGIN, {"username": "ana@example.com", "password": password, **extra})
    assert response.status_code == 302
    assert response.url == LOGIN_CODE


# ------------------------------------------------------------------ the settings side


def test_settings_page_links_two_factor_sign_in(client, ana):
    client.force_login(ana)
    response = client.get(SETTINGS)
    assertContains(response, "Off: you log in with your password alone.")
    assertContains(response, f'href="{TWO_FACTOR}"')
    # A worker who stewards nothing and operates nothing is not singled out.
    assertNotContains(response, "You steward")
    assertNotContains(response, "You operate")


def test_settings_page_encourages_stewards_and_platform_operators(client, ana):
    pools.create_pool(ana, name="Harbour Fund", rules=pools.default_rules("emergency", "EUR"))
    create_platform("DashEats", operator=ana)
    client.force_login(ana)

    for page in (SETTINGS, TWO_FACTOR):
        response = client.get(page)
        assertContains(response, "You steward Harbour Fund: your log-in approves claims and gifts.")
        assertContains(
            response,
            "You operate DashEats: your log-in manages its API keys and what it pays.",
        )


def test_turning_it_on_shows_the_key_then_a_real_code_confirms_it(client, ana):
    client.force_login(ana)
    assertContains(client.get(TWO_FACTOR), "You log in with your password alone.")

    response = client.post(reverse("accounts:two_factor_setup"))
    assert response.url == TWO_FACTOR
    device = TOTPDevice.objects.get(user=ana)
    assert not device.confirmed
    page = client.get(TWO_FACTOR)
    secret = b32encode(device.bin_key).decode().rstrip("=")
    assertContains(page, " ".join(re.findall(".{1,4}", secret)))
    assertContains(page, '<svg role="img" aria-label="QR code for your authenticator app"')
    assert User.objects.get(pk=ana.pk).two_factor_enabled is False

    response = client.post(
        reverse("accounts:two_factor_confirm"), {"confirm-code": next_code(device)}
    )

    assert response.status_code == 200
    codes = response.context["codes"]
    assert len(codes) == 10
    assert all(re.fullmatch(r"[a-z2-7]{8}", code) for code in codes)
    for code in codes:
        assertContains(response, code)
    assert "no-store" in response["Cache-Control"]
    device.refresh_from_db()
    assert device.confirmed
    assert sorted(StaticToken.objects.filter(device__user=ana).values_list("token", flat=True)) == (
        sorted(codes)
    )
    assert User.objects.get(pk=ana.pk).two_factor_enabled is True
    assert list(
        AuditEvent.objects.filter(action__startswith="two_factor.").values_list(
            "action", "actor_id", "subject"
        )
    ) == [("two_factor.enabled", ana.pk, f"user:{ana.pk}")]
    # This session gave the code, so it stays logged in and verified.
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    page = client.get(TWO_FACTOR)
    assertContains(page, "10 backup codes left.")
    for code in codes:  # shown once, never again
        assertNotContains(page, code)


def test_a_wrong_code_does_not_turn_it_on(client, ana):
    client.force_login(ana)
    client.post(reverse("accounts:two_factor_setup"))
    device = TOTPDevice.objects.get(user=ana)

    response = client.post(
        reverse("accounts:two_factor_confirm"), {"confirm-code": wrong_code(device)}
    )

    assert response.status_code == 200
    assert response.context["confirm_form"].errors == {
        "code": [
            "That code is not right. Check that the app shows Keel and try the code it shows now."
        ]
    }
    device.refresh_from_db()
    assert not device.confirmed
    assert not StaticDevice.objects.filter(user=ana).exists()
    assert User.objects.get(pk=ana.pk).two_factor_enabled is False


def test_starting_again_replaces_an_unconfirmed_key(client, ana):
    client.force_login(ana)
    client.post(reverse("accounts:two_factor_setup"))
    first = TOTPDevice.objects.get(user=ana)
    client.post(reverse("accounts:two_factor_setup"))
    assert list(TOTPDevice.objects.filter(user=ana).values_list("pk", flat=True)) == [first.pk + 1]


# ------------------------------------------------------------------------------ logging in


def test_log_in_asks_for_the_code_before_anyone_is_logged_in(client, ana_2fa, password):
    ana, device, _ = ana_2fa

    log_in_password_step(client, password)

    assert not get_user(client).is_authenticated
    assert User.objects.get(pk=ana.pk).last_login is None
    assert client.get(DASHBOARD).url == f"{LOGIN}?next={DASHBOARD}"
    assertContains(client.get(LOGIN_CODE), "Enter your code")

    response = client.post(LOGIN_CODE, {"code": next_code(device)})

    assert response.status_code == 302
    assert response.url == DASHBOARD
    assert get_user(client).pk == ana.pk
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert client.get(DASHBOARD).status_code == 200


def test_the_code_step_keeps_the_next_url(client, ana_2fa, password):
    _, device, _ = ana_2fa
    log_in_password_step(client, password, next="/accounts/settings/")
    response = client.post(LOGIN_CODE, {"code": next_code(device)})
    assert response.url == "/accounts/settings/"


def test_a_wrong_code_is_refused_and_logs_nobody_in(client, ana_2fa, password, settings):
    ana, device, _ = ana_2fa
    # Without django-otp's back-off between attempts, so the right code can follow at once
    # (test_rate_limits.py tests the back-off).
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    log_in_password_step(client, password)

    response = client.post(LOGIN_CODE, {"code": wrong_code(device)})

    assert response.status_code == 200
    assert response.context["form"].errors == {"code": [two_factor.WRONG_CODE]}
    assert not get_user(client).is_authenticated
    assert User.objects.get(pk=ana.pk).last_login is None

    response = client.post(LOGIN_CODE, {"code": next_code(device)})
    assert response.url == DASHBOARD
    assert get_user(client).pk == ana.pk


def test_a_backup_code_logs_in_once(client, ana_2fa, password):
    ana, _, codes = ana_2fa
    log_in_password_step(client, password)

    # Typed as people copy it: upper case, with a space.
    response = client.post(LOGIN_CODE, {"code": f"{codes[3][:4].upper()} {codes[3][4:]}"})

    assert response.url == DASHBOARD
    assert get_user(client).pk == ana.pk
    assert StaticToken.objects.filter(device__user=ana).count() == 9
    assert not StaticToken.objects.filter(token=codes[3]).exists()

    client.post(reverse("accounts:logout"))
    log_in_password_step(client, password)
    response = client.post(LOGIN_CODE, {"code": codes[3]})
    assert response.status_code == 200
    assert response.context["form"].errors == {"code": [two_factor.WRONG_CODE]}
    assert not get_user(client).is_authenticated
    assert StaticToken.objects.filter(device__user=ana).count() == 9


def test_the_code_step_without_a_password_step_goes_back_to_log_in(client, ana_2fa):
    _, device, _ = ana_2fa
    response = client.post(LOGIN_CODE, {"code": next_code(device)})
    assert response.url == LOGIN
    assert not get_user(client).is_authenticated


def test_a_password_change_voids_a_half_finished_log_in(client, ana_2fa, password):
    ana, device, _ = ana_2fa
    log_in_password_step(client, password)
    ana.set_password("new-harbour-lantern-77")
    ana.save()

    response = client.post(LOGIN_CODE, {"code": next_code(device)})

    assert response.url == LOGIN
    assert not get_user(client).is_authenticated


def test_a_half_finished_log_in_expires(client, ana_2fa, password):
    _, device, _ = ana_2fa
    log_in_password_step(client, password)
    session = client.session
    session["keel_two_factor_pending"]["started"] -= two_factor.PENDING_LOGIN_SECONDS + 1
    session.save()

    response = client.post(LOGIN_CODE, {"code": next_code(device)})

    assert response.url == LOGIN
    assert not get_user(client).is_authenticated
    assert "keel_two_factor_pending" not in client.session


def test_people_without_two_factor_log_in_with_their_password_alone(client, ana, password):
    response = client.post(LOGIN, {"username": "ana@example.com", "password": password})
    assert response.url == DASHBOARD
    assert get_user(client).pk == ana.pk


# ------------------------------------------------------------- sessions that owe their code


def test_a_session_opened_before_two_factor_was_turned_on_must_log_in_again(client, ana):
    elsewhere = Client()
    elsewhere.force_login(ana)
    assert elsewhere.get(SETTINGS).status_code == 200

    client.force_login(ana)
    client.post(reverse("accounts:two_factor_setup"))
    device = TOTPDevice.objects.get(user=ana)
    client.post(reverse("accounts:two_factor_confirm"), {"confirm-code": next_code(device)})

    assert elsewhere.get(SETTINGS).url == f"{LOGIN}?next={SETTINGS}"
    assert elsewhere.get(DASHBOARD).url == f"{LOGIN}?next={DASHBOARD}"
    assert elsewhere.get("/api/v1/me").status_code == 401
    # The session that turned it on carries on.
    assert client.get(SETTINGS).status_code == 200
    assert client.get("/api/v1/me").json()["id"] == ana.pk


def test_a_session_logged_in_without_its_code_reaches_no_login_required_page(client, ana_2fa):
    ana, _, _ = ana_2fa
    # As Django's own log-in would leave it: logged in, never verified.
    client.force_login(ana)

    for page in (SETTINGS, DASHBOARD, TWO_FACTOR, reverse("accounts:password_change")):
        assert client.get(page).url == f"{LOGIN}?next={page}"
    assert client.get("/api/v1/me").status_code == 401
    response = client.post(reverse("accounts:two_factor_disable"), {"disable-code": "123456"})
    assert response.status_code == 302
    assert TOTPDevice.objects.filter(user=ana, confirmed=True).count() == 1


@pytest.fixture
def operator(db) -> User:
    return User.objects.create_superuser("ops@example.com", "ops-password-2026", name="Ops")


def test_the_admin_needs_a_verified_session_from_staff_with_two_factor(client, operator):
    device = two_factor.start_setup(operator)
    two_factor.confirm_setup(operator, next_code(device))
    client.force_login(operator)

    response = client.get("/admin/")
    assert response.url == "/admin/login/?next=/admin/"
    response = client.get(response.url)
    assert response.url == f"{LOGIN}?next=%2Fadmin%2F"

    client.post(response.url, {"username": "ops@example.com", "password": "ops-password-2026"})
    response = client.post(LOGIN_CODE, {"code": next_code(device)})
    assert response.url == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_admin_log_in_form_is_not_used_for_passwords(client, operator):
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "ops@example.com", "password": "ops-password-2026"},
    )
    assert response.url == f"{LOGIN}?next=%2Fadmin%2F"
    assert not get_user(client).is_authenticated


def test_an_operator_deleting_the_authenticator_turns_two_factor_off(ana_2fa):
    ana, device, _ = ana_2fa
    device.delete()
    assert User.objects.get(pk=ana.pk).two_factor_enabled is False


# ------------------------------------------------------------------------- turning it off


def test_turning_it_off_needs_a_current_code(client, ana_2fa, password, settings):
    ana, device, _ = ana_2fa
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    log_in_password_step(client, password)
    client.post(LOGIN_CODE, {"code": next_code(device)})
    disable = reverse("accounts:two_factor_disable")

    for typed, error in (
        ("", "Enter the code your authenticator app shows."),
        (wrong_code(device), two_factor.WRONG_CODE),
    ):
        response = client.post(disable, {"disable-code": typed})
        assert response.status_code == 200
        assert response.context["disable_form"].errors == {"code": [error]}
        assert TOTPDevice.objects.filter(user=ana, confirmed=True).count() == 1
        assert StaticToken.objects.filter(device__user=ana).count() == 10
        assert User.objects.get(pk=ana.pk).two_factor_enabled is True
        assert not AuditEvent.objects.filter(action="two_factor.disabled").exists()

    response = client.post(disable, {"disable-code": next_code(device)})

    assert response.url == TWO_FACTOR
    assert not TOTPDevice.objects.filter(user=ana).exists()
    assert not StaticDevice.objects.filter(user=ana).exists()
    assert User.objects.get(pk=ana.pk).two_factor_enabled is False
    assert list(
        AuditEvent.objects.filter(action="two_factor.disabled").values_list("actor_id", flat=True)
    ) == [ana.pk]
    # The session stays logged in, and the password alone logs in again.
    assert client.get(SETTINGS).status_code == 200
    client.post(reverse("accounts:logout"))
    response = client.post(LOGIN, {"username": "ana@example.com", "password": password})
    assert response.url == DASHBOARD


def test_new_backup_codes_replace_the_old_ones_and_keep_the_session(client, ana_2fa, password):
    ana, device, old_codes = ana_2fa
    log_in_password_step(client, password)
    client.post(LOGIN_CODE, {"code": old_codes[0]})

    response = client.post(reverse("accounts:backup_codes"), {"codes-code": next_code(device)})

    assert response.status_code == 200
    new_codes = response.context["codes"]
    assert len(new_codes) == 10
    assert sorted(StaticToken.objects.filter(device__user=ana).values_list("token", flat=True)) == (
        sorted(new_codes)
    )
    # The session was verified by the old backup codes' device, which is gone.
    assert client.get(SETTINGS).status_code == 200


def test_the_admin_shows_whether_a_person_has_two_factor_on(client, operator, ana_2fa):
    ana, _, _ = ana_2fa
    client.force_login(operator)
    response = client.get(reverse("admin:accounts_user_change", args=[ana.pk]))
    assertContains(response, "Two-factor sign-in")
    assert response.context["adminform"].form.instance.two_factor_enabled is True
    # Operators may remove a lost authenticator, but never read its secret.
    device_page = client.get(
        reverse("admin:otp_totp_totpdevice_change", args=[ana_2fa[1].pk])
    ).content.decode()
    assert ana_2fa[1].key not in device_page


def test_api_keys_are_not_affected_by_two_factor_sign_in(ana_2fa):
    ana, _, _ = ana_2fa
    _, plaintext = api_keys.create_key(ana, "bookkeeping script", ["ledger:read"])
    response = Client(headers={"Authorization": f"Bearer {plaintext}"}).get("/api/v1/me")
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["via"]) == (ana.pk, "api_key")
