"""The gateway end to end: an operator creates an API key in the platform console, the
platform's systems link a worker and send earnings events with that key, and the worker
sees the contribution in their benefits account and takes time off from it."""

from __future__ import annotations

import json
import urllib.request
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from keel.accounts.services import create_worker
from keel.api.models import ApiKey
from keel.gateway import services
from keel.gateway.models import BenefitUse

pytestmark = pytest.mark.browser

PASSWORD = "quiet-harbour-1987"
# Alia-style: $5.00 per cleaning, time off paid in $120.00 units.
POLICY = {"currency": "USD", "per_job": 500, "time_off_unit": 12_000}


def log_in(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def log_out(page: Page) -> None:
    page.context.clear_cookies()


def api(live_server: LiveServer, path: str, key: str, body: object) -> dict[str, object]:
    request = urllib.request.Request(  # noqa: S310 - the test's own live server
        f"{live_server.url}/api/v1{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310
        result: dict[str, object] = json.loads(response.read())
        return result


def test_operator_key_events_and_the_worker_takes_time_off(
    page: Page, live_server: LiveServer, page_problems: list[str]
) -> None:
    operator = create_worker("ops@tidy.example", name="Tidy Ops", password=PASSWORD)
    worker = create_worker("rosa@example.org", name="Rosa Diaz", password=PASSWORD)
    services.create_platform(
        "Tidy Homes", operator=operator, policy=POLICY, effective_from=date(2026, 1, 1)
    )
    code = services.create_link_code(worker)

    # The operator creates a key in the console; it is shown once.
    log_in(page, operator.email)
    page.goto("/platform/")
    page.get_by_role("navigation", name="Tidy Homes console").get_by_role(
        "link", name="API keys"
    ).click()
    page.get_by_label("Name").fill("Payroll system")
    page.get_by_label("earnings:write").check()
    page.get_by_label("workers:link").check()
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-key-value").input_value()
    assert key.startswith("keel_")
    # Reloading re-sends the form: no second key, and the first is not shown again.
    page.reload()
    expect(page.get_by_text("already sent")).to_be_visible()
    expect(page.locator("#new-key-value")).to_have_count(0)
    expect(page.get_by_role("cell", name="Payroll system", exact=True)).to_be_visible()
    log_out(page)

    # The platform links the worker with the code she gave it, then reports 120 cleanings.
    linked = api(live_server, "/platform/links", key, {"worker_ref": "cl-7", "link_code": code})
    assert linked["status"] == "active"
    day = (date.today() - timedelta(days=1)).isoformat()  # noqa: DTZ011
    events = [
        {
            "event_id": f"job-{n}",
            "worker_ref": "cl-7",
            "occurred_at": f"{day}T1{n}:00:00Z",
            "gross": 48_000,
            "currency": "USD",
            "jobs": 40,
            "description": "40 cleanings",
        }
        for n in range(3)
    ]
    sent = api(live_server, "/platform/earnings", key, {"events": events})
    assert [e["contribution"] for e in sent["events"]] == [20_000, 20_000, 20_000]  # type: ignore[index]

    # Rosa sees $600.00 arrive, $120.00 of it (20%) in her time-off bucket, and takes it.
    log_in(page, worker.email)
    page.goto("/benefits/")
    expect(page.get_by_text("Tidy Homes").first).to_be_visible()
    time_off = page.locator("#use-time-off")
    expect(time_off.get_by_test_id("use-balance-time-off")).to_have_text("$120.00")
    time_off.get_by_label("Amount").fill("120.00")
    time_off.get_by_role("button", name="Take time off").click()
    expect(page.get_by_test_id("uses")).to_contain_text("$120.00")
    expect(page.locator("#use-time-off").get_by_test_id("use-balance-time-off")).to_have_text(
        "$0.00"
    )
    assert list(BenefitUse.objects.values_list("kind", "amount")) == [("time_off", 12_000)]
    assert ApiKey.objects.count() == 1
    assert page_problems == []
