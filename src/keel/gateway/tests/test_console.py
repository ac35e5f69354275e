"""The platform operator's console: only the platform's own operators see it (anyone else
gets 404 on every URL), keys are shown once, policies are published through a form whose
errors name the field, and clearing batches are closed, listed, downloaded and settled."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from unittest import mock

import pytest
from django.http import HttpResponse, HttpResponseBase
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.api import services as api_keys
from keel.api.models import ApiKey
from keel.gateway import services
from keel.gateway.models import (
    ClearingBatch,
    ContributionPolicy,
    LinkStatus,
    Platform,
    Settlement,
    WorkerLink,
)
from keel.gateway.tests.conftest import PASSWORD, event
from keel.ledger.models import Journal

TENTH = {"currency": "USD", "rate_bps": 1000}
POLICY_START = date(2026, 1, 1)


@contextmanager
def at(moment: datetime) -> Iterator[None]:
    """Run the services at another time (when an event arrived, say)."""
    with mock.patch.object(timezone, "now", return_value=moment):
        yield


def browser(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def flat(operator: User) -> Platform:
    return services.create_platform(
        "Flat Gigs", operator=operator, policy=TENTH, effective_from=POLICY_START
    )


@pytest.fixture
def ops(operator: User) -> Client:
    return browser(operator)


@pytest.fixture
def rival(db: None) -> User:
    user = create_worker("ops@rival.example", name="Rival Ops", password=PASSWORD)
    services.create_platform("Rival", operator=user, policy=TENTH, effective_from=POLICY_START)
    return user


def html(response: HttpResponseBase) -> str:
    assert isinstance(response, HttpResponse)
    return response.content.decode()


def url(name: str, *args: object) -> str:
    return reverse(f"gateway:{name}", args=args)


# ---------------------------------------------------------------------------- index


def test_url_names() -> None:
    assert url("console") == "/platform/"
    assert url("console_overview", 7) == "/platform/7/"
    assert url("console_keys", 7) == "/platform/7/keys/"
    assert url("console_batch", 7, 3) == "/platform/7/clearing/3/"
    assert url("console_statement", 7, 3) == "/platform/7/clearing/3/statement.csv"


def test_login_required(flat: Platform) -> None:
    for target in (url("console"), url("console_overview", flat.pk), url("console_keys", flat.pk)):
        response = Client().get(target)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


def test_a_person_without_a_platform_is_told_how_to_get_one(worker: User) -> None:
    response = browser(worker).get(url("console"))
    assert response.status_code == 200
    page = html(response)
    assert 'data-testid="no-platforms"' in page
    assert "keel platform add" in page
    assert f'action="{url("console_create")}"' in page


def test_one_platform_goes_straight_to_it(flat: Platform, ops: Client) -> None:
    response = ops.get(url("console"))
    assert response.status_code == 302
    assert response["Location"] == url("console_overview", flat.pk)


def test_an_operator_of_one_platform_can_still_set_up_another(flat: Platform, ops: Client) -> None:
    page = html(ops.get(url("console_overview", flat.pk)))
    assert f'href="{url("console")}?all=1"' in page
    listing = html(ops.get(url("console") + "?all=1"))
    assert "Flat Gigs" in listing
    assert f'action="{url("console_create")}"' in listing


def test_the_list_shows_only_the_operators_platforms(
    flat: Platform, operator: User, rival: User
) -> None:
    services.create_platform("Second Gigs", operator=operator)
    page = html(browser(operator).get(url("console")))
    assert "Flat Gigs" in page and "Second Gigs" in page
    assert "Rival" not in page
    rival_page = html(browser(rival).get(url("console"), follow=True))
    assert "Flat Gigs" not in rival_page


def test_create_a_platform(worker: User) -> None:
    client = browser(worker)
    response = client.post(
        url("console_create"),
        {"name": "Ana's Agency", "currency": "eur", "clearing_cadence": "weekly"},
    )
    platform = Platform.objects.get(name="Ana's Agency")
    assert response.status_code == 302
    assert response["Location"] == url("console_policies", platform.pk)
    assert (platform.currency, platform.clearing_cadence) == ("EUR", "weekly")
    assert list(platform.operators.all()) == [worker]
    page = html(client.get(response["Location"]))
    assert "Publish a contribution policy before" in page
    assert 'data-testid="no-policy"' in page


def test_create_a_platform_refuses_a_taken_name(flat: Platform, worker: User) -> None:
    response = browser(worker).post(
        url("console_create"),
        {"name": "flat gigs", "currency": "USD", "clearing_cadence": "daily"},
    )
    assert response.status_code == 400
    assert "already exists" in html(response)
    assert Platform.objects.count() == 1
    assert not worker.operated_platforms.exists()


# ---------------------------------------------------------------------------- confinement


@pytest.fixture
def objects(flat: Platform, operator: User, worker: User) -> dict[str, int]:
    """One of everything on Flat Gigs: a key, a link, a batch."""
    key, _ = services.create_platform_key(flat, operator, "payroll", ["earnings:write"])
    link = services.link_with_code(flat, "w-1", services.create_link_code(worker))
    today = timezone.localdate()
    services.record_events(flat, [event("e1", today.isoformat(), 10_000, worker_ref="w-1")])
    [batch] = services.close_period(flat, today, today)
    return {"platform": flat.pk, "key": key.pk, "link": link.pk, "batch": batch.pk}


def console_urls(ids: dict[str, int], platform_id: int) -> list[tuple[str, str]]:
    p = platform_id
    return [
        ("get", url("console_overview", p)),
        ("get", url("console_keys", p)),
        ("post", url("console_keys", p)),
        ("get", url("console_key_revoke", p, ids["key"])),
        ("post", url("console_key_revoke", p, ids["key"])),
        ("get", url("console_policies", p)),
        ("post", url("console_policies", p)),
        ("get", url("console_workers", p)),
        ("post", url("console_workers", p)),
        ("get", url("console_link_end", p, ids["link"])),
        ("post", url("console_link_end", p, ids["link"])),
        ("get", url("console_suspense", p)),
        ("get", url("console_clearing", p)),
        ("post", url("console_close", p)),
        ("get", url("console_batch", p, ids["batch"])),
        ("post", url("console_batch", p, ids["batch"])),
        ("get", url("console_statement", p, ids["batch"])),
    ]


# A start date a new version may have: after the fixtures' events, within a year.
LATER = timezone.localdate() + timedelta(days=30)

FORM_DATA = {
    "name": "stolen",
    "scopes": ["earnings:write"],
    "effective_from": LATER.isoformat(),
    "rate_percent": "50",
    "include_gross": "on",
    "threshold_period": "quarter",
    "tiers-TOTAL_FORMS": "0",
    "tiers-INITIAL_FORMS": "0",
    "worker_ref": "w-1",
    "email": "thief@example.org",
    "reference": "WIRE-X",
    "amount": "1.00",
    "received_on": "2026-01-02",
}


def test_another_operator_gets_404_everywhere(objects: dict[str, int], rival: User) -> None:
    client = browser(rival)
    rival_platform = rival.operated_platforms.get()
    before = (
        ApiKey.objects.filter(revoked_at__isnull=True).count(),
        ContributionPolicy.objects.count(),
        list(WorkerLink.objects.values_list("worker_ref", "status", "invited_email")),
        ClearingBatch.objects.count(),
        Settlement.objects.count(),
        Journal.objects.count(),
    )
    # Flat Gigs' pages, and Flat Gigs' key, link and batch under the rival's own platform.
    mine = rival_platform.pk
    targets = [
        *console_urls(objects, objects["platform"]),
        ("get", url("console_key_revoke", mine, objects["key"])),
        ("post", url("console_key_revoke", mine, objects["key"])),
        ("get", url("console_link_end", mine, objects["link"])),
        ("post", url("console_link_end", mine, objects["link"])),
        ("get", url("console_batch", mine, objects["batch"])),
        ("post", url("console_batch", mine, objects["batch"])),
        ("get", url("console_statement", mine, objects["batch"])),
    ]
    for method, target in targets:
        response = getattr(client, method)(target, FORM_DATA)
        assert response.status_code == 404, (method, target)
        assert "Flat Gigs" not in html(response)
    after = (
        ApiKey.objects.filter(revoked_at__isnull=True).count(),
        ContributionPolicy.objects.count(),
        list(WorkerLink.objects.values_list("worker_ref", "status", "invited_email")),
        ClearingBatch.objects.count(),
        Settlement.objects.count(),
        Journal.objects.count(),
    )
    assert after == before


@pytest.mark.parametrize("index", range(17))
def test_a_worker_who_operates_nothing_gets_404(
    objects: dict[str, int], worker: User, index: int
) -> None:
    method, target = console_urls(objects, objects["platform"])[index]
    assert getattr(browser(worker), method)(target, FORM_DATA).status_code == 404


def test_unknown_platform_is_404(ops: Client, flat: Platform) -> None:
    assert ops.get(url("console_overview", flat.pk + 1000)).status_code == 404


# ---------------------------------------------------------------------------- overview


def test_overview_figures(flat: Platform, ops: Client, worker: User) -> None:
    services.link_with_code(flat, "w-1", services.create_link_code(worker))
    services.invite(flat, "w-2", "bo@example.org")
    today = timezone.localdate()
    services.record_events(
        flat,
        [
            event("e1", today.isoformat(), 10_000, worker_ref="w-1"),  # $10.00 credited
            event("e2", today.isoformat(), 25_000, worker_ref="w-3"),  # $25.00 held
        ],
    )
    page = html(ops.get(url("console_overview", flat.pk)))
    assert re.search(r'data-testid="linked">\s*1<', page)
    assert "1 invitation waiting" in page
    assert re.search(r'data-testid="suspense"><div>\$25\.00</div>', page)
    assert re.search(r'data-testid="this-month"><div>\$35\.00</div>', page)
    assert "not yet in a batch: $35.00" in page
    assert "10% of your earnings" in page  # the policy in words


# ---------------------------------------------------------------------------- keys


def shown_key(page: str) -> str | None:
    match = re.search(r'id="new-key-value"\s+value="([^"]+)"', page)
    return match.group(1) if match else None


def test_key_is_shown_once(flat: Platform, ops: Client) -> None:
    response = ops.post(
        url("console_keys", flat.pk),
        {"name": "payroll sync", "scopes": ["earnings:write", "clearing:read"]},
    )
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    page = html(response)
    plaintext = shown_key(page)
    assert plaintext is not None
    assert "cannot show it to you again" in page
    assert 'data-copy-target="new-key-value"' in page
    key = ApiKey.objects.get()
    assert (key.owner_type, key.owner_id, key.name) == ("platform", flat.pk, "payroll sync")
    assert sorted(key.scopes) == ["clearing:read", "earnings:write"]
    assert api_keys.authenticate_key(plaintext) == key
    # The list shows the key, never its secret again.
    listing = html(ops.get(url("console_keys", flat.pk)))
    assert f"keel_{key.prefix}_" in listing
    assert plaintext not in listing
    assert shown_key(listing) is None


def test_a_resent_key_form_mints_no_second_key(flat: Platform, ops: Client) -> None:
    # Reloading the page that showed the key re-sends the form with the same token.
    form = {"name": "sync", "scopes": ["earnings:write"], "token": "once-1"}
    assert shown_key(html(ops.post(url("console_keys", flat.pk), form))) is not None
    again = html(ops.post(url("console_keys", flat.pk), form, follow=True))
    assert ApiKey.objects.count() == 1
    assert shown_key(again) is None
    assert "already sent" in again


def test_key_needs_a_scope(flat: Platform, ops: Client) -> None:
    response = ops.post(url("console_keys", flat.pk), {"name": "nothing"})
    assert response.status_code == 400
    assert "Choose at least one thing the key may do." in html(response)
    assert shown_key(html(response)) is None
    assert not ApiKey.objects.exists()


def test_a_personal_scope_cannot_be_granted(flat: Platform, ops: Client) -> None:
    response = ops.post(url("console_keys", flat.pk), {"name": "x", "scopes": ["ledger:read"]})
    assert response.status_code == 400
    assert not ApiKey.objects.exists()


def test_revoke_a_key(flat: Platform, ops: Client, operator: User) -> None:
    key, plaintext = services.create_platform_key(flat, operator, "old", ["earnings:write"])
    confirm = ops.get(url("console_key_revoke", flat.pk, key.pk))
    assert "stops working at once" in html(confirm)
    assert ApiKey.objects.get().revoked_at is None
    response = ops.post(url("console_key_revoke", flat.pk, key.pk))
    assert response.status_code == 302
    assert ApiKey.objects.get().revoked_at is not None
    assert api_keys.authenticate_key(plaintext) is None
    assert "revoked" in html(ops.get(url("console_keys", flat.pk)))


# ---------------------------------------------------------------------------- policies


def policy_form(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Autumn terms",
        "effective_from": LATER.isoformat(),
        "rate_percent": "",
        "include_gross": "on",
        "per_job": "",
        "monthly_minimum": "",
        "monthly_cap": "",
        "yearly_cap": "",
        "threshold": "",
        "threshold_period": "quarter",
        "time_off_unit": "",
        "confirm": "on",
        "tiers-TOTAL_FORMS": "2",
        "tiers-INITIAL_FORMS": "0",
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "20",
        "tiers-0-status": "",
        "tiers-0-rate_percent": "",
        "tiers-0-per_job": "",
        "tiers-1-status": "",
        "tiers-1-rate_percent": "",
        "tiers-1-per_job": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != "off"}


def test_policies_page_shows_versions_in_words(flat: Platform, ops: Client) -> None:
    page = html(ops.get(url("console_policies", flat.pk)))
    assert "Version 1" in page
    assert "The platform contributes 10% of your earnings" in page
    assert "in effect today" in page
    assert "A change never rewrites the past." in page
    # The form starts from the terms in force.
    assert 'name="rate_percent"' in page and 'value="10"' in page


def test_publish_a_policy_from_the_form(flat: Platform, ops: Client, operator: User) -> None:
    response = ops.post(
        url("console_policies", flat.pk),
        policy_form(
            rate_percent="4.5",
            include_tips="on",
            per_job="1.25",
            monthly_minimum="5",
            monthly_cap="1,000.00",
            yearly_cap="",
            threshold="1000",
            threshold_period="quarter",
            backdate="on",
            time_off_unit="120.00",
            **{"tiers-0-status": "platinum", "tiers-0-rate_percent": "7"},
        ),
    )
    assert response.status_code == 302, html(response)
    version = ContributionPolicy.objects.get(platform=flat, version=2)
    assert (version.name, version.effective_from, version.published_by) == (
        "Autumn terms",
        LATER,
        operator,
    )
    assert version.terms == {
        "currency": "USD",
        "rate_bps": 450,
        "include_gross": True,
        "include_tips": True,
        "include_bonus": False,
        "per_job": 125,
        "monthly_minimum": 500,
        "monthly_cap": 100_000,
        "yearly_cap": None,
        "threshold": 100_000,
        "threshold_period": "quarter",
        "threshold_includes_tips": False,
        "backdate": True,
        "tiers": [{"status": "platinum", "rate_bps": 700, "per_job": None}],
        "time_off_unit": 12_000,
    }
    page = html(ops.get(response["Location"]))
    assert "Version 2 is published" in page
    assert "With platinum status, the platform contributes 7%" in page


def field_errors(page: str, field: str) -> str:
    match = re.search(rf'id="id_{field}-errors">(.*?)</div>\s*</div>', page, re.S)
    return match.group(1) if match else ""


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"rate_percent": "four"}, "rate_percent", "Enter a percentage"),
        ({"rate_percent": "4.125"}, "rate_percent", "at most two decimals"),
        ({"rate_percent": "120"}, "rate_percent", "between 0% and 100%"),
        ({"per_job": "1.234"}, "per_job", "Enter an amount in USD"),
        ({"per_job": "-1"}, "per_job", "zero or more"),
        ({"threshold": "lots"}, "threshold", "Enter an amount in USD"),
        (
            {"monthly_minimum": "10", "monthly_cap": "5"},
            "monthly_minimum",
            "The monthly minimum ($10.00) is above the monthly cap ($5.00)",
        ),
        ({"time_off_unit": "0"}, "time_off_unit", "more than zero"),
        # Published in one click, a version was there for good.
        ({"confirm": ""}, "confirm", "Tick the box to publish: a version cannot be withdrawn."),
        ({"rate_percent": "4", "include_gross": "off"}, "include_gross", "applies to nothing"),
        ({"tiers-0-rate_percent": "7"}, "tiers-0-status", "Name the worker status"),
        # The policy's own rules, reported by the service onto the field.
        ({"effective_from": "2025-06-01"}, "effective_from", "must start after version 1"),
        ({"tiers-0-status": "gold"}, "tiers-0-status", "changes nothing"),
        (
            {
                "tiers-0-status": "gold",
                "tiers-0-rate_percent": "5",
                "tiers-1-status": "gold",
                "tiers-1-rate_percent": "6",
            },
            "tiers-1-status",
            "more than one tier",
        ),
    ],
)
def test_publish_errors_name_the_field(
    flat: Platform, ops: Client, overrides: dict[str, str], field: str, message: str
) -> None:
    response = ops.post(url("console_policies", flat.pk), policy_form(**overrides))
    assert response.status_code == 400
    assert message in field_errors(html(response), field), html(response)
    assert ContributionPolicy.objects.filter(platform=flat).count() == 1


def test_a_preview_shows_the_draft_in_workers_words_and_publishes_nothing(
    flat: Platform, ops: Client
) -> None:
    # Publishing is for good, so the operator reads the terms as their workers will, and
    # what changes, before ticking the box. No tick is needed to preview.
    response = ops.post(
        url("console_policies", flat.pk),
        policy_form(rate_percent="4.5", per_job="1.25", confirm="off", preview="1"),
    )
    assert response.status_code == 200
    page = html(response)
    preview = page.split('data-testid="policy-preview"', 1)[1].split("</section>", 1)[0]
    assert f"Preview: version 2 · Autumn terms, from {LATER.day} {LATER:%B %Y}" in preview
    assert "Nothing is published yet." in preview
    new = "The platform contributes 4.5% of your earnings before tips and bonuses, plus $1.25"
    assert re.search(rf'data-change="added">.*?new</span>{re.escape(new)} per job\.', preview)
    assert re.search(
        r'data-change="dropped">.*?no longer</span>The platform contributes 10% of your',
        preview,
    )
    # The form keeps the draft, and the box is still to be ticked.
    assert 'value="4.5"' in page and 'value="1.25"' in page
    assert ContributionPolicy.objects.filter(platform=flat).count() == 1


def test_a_preview_of_the_same_terms_says_nothing_changes(flat: Platform, ops: Client) -> None:
    response = ops.post(
        url("console_policies", flat.pk), policy_form(rate_percent="10", preview="1")
    )
    assert "These are the terms of version 1, word for word" in html(response)
    assert ContributionPolicy.objects.filter(platform=flat).count() == 1


def test_a_preview_asks_what_publishing_would(flat: Platform, ops: Client) -> None:
    # A draft that could not be published says so at the preview, on its field.
    services.record_events(flat, [event("e1", "2026-06-30", 10_000)])
    response = ops.post(
        url("console_policies", flat.pk),
        policy_form(rate_percent="5", effective_from="2026-06-30", preview="1"),
    )
    assert response.status_code == 400
    assert "never rewrites the past" in field_errors(html(response), "effective_from")
    assert 'data-testid="policy-preview"' not in html(response)
    assert ContributionPolicy.objects.filter(platform=flat).count() == 1


def test_a_version_starts_at_most_a_year_ahead(flat: Platform, ops: Client) -> None:
    # A mistyped year would stop every later version until then, and 9999-12-31 left
    # the policies page a 500 (the earliest next start is past the calendar's end).
    horizon = timezone.localdate() + timedelta(days=366)
    for typo in ("9999-12-31", (horizon + timedelta(days=1)).isoformat()):
        response = ops.post(url("console_policies", flat.pk), policy_form(effective_from=typo))
        assert response.status_code == 400
        assert (
            f"a new version can start at most a year ahead, by {horizon.isoformat()};"
            " publish a later change nearer the time"
        ) in field_errors(html(response), "effective_from")
    assert ContributionPolicy.objects.filter(platform=flat).count() == 1
    assert ops.get(url("console_policies", flat.pk)).status_code == 200
    ok = ops.post(url("console_policies", flat.pk), policy_form(effective_from=str(horizon)))
    assert ok.status_code == 302


def test_a_policy_never_rewrites_recorded_events(flat: Platform, ops: Client) -> None:
    services.record_events(flat, [event("e1", "2026-06-30", 10_000)])
    page = html(ops.get(url("console_policies", flat.pk)))
    assert "Events are recorded up to 30 June 2026" in page
    assert "The earliest a new version can start is <strong>1 July 2026</strong>" in page
    response = ops.post(
        url("console_policies", flat.pk),
        policy_form(rate_percent="5", effective_from="2026-06-30"),
    )
    assert response.status_code == 400
    assert "never rewrites the past" in field_errors(html(response), "effective_from")
    assert ContributionPolicy.objects.filter(platform=flat).count() == 1
    ok = ops.post(url("console_policies", flat.pk), policy_form(rate_percent="5"))
    assert ok.status_code == 302


# ---------------------------------------------------------------------------- workers


def test_invite_and_end_a_link(flat: Platform, ops: Client, worker: User) -> None:
    response = ops.post(
        url("console_workers", flat.pk),
        {"worker_ref": "dasher-9", "email": "Ana@Example.org", "worker_status": "gold"},
    )
    assert response.status_code == 302
    link = WorkerLink.objects.get(platform=flat, worker_ref="dasher-9")
    assert (link.status, link.invited_email, link.worker_status) == (
        LinkStatus.INVITED,
        "ana@example.org",
        "gold",
    )
    services.accept_invitation(worker, link.pk)
    page = html(ops.get(url("console_workers", flat.pk)))
    assert "dasher-9" in page and "Ana" in page and "linked" in page
    response = ops.post(url("console_link_end", flat.pk, link.pk))
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.status == LinkStatus.ENDED


def test_invite_errors_name_the_field(flat: Platform, ops: Client, worker: User) -> None:
    services.link_with_code(flat, "w-1", services.create_link_code(worker))
    bad = ops.post(url("console_workers", flat.pk), {"worker_ref": "x", "email": "nope"})
    assert bad.status_code == 400
    assert "valid email" in field_errors(html(bad), "email")
    linked = ops.post(
        url("console_workers", flat.pk), {"worker_ref": "w-1", "email": "ana@example.org"}
    )
    assert linked.status_code == 400
    assert "already linked" in field_errors(html(linked), "worker_ref")
    assert WorkerLink.objects.count() == 1


# ---------------------------------------------------------------------------- suspense


def test_suspense_lists_unclaimed_contributions(flat: Platform, ops: Client) -> None:
    today = timezone.localdate().isoformat()
    services.invite(flat, "w-2", "bo@example.org")
    services.record_events(
        flat,
        [
            event("a", today, 10_000, worker_ref="w-2"),
            event("b", today, 20_000, worker_ref="w-2"),
            event("c", today, 5_000, worker_ref="w-3"),
        ],
    )
    page = html(ops.get(url("console_suspense", flat.pk)))
    rows = re.findall(
        r'data-ref="([^"]+)">.*?<td class="text-end">(\d+)</td>.*?>([^<]+)</td>', page, re.S
    )
    assert rows == [("w-2", "2", "$30.00"), ("w-3", "1", "$5.00")]
    assert "invited bo@example.org" in page
    assert re.search(r'data-testid="suspense-total">\$35\.00<', page)


# ---------------------------------------------------------------------------- clearing


def test_close_the_last_period_now(flat: Platform, ops: Client) -> None:
    today = timezone.localdate()
    yesterday = today - timedelta(days=1)
    with at(datetime(yesterday.year, yesterday.month, yesterday.day, 12, tzinfo=UTC)):
        services.record_events(flat, [event("y1", yesterday.isoformat(), 10_000)])
    services.record_events(flat, [event("t1", today.isoformat(), 30_000)])  # today: not yet
    response = ops.post(url("console_close", flat.pk))
    assert response.status_code == 302
    [batch] = ClearingBatch.objects.all()
    assert (batch.period_start, batch.owed, batch.event_count) == (yesterday, 1_000, 1)
    page = html(ops.get(response["Location"]))
    assert "is closed: 1 event owing $10.00" in page
    assert f'data-batch="{batch.pk}" data-status="open"' in page
    # Again: nothing changes.
    ops.post(url("console_close", flat.pk))
    assert ClearingBatch.objects.count() == 1


@pytest.fixture
def batch(flat: Platform) -> ClearingBatch:
    today = timezone.localdate()
    services.record_events(
        flat,
        [
            event("a1", today.isoformat(), 100_000, worker_ref="w-1", description="Tuesday"),
            event("a2", today.isoformat(), 25_000, worker_ref="w-2"),
        ],
    )
    [closed] = services.close_period(flat, today, today)
    return closed


def test_batch_page_lists_every_event(flat: Platform, ops: Client, batch: ClearingBatch) -> None:
    page = html(ops.get(url("console_batch", flat.pk, batch.pk)))
    assert re.findall(r'data-event="([^"]+)"', page) == ["a1", "a2"]
    assert re.search(r'data-testid="owed">\$125\.00<', page)
    assert "Waiting for payment." in page
    assert url("console_statement", flat.pk, batch.pk) in page


def test_statement_download(flat: Platform, ops: Client, batch: ClearingBatch) -> None:
    response = ops.get(url("console_statement", flat.pk, batch.pk))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    day = f"{batch.period_start:%Y%m%d}"
    assert response["Content-Disposition"] == (
        f'attachment; filename="flat-gigs-{day}-{day}-USD.csv"'
    )
    rows = list(csv.reader(io.StringIO(html(response))))
    assert [r[0] for r in rows] == ["event_id", "a1", "a2"]
    assert [r[9] for r in rows[1:]] == ["10000", "2500"]


def settle(ops: Client, platform: Platform, batch: ClearingBatch, **data: str) -> HttpResponse:
    received = batch.period_end.isoformat()
    form = {"reference": "WIRE-1", "amount": "125.00", "received_on": received, **data}
    return ops.post(url("console_batch", platform.pk, batch.pk), form)


def test_settle_in_full(flat: Platform, ops: Client, batch: ClearingBatch) -> None:
    response = settle(ops, flat, batch)
    assert response.status_code == 302
    page = html(ops.get(url("console_batch", flat.pk, batch.pk)))
    assert "the batch is settled" in page
    assert re.search(r'data-testid="difference">\$0\.00<', page)
    assert Settlement.objects.get().amount == 12_500


def test_short_payment_shows_the_difference_in_red(
    flat: Platform, ops: Client, batch: ClearingBatch
) -> None:
    settle(ops, flat, batch, amount="120")
    page = html(ops.get(url("console_batch", flat.pk, batch.pk)))
    assert "the batch is short" in page
    assert re.search(r'keel-stat text-danger" data-testid="difference">-\$5\.00<', page)
    assert "still owed" in page
    listing = html(ops.get(url("console_clearing", flat.pk)))
    assert re.search(r'text-danger">\s*-\$5\.00', listing)
    assert 'data-status="short"' in listing


def test_excess_payment_shows_the_difference_in_amber(
    flat: Platform, ops: Client, batch: ClearingBatch
) -> None:
    settle(ops, flat, batch, amount="$130.50")
    page = html(ops.get(url("console_batch", flat.pk, batch.pk)))
    assert re.search(r'keel-stat text-warning-emphasis" data-testid="difference">\+\$5\.50<', page)
    listing = html(ops.get(url("console_clearing", flat.pk)))
    assert 'data-status="excess"' in listing


def test_an_excess_payment_is_refunded_from_the_batch_page(
    flat: Platform, ops: Client, batch: ClearingBatch
) -> None:
    # The page only said a refund would settle it; there was no way to record one.
    assert "Record a refund" not in html(ops.get(url("console_batch", flat.pk, batch.pk)))
    settle(ops, flat, batch, amount="$130.50")
    page = html(ops.get(url("console_batch", flat.pk, batch.pk)))
    assert "The platform paid $5.50 more than the batch owed." in page
    refund_url = url("console_refund", flat.pk, batch.pk)
    today = timezone.localdate().isoformat()
    form = {"refund-reference": "BACK-1", "refund-amount": "6.00", "refund-refunded_on": today}
    refused = ops.post(refund_url, form)
    assert refused.status_code == 400
    assert "no more than that can be refunded" in field_errors(html(refused), "refund-amount")
    response = ops.post(refund_url, {**form, "refund-amount": "5.50"})
    assert response.status_code == 302
    page = html(ops.get(url("console_batch", flat.pk, batch.pk)))
    assert "Refund recorded: the batch is settled." in page
    assert re.search(r'data-testid="difference">\$0\.00<', page)


def test_a_payment_recorded_in_error_is_withdrawn_from_the_batch_page(
    flat: Platform, ops: Client, batch: ClearingBatch
) -> None:
    # $1,250.00 typed for the $125.00 owed: withdrawn, the batch is open again.
    settle(ops, flat, batch, amount="1250")
    payment = Settlement.objects.get()
    withdraw = url("console_settlement_withdraw", flat.pk, batch.pk, payment.pk)
    assert withdraw in html(ops.get(url("console_batch", flat.pk, batch.pk)))
    refused = ops.post(withdraw, {"reason": ""})
    assert refused.status_code == 400
    assert "Say why the payment is withdrawn." in html(refused)
    payment.refresh_from_db()
    assert payment.withdrawn_at is None
    response = ops.post(withdraw, {"reason": "amount mistyped"})
    assert response.status_code == 302
    page = html(ops.get(url("console_batch", flat.pk, batch.pk)))
    assert "Payment WIRE-1 of $1,250.00 is withdrawn and its booking reversed" in page
    assert "the batch is open" in page
    assert re.search(
        rf'data-testid="withdrawn-{payment.pk}">Withdrawn [^<]*: amount mistyped', page
    )
    # The same reference now takes the right amount.
    assert settle(ops, flat, batch).status_code == 302
    assert services.batch_state(batch).status == "settled"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"amount": "12.345"}, "amount", "Enter an amount in USD"),
        ({"amount": "0"}, "amount", "more than zero"),
        # More than the ledger can book: was a 500.
        ({"amount": "99999999999999999999"}, "amount", "out of range"),
        ({"amount": ""}, "amount", "required"),
        ({"reference": ""}, "reference", "required"),
        ({"received_on": "2999-01-01"}, "received_on", "in the future"),
        ({"received_on": "1999-01-01"}, "received_on", "cannot have been received before"),
    ],
)
def test_settlement_errors_name_the_field(
    flat: Platform,
    ops: Client,
    batch: ClearingBatch,
    data: dict[str, str],
    field: str,
    message: str,
) -> None:
    response = settle(ops, flat, batch, **data)
    assert response.status_code == 400
    assert message in field_errors(html(response), field)
    assert not Settlement.objects.exists()


def test_same_reference_replayed_or_changed(
    flat: Platform, ops: Client, batch: ClearingBatch
) -> None:
    settle(ops, flat, batch, amount="120.00")
    journals = Journal.objects.count()
    assert settle(ops, flat, batch, amount="120.00").status_code == 302
    assert Journal.objects.count() == journals
    changed = settle(ops, flat, batch, amount="125.00")
    assert changed.status_code == 400
    assert "already recorded for $120.00" in field_errors(html(changed), "reference")
    assert list(Settlement.objects.values_list("amount", flat=True)) == [12_000]
    assert Journal.objects.count() == journals
