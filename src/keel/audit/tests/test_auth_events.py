"""Log-ins, failed log-ins, log-outs and password changes are recorded with the address and
browser they came from; a password never reaches the log."""

from __future__ import annotations

from .conftest import ADDRESS, BROWSER, PASSWORD, event, every_audit_value, logged_in, recorded


def test_a_log_in_through_the_page_is_recorded(alice, browser):
    response = browser.post(
        "/accounts/login/", {"username": "alice@example.org", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert recorded() == [
        event(
            "login.succeeded",
            actor_id=alice.pk,
            actor_label="alice@example.org",
            subject=f"user:{alice.pk}",
            remote_ip=ADDRESS,
            user_agent=BROWSER,
        )
    ]


def test_a_wrong_password_is_recorded_with_the_name_tried_and_never_the_password(alice, browser):
    tried = "not-her-password-77"
    response = browser.post(
        "/accounts/login/", {"username": "Alice@Example.org", "password": tried}
    )
    assert response.status_code == 200
    assert recorded() == [
        event(
            "login.failed",
            subject=f"user:{alice.pk}",
            remote_ip=ADDRESS,
            user_agent=BROWSER,
            details={"username": "alice@example.org"},
        )
    ]
    stored = every_audit_value()
    assert tried not in stored
    assert PASSWORD not in stored


def test_a_log_in_as_nobody_is_recorded_without_a_subject(db, browser):
    browser.post("/accounts/login/", {"username": "ghost@example.org", "password": "whatever-1"})
    assert recorded() == [
        event(
            "login.failed",
            remote_ip=ADDRESS,
            user_agent=BROWSER,
            details={"username": "ghost@example.org"},
        )
    ]


def test_the_name_tried_is_truncated(db, browser):
    tried = "x" * 200 + "@example.org"
    browser.post("/accounts/login/", {"username": tried, "password": "whatever-1"})
    assert recorded() == [
        event(
            "login.failed",
            remote_ip=ADDRESS,
            user_agent=BROWSER,
            details={"username": "x" * 150},
        )
    ]


def test_logging_out_is_recorded(alice):
    client = logged_in(alice)
    client.post("/accounts/logout/")
    assert recorded("logout") == [
        event(
            "logout",
            actor_id=alice.pk,
            actor_label="alice@example.org",
            subject=f"user:{alice.pk}",
            remote_ip=ADDRESS,
            user_agent=BROWSER,
        )
    ]


def test_logging_out_when_not_logged_in_records_nothing(db, browser):
    browser.post("/accounts/logout/")
    assert recorded() == []


def test_a_password_change_is_recorded_without_either_password(alice):
    client = logged_in(alice)
    new = "a-much-longer-passphrase-2026"
    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert recorded("password.changed") == [
        event(
            "password.changed",
            actor_id=alice.pk,
            actor_label="alice@example.org",
            subject=f"user:{alice.pk}",
            remote_ip=ADDRESS,
            user_agent=BROWSER,
        )
    ]
    stored = every_audit_value()
    assert new not in stored
    assert PASSWORD not in stored


def test_a_refused_password_change_is_not_recorded(alice):
    client = logged_in(alice)
    new = "a-much-longer-passphrase-2026"
    response = client.post(
        "/accounts/password/",
        {"old_password": "wrong-old-one-1", "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 200
    assert recorded("password.changed") == []
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
