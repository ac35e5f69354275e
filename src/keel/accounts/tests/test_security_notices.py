"""A person is emailed at once when their password changes (on the settings page or by a
reset link) or two-factor sign-in is turned off: when, from where, and what to do if it
was not them. Nothing is sent for a change that was refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.conf import settings
from django.core import mail
from django.core.cache import caches
from django.test import Client
from django.urls import reverse
from django.utils import timezone as django_timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from keel.accounts import notices
from keel.accounts.models import User
from keel.audit.models import AuditEvent

from .conftest import PASSWORD, next_code, wrong_code
from .test_password_reset import choose_password, reset_link
from .test_two_factor import ana_2fa  # noqa: F401  (a fixture)

CHANGE = reverse("accounts:password_change")
RESET = reverse("accounts:password_reset")
LOGIN = reverse("accounts:login")
LOGIN_CODE = reverse("accounts:login_verify")
DISABLE = reverse("accounts:two_factor_disable")
DASHBOARD = reverse("web:dashboard")
NEW = "lighthouse-morning-2027"
RESET_LINK = "http://testserver/accounts/password/reset/"
TWO_FACTOR_LINK = "http://testserver/accounts/two-factor/"


@pytest.fixture(autouse=True)
def _fresh_limits():
    caches[settings.AXES_CACHE].clear()
    caches[settings.RATELIMIT_USE_CACHE].clear()
    yield
    caches[settings.RATELIMIT_USE_CACHE].clear()


def said_when(body: str, before: datetime, after: datetime) -> bool:
    """The notice names the minute of the change: the one the request started or ended in."""
    return f"on {notices.when_text(before)}" in body or f"on {notices.when_text(after)}" in body


def test_the_time_is_written_in_utc_with_its_zone() -> None:
    # 21:04 in Paris in winter (UTC+1) is 20:04 UTC; a Sunday.
    paris = timezone(timedelta(hours=1))
    assert notices.when_text(datetime(2026, 11, 29, 21, 4, 59, tzinfo=paris)) == (
        "Sunday 29 November 2026 at 20:04 UTC"
    )
    assert notices.when_text(datetime(2027, 1, 3, 0, 0, tzinfo=UTC)) == (
        "Sunday 3 January 2027 at 00:00 UTC"
    )


def test_changing_the_password_emails_the_person(
    client, ana, django_capture_on_commit_callbacks
) -> None:
    client.force_login(ana)
    before = django_timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            CHANGE,
            {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
        )
    after = django_timezone.now()
    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.to == ["ana@example.com"]
    assert message.subject == "Your Keel password was changed"
    body = message.body
    assert body.startswith("Hello Ana,\n\nthe password of your Keel account (ana@example.com)")
    assert said_when(body, before, after), body
    assert "from the network address 127.0.0.1, on the settings page" in body
    assert "If it was not you, someone is using your account." in body
    assert f"\n{RESET_LINK}\n" in body
    assert f"\n{TWO_FACTOR_LINK}\n" in body


def test_a_refused_password_change_sends_nothing(
    client, ana, django_capture_on_commit_callbacks
) -> None:
    client.force_login(ana)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            CHANGE,
            {"old_password": "not-my-password-1", "new_password1": NEW, "new_password2": NEW},
        )
    assert response.status_code == 200
    assert response.context["form"].errors["old_password"]
    assert callbacks == []
    assert mail.outbox == []
    assert User.objects.get(pk=ana.pk).check_password(PASSWORD)


def test_a_completed_reset_emails_the_person_and_logs_out_the_old_sessions(
    client, ana, django_capture_on_commit_callbacks
) -> None:
    # Ana is logged in elsewhere: the notice says a new password logs that session out.
    elsewhere = Client()
    elsewhere.force_login(ana)
    assert elsewhere.get(DASHBOARD).status_code == 200
    client.post(RESET, {"email": "ana@example.com"})
    link = reset_link(mail.outbox[0])
    mail.outbox.clear()

    before = django_timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        response = choose_password(client, link)
    after = django_timezone.now()
    assert response.url == reverse("accounts:password_reset_complete")
    (message,) = mail.outbox
    assert message.to == ["ana@example.com"]
    assert message.subject == "Your Keel password was reset"
    body = message.body
    assert said_when(body, before, after), body
    assert "from the network address 127.0.0.1, with a reset link emailed to this address" in body
    assert "If it was not you, someone can read your email." in body
    assert f"\n{RESET_LINK}\n" in body
    assert "A new password logs out everyone who is logged in with the old one." in body
    assert elsewhere.get(DASHBOARD).url.startswith(LOGIN)


def test_a_refused_new_password_on_the_reset_page_sends_nothing(
    client, ana, django_capture_on_commit_callbacks
) -> None:
    client.post(RESET, {"email": "ana@example.com"})
    landing = client.get(reset_link(mail.outbox[0]))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(landing.url, {"new_password1": "short", "new_password2": "short"})
    assert response.status_code == 200
    assert callbacks == []
    assert mail.outbox == []


def test_turning_two_factor_off_emails_the_person(
    client,
    ana_2fa,  # noqa: F811
    django_capture_on_commit_callbacks,
    settings,
) -> None:
    ana, device, _ = ana_2fa
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    client.post(LOGIN, {"username": "ana@example.com", "password": PASSWORD})
    client.post(LOGIN_CODE, {"code": next_code(device)})

    with django_capture_on_commit_callbacks(execute=True):
        refused = client.post(DISABLE, {"disable-code": wrong_code(device)})
    assert refused.status_code == 200
    assert mail.outbox == []
    assert TOTPDevice.objects.filter(user=ana, confirmed=True).exists()

    before = django_timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(DISABLE, {"disable-code": next_code(device)})
    after = django_timezone.now()
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=ana).exists()
    (message,) = mail.outbox
    assert message.to == ["ana@example.com"]
    assert message.subject == "Two-factor sign-in was turned off for your Keel account"
    body = message.body
    assert body.startswith("Hello Ana,\n\ntwo-factor sign-in was turned off")
    assert said_when(body, before, after), body
    assert "from the network address 127.0.0.1. Your backup codes no longer work" in body
    assert "If it was not you, someone is logged in as you." in body
    assert f"\n{RESET_LINK}\n" in body
    assert f"\n{TWO_FACTOR_LINK}\n" in body


# ---------------------------------------------------------------- an operator, in the admin


@pytest.fixture
def operator(db: None) -> User:
    return User.objects.create_superuser("ops@example.com", "ops-password-2026", name="Ops")


def admin_password_page(person: User) -> str:
    return reverse("admin:auth_user_password_change", args=[person.pk])


def test_an_operator_setting_a_password_in_the_admin_emails_the_person(
    client, ana, operator, django_capture_on_commit_callbacks
) -> None:
    client.force_login(operator)
    before = django_timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            admin_password_page(ana),
            {"usable_password": "true", "password1": NEW, "password2": NEW},
        )
    after = django_timezone.now()
    assert response.status_code == 302
    assert User.objects.get(pk=ana.pk).check_password(NEW)
    (message,) = mail.outbox
    assert message.to == ["ana@example.com"]
    assert message.subject == "An operator set a new password for your Keel account"
    body = message.body
    assert body.startswith(
        "Hello Ana,\n\nan operator of Keel set a new password for your Keel account"
        " (ana@example.com)\non "
    )
    assert said_when(body, before, after), body
    assert "from the network address 127.0.0.1. Your old password no\nlonger works" in body
    assert f"\n{RESET_LINK}\n" in body
    passwords = AuditEvent.objects.filter(action__startswith="password.")
    assert list(passwords.values_list("action", "actor_id", "subject", "details")) == [
        ("password.set_by_operator", operator.pk, f"user:{ana.pk}", {"usable": True})
    ]


def test_an_operator_turning_password_log_in_off_emails_the_person(
    client, ana, operator, django_capture_on_commit_callbacks
) -> None:
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            admin_password_page(ana), {"usable_password": "false", "unset-password": "1"}
        )
    assert response.status_code == 302
    assert not User.objects.get(pk=ana.pk).has_usable_password()
    (message,) = mail.outbox
    assert message.subject == "An operator turned off log-in with a password for your Keel account"
    assert "only an operator can give the account a password again" in message.body
    assert RESET_LINK not in message.body
    passwords = AuditEvent.objects.filter(action__startswith="password.")
    assert list(passwords.values_list("action", "details")) == [
        ("password.set_by_operator", {"usable": False})
    ]


def test_a_refused_password_in_the_admin_sends_nothing(
    client, ana, operator, django_capture_on_commit_callbacks
) -> None:
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            admin_password_page(ana),
            {"usable_password": "true", "password1": NEW, "password2": NEW + "x"},
        )
    assert response.status_code == 200
    assert callbacks == []
    assert mail.outbox == []
    assert User.objects.get(pk=ana.pk).check_password(PASSWORD)
    assert not AuditEvent.objects.filter(action="password.set_by_operator").exists()
