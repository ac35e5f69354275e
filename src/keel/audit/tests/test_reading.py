"""Operators read the log on a staff-only page, in the admin (read-only) and with
`keel audit list`; nobody else learns the page exists."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.test import Client

from keel.accounts.models import User
from keel.audit.models import AuditEvent
from keel.audit.views import EVENTS_PER_PAGE
from keel.cli import main

from .conftest import PASSWORD, logged_in

URL = "/operators/audit/"


def at(day: int, hour: int = 9) -> datetime:
    # Long ago, so the operator's own log-in in a test is always the newest event.
    return datetime(2001, 3, day, hour, 0, tzinfo=UTC)


@pytest.fixture
def history(alice: User) -> list[AuditEvent]:
    """Three events on fixed days (written directly: the database's clock is not under the
    test's control), oldest first."""
    rows = [
        AuditEvent.objects.create(
            occurred_at=at(1),
            action="login.failed",
            subject=f"user:{alice.pk}",
            remote_ip="198.51.100.7",
            details={"username": "alice@example.org"},
        ),
        AuditEvent.objects.create(
            occurred_at=at(2),
            action="login.succeeded",
            actor_id=alice.pk,
            actor_label="alice@example.org",
            subject=f"user:{alice.pk}",
            remote_ip="198.51.100.7",
        ),
        AuditEvent.objects.create(
            occurred_at=at(3),
            action="pool.rules_adopted",
            subject="pool:12",
            pool_id=12,
            details={"version": 2, "vote": 5},
        ),
    ]
    return rows


def listed(client: Client, query: str = "") -> list[str]:
    """The actions on the page, leaving out the operator's own log-in to it."""
    response = client.get(URL + query)
    assert response.status_code == 200
    return [
        event.action
        for event in response.context["page"].object_list
        if event.actor_label != "ops@keel.example"
    ]


# ---------------------------------------------------------------------------- the page


def test_staff_read_the_log_newest_first(operator, history):
    client = logged_in(operator)
    assert listed(client) == ["pool.rules_adopted", "login.succeeded", "login.failed"]
    body = client.get(URL).content.decode()
    assert "<code>login.succeeded</code>" in body
    assert "198.51.100.7" in body
    assert "2001-03-03 09:00:00" in body


def test_a_worker_is_told_the_page_does_not_exist(alice, history):
    response = logged_in(alice).get(URL)
    assert response.status_code == 404
    assert "pool.rules_adopted" not in response.content.decode()


def test_someone_not_logged_in_is_sent_to_log_in(db):
    response = Client().get(URL)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={URL}"


def test_the_page_is_in_the_navbar_of_staff_only(operator, alice):
    assert f'href="{URL}"' in logged_in(operator).get("/dashboard/").content.decode()
    assert f'href="{URL}"' not in logged_in(alice).get("/dashboard/").content.decode()


@pytest.mark.parametrize(
    ("query", "actions"),
    [
        ("?action=login.failed", ["login.failed"]),
        ("?action=login", ["login.succeeded", "login.failed"]),
        ("?action=pool", ["pool.rules_adopted"]),
        ("?action=log", []),
        ("?actor=ALICE@example", ["login.succeeded"]),
        ("?subject=pool:12", ["pool.rules_adopted"]),
        ("?pool=12", ["pool.rules_adopted"]),
        ("?pool=13", []),
        ("?platform=12", []),
        ("?pool=x", []),
    ],
)
def test_filters(operator, history, query, actions):
    assert listed(logged_in(operator), query) == actions


def test_filter_by_actor_id(operator, history, alice):
    assert listed(logged_in(operator), f"?actor={alice.pk}") == ["login.succeeded"]


def test_pages_keep_the_filter(operator, db):
    for n in range(EVENTS_PER_PAGE + 1):
        AuditEvent.objects.create(occurred_at=at(1, 0), action="vote.closed", details={"n": n})
    client = logged_in(operator)
    first = client.get(URL + "?action=vote")
    assert len(first.context["page"].object_list) == EVENTS_PER_PAGE
    assert 'href="?action=vote&amp;page=2"' in first.content.decode()
    second = client.get(URL + "?action=vote&page=2")
    assert [e.details for e in second.context["page"].object_list] == [{"n": 0}]


# ---------------------------------------------------------------------------- the admin


@pytest.fixture
def root(db: None) -> User:
    return User.objects.create_superuser("root@keel.example", PASSWORD, name="Root")


def test_the_admin_shows_events_and_allows_no_change(root, history):
    client = logged_in(root)
    listing = client.get("/admin/audit/auditevent/")
    assert listing.status_code == 200
    assert "pool.rules_adopted" in listing.content.decode()
    assert client.get(f"/admin/audit/auditevent/{history[0].pk}/change/").status_code == 200
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    assert client.get(f"/admin/audit/auditevent/{history[0].pk}/delete/").status_code == 403
    refused = client.post(
        f"/admin/audit/auditevent/{history[0].pk}/change/", {"action": "login.succeeded"}
    )
    assert refused.status_code == 403
    assert AuditEvent.objects.get(pk=history[0].pk).action == "login.failed"
    # Not even "delete selected": the list offers no actions at all.
    assert listing.context["action_form"] is None


# ---------------------------------------------------------------------------- the CLI


def test_cli_lists_newest_first(history, alice, capsys):
    assert main(["audit", "list"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        '2001-03-03 09:00:00  pool.rules_adopted  -  pool:12  -  {"version": 2, "vote": 5}',
        f"2001-03-02 09:00:00  login.succeeded  alice@example.org  user:{alice.pk}"
        "  198.51.100.7  -",
        f"2001-03-01 09:00:00  login.failed  -  user:{alice.pk}  198.51.100.7"
        '  {"username": "alice@example.org"}',
    ]
    assert err == "3 event(s)\n"


def test_cli_filters_by_action_and_day_and_limits(history, capsys):
    assert main(["audit", "list", "--action", "login", "--limit", "1"]) == 0
    assert [line.split("  ")[1] for line in capsys.readouterr().out.splitlines()] == [
        "login.succeeded"
    ]
    assert main(["audit", "list", "--since", "2001-03-02"]) == 0
    assert [line.split("  ")[1] for line in capsys.readouterr().out.splitlines()] == [
        "pool.rules_adopted",
        "login.succeeded",
    ]


def test_cli_json(history, alice, capsys):
    assert main(["audit", "list", "--action", "login.succeeded", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {
            "id": history[1].pk,
            "occurred_at": "2001-03-02T09:00:00+00:00",
            "action": "login.succeeded",
            "actor_id": alice.pk,
            "actor": "alice@example.org",
            "subject": f"user:{alice.pk}",
            "pool_id": None,
            "platform_id": None,
            "worker_id": None,
            "remote_ip": "198.51.100.7",
            "user_agent": "",
            "details": {},
        }
    ]


def test_cli_refuses_a_bad_day(db, capsys):
    assert main(["audit", "list", "--since", "March"]) == 1
    assert capsys.readouterr().err == "error: since: 'March' is not YYYY-MM-DD\n"


@pytest.mark.parametrize("command", [["audit"], ["audit", "list"]])
def test_cli_help(command, capsys):
    assert main([*command, "--help"]) == 0
    assert capsys.readouterr().out.startswith(f"Usage: keel {' '.join(command)}")
