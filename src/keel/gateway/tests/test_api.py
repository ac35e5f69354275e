"""The gateway's API: platform keys, earnings batches, links, suspense, policy, clearing, and
confinement of every platform endpoint to the key's own platform."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.api import services as api_keys
from keel.gateway import services
from keel.gateway.api import platform_router
from keel.gateway.models import (
    Bundle,
    ClearingBatch,
    EarningsEvent,
    EventCorrection,
    LinkStatus,
    Platform,
    WorkerLink,
)
from keel.ledger.models import Journal, Leg

from .conftest import DOORDASH, PASSWORD, event

ALL_SCOPES = ("earnings:write", "workers:link", "clearing:read", "bundles:write")
# Lyft Utah: 7% of earnings for top-tier drivers, nothing for the rest.
LYFT = {
    "currency": "USD",
    "include_tips": True,
    "tiers": [{"status": "platinum", "rate_bps": 700}],
}
# A contribution of $60.00 split by the default allocation (30/30/20/10/10).
SPLIT_6000 = {"health": 1_800, "retirement": 1_800, "time_off": 1_200, "emergency": 600, "tax": 600}


def key_client(plaintext: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {plaintext}"})


def platform_key(platform: Platform, operator: User, scopes: tuple[str, ...] = ALL_SCOPES) -> str:
    return services.create_platform_key(platform, operator, "test", scopes)[1]


def post(client: Client, path: str, body: Any) -> Any:
    return client.post(f"/api/v1{path}", json.dumps(body), content_type="application/json")


def balances(worker: User) -> dict[str, int]:
    return {b.bucket: b.balance for b in services.bucket_balances(worker) if b.currency == "USD"}


def counts() -> tuple[int, int, int]:
    return EarningsEvent.objects.count(), Journal.objects.count(), Leg.objects.count()


@pytest.fixture
def dash(platform: Platform, operator: User) -> Client:
    return key_client(platform_key(platform, operator))


@pytest.fixture
def bob(db: None) -> User:
    return create_worker("bob@example.org", name="Bob", password=PASSWORD)


@pytest.fixture
def ride(db: None) -> Platform:
    """Platform B, with its own operator, a worker it linked and an unlinked reference."""
    operator = create_worker("ops@ride.example", name="Ride Ops", password=PASSWORD)
    return services.create_platform(
        "Ride", operator=operator, policy=LYFT, effective_from=date(2026, 1, 1)
    )


@pytest.fixture
def ride_client(ride: Platform) -> Client:
    return key_client(platform_key(ride, ride.operators.get()))


# ---------------------------------------------------------------------------- earnings


def test_doordash_worked_example_gives_exact_contributions(dash, link, worker):
    batch = [
        event("e1", "2026-01-10", 40_000, tips=5_000),
        event("e2", "2026-02-10", 50_000),
        # Crosses $1,000 excluding tips: 4% of the quarter's 110,000 pre-tip, back-dated.
        event("e3", "2026-03-05", 20_000, tips=3_000),
        event("e4", "2026-03-20", 10_000),
        # A new quarter starts below the threshold again.
        event("e5", "2026-04-02", 30_000),
    ]
    response = post(dash, "/platform/earnings", {"events": batch})
    assert response.status_code == 200, response.content
    body = response.json()
    assert [e["contribution"] for e in body["events"]] == [0, 0, 4_400, 400, 0]
    assert [e["held"] for e in body["events"]] == ["none", "none", "credited", "credited", "none"]
    assert [e["status"] for e in body["events"]] == ["created"] * 5
    assert [e["index"] for e in body["events"]] == [0, 1, 2, 3, 4]
    assert {e["policy_version"] for e in body["events"]} == {1}
    assert body["counts"] == {"events": 5, "created": 5, "exists": 0}
    assert body["totals"] == body["created_totals"] == {"USD": 4_800}
    journals = [e["journal_id"] for e in body["events"]]
    assert journals[0] is None and journals[1] is None and journals[4] is None
    assert Journal.objects.filter(pk__in=journals[2:4]).count() == 2
    # 4,400 and 400 each split 30/30/20/10/10 into the buckets.
    assert balances(worker) == {
        "health": 1_440,
        "retirement": 1_440,
        "time_off": 960,
        "emergency": 480,
        "tax": 480,
    }
    assert set(body["events"][0]) == {
        "index",
        "event_id",
        "status",
        "contribution",
        "currency",
        "held",
        "policy_version",
        "journal_id",
    }


def test_a_batch_of_a_thousand_events_is_recorded_whole(dash, link, worker):
    # Large enough for the bulk paths (COPY on PostgreSQL) and the period sums across
    # events of one batch: 1,000 events of $10 each, half for an unlinked reference.
    batch = [
        event(
            f"m{i:04d}",
            f"2026-0{1 + i % 6}-{1 + i % 28:02d}",
            1_000,
            tips=100,
            worker_ref="dasher-1" if i % 2 else "dasher-9",
            description=f"job {i}",
        )
        for i in range(1_000)
    ]
    response = post(dash, "/platform/earnings", {"events": batch})
    assert response.status_code == 200
    body = response.json()
    assert body["counts"] == {"events": 1_000, "created": 1_000, "exists": 0}
    # Each reference earns $5,000 (before tips) over two quarters and crosses $1,000 in
    # both, so 4% of all of it is contributed, back-dated: $200 a reference.
    assert body["totals"] == {"USD": 40_000}
    held = {e["held"] for e in body["events"]}
    assert held == {"none", "credited", "suspense"}
    assert EarningsEvent.objects.count() == 1_000
    stored = EarningsEvent.objects.get(event_id="m0007")
    assert (stored.worker_ref, stored.worker, stored.description) == ("dasher-1", worker, "job 7")
    assert stored.occurred_at == datetime(2026, 2, 8, 12, tzinfo=UTC)
    assert (stored.occurred_on, stored.period_month) == (date(2026, 2, 8), date(2026, 2, 1))
    assert stored.received_at.tzinfo is not None
    assert sum(balances(worker).values()) == 20_000
    replay = post(dash, "/platform/earnings", {"events": batch}).json()
    assert replay["counts"] == {"events": 1_000, "created": 0, "exists": 1_000}
    assert replay["totals"] == body["totals"]


def test_a_worker_at_home_in_another_currency_gets_buckets_in_the_policys(dash, platform):
    eva = create_worker("eva@example.org", name="Eva", password=PASSWORD, currency="EUR")
    services.link_with_code(platform, "dasher-eu", services.create_link_code(eva))
    response = post(
        dash,
        "/platform/earnings",
        {"events": [event("eu1", "2026-03-02", 150_000, worker_ref="dasher-eu")]},
    )
    assert response.json()["events"][0]["held"] == "credited"
    held = {(b.bucket, b.currency): b.balance for b in services.bucket_balances(eva)}
    assert {k: v for k, v in held.items() if k[1] == "USD"} == {
        (bucket, "USD"): amount for bucket, amount in SPLIT_6000.items()
    }
    assert {v for k, v in held.items() if k[1] == "EUR"} == {0}


def test_lyft_tier_pays_seven_percent_including_tips(ride, ride_client, bob):
    services.link_with_code(ride, "rider-7", services.create_link_code(bob))
    response = post(
        ride_client,
        "/platform/earnings",
        {
            "events": [
                event("r1", "2026-03-01", 10_000, tips=2_000, worker_ref="rider-7"),
                event(
                    "r2", "2026-03-02", 10_000, tips=2_000, worker_ref="rider-7",
                    worker_status="platinum",
                ),
            ]
        },
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert [e["contribution"] for e in response.json()["events"]] == [0, 840]
    assert sum(balances(bob).values()) == 840


def test_one_bad_event_refuses_the_whole_batch_and_records_nothing(dash, link, worker):
    before = counts()
    batch = [event(f"b{i}", "2026-03-02", 150_000) for i in range(5)]
    batch[3]["gross"] = "12.50"
    response = post(dash, "/platform/earnings", {"events": batch})
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "invalid_batch",
            "message": "events.3.gross: must be an integer number of minor units (no decimals,"
            " no strings); nothing was recorded",
            "field": "events.3.gross",
            "details": [
                {
                    "index": 3,
                    "field": "events.3.gross",
                    "message": "must be an integer number of minor units (no decimals, no strings)",
                    "code": "invalid",
                }
            ],
        }
    }
    assert counts() == before
    assert sum(balances(worker).values()) == 0


def test_every_bad_event_is_named(dash, link):
    before = counts()
    batch: list[Any] = [
        event("ok", "2026-03-02", 1_000),
        {**event("x1", "2026-03-02", 1_000), "currency": "usd?", "colour": "red"},
        event("ok", "2026-03-03", 1_000),
        7,
        {**event("x2", "2026-03-02", -5), "occurred_at": "2026-03-02 12:00"},
    ]
    response = post(dash, "/platform/earnings", {"events": batch})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_batch"
    assert [(d["index"], d["field"], d["code"]) for d in error["details"]] == [
        (1, "events.1.colour", "invalid"),
        (1, "events.1.currency", "invalid"),
        (3, "events.3.event", "invalid"),
        (4, "events.4.occurred_at", "invalid"),
        (4, "events.4.gross", "invalid"),
        (2, "events.2.event_id", "duplicate"),
    ]
    assert error["message"].endswith("(and 5 more); nothing was recorded")
    assert counts() == before


def test_replay_answers_exists_with_the_same_contributions(dash, link, worker):
    batch = [event(f"p{i}", "2026-03-02", 60_000) for i in range(3)]
    first = post(dash, "/platform/earnings", {"events": batch}).json()
    after_first = counts()
    held = balances(worker)
    again = post(dash, "/platform/earnings", {"events": batch})
    assert again.status_code == 200
    replay = again.json()
    assert [e["status"] for e in replay["events"]] == ["exists"] * 3
    strip = [{k: v for k, v in e.items() if k != "status"} for e in replay["events"]]
    assert strip == [{k: v for k, v in e.items() if k != "status"} for e in first["events"]]
    assert [e["contribution"] for e in replay["events"]] == [0, 4_800, 2_400]
    assert replay["counts"] == {"events": 3, "created": 0, "exists": 3}
    assert replay["totals"] == {"USD": 7_200}
    assert replay["created_totals"] == {}
    assert counts() == after_first
    assert balances(worker) == held


def test_partly_new_batch_creates_only_the_new_events(dash, link):
    post(dash, "/platform/earnings", {"events": [event("q1", "2026-03-02", 200_000)]})
    response = post(
        dash,
        "/platform/earnings",
        {"events": [event("q1", "2026-03-02", 200_000), event("q2", "2026-03-03", 1_000)]},
    )
    body = response.json()
    assert [(e["status"], e["contribution"]) for e in body["events"]] == [
        ("exists", 8_000),
        ("created", 40),
    ]
    assert body["created_totals"] == {"USD": 40}


def test_changed_content_replay_is_refused_naming_the_index(dash, link, worker):
    post(dash, "/platform/earnings", {"events": [event("c1", "2026-03-02", 200_000)]})
    before, held = counts(), balances(worker)
    response = post(
        dash,
        "/platform/earnings",
        {"events": [event("c2", "2026-03-03", 5_000), event("c1", "2026-03-02", 200_001)]},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_batch", "events.1.event_id")
    assert [(d["index"], d["code"]) for d in error["details"]] == [(1, "idempotency_conflict")]
    assert counts() == before
    assert balances(worker) == held


def test_a_batch_that_finds_the_database_busy_is_a_503_to_send_again(
    dash, link, worker, monkeypatch, database_busy_error, caplog
):
    batch = {"events": [event("b1", "2026-03-02", 200_000)]}
    recorded = services.record_events

    def busy(*args: Any, **kwargs: Any) -> Any:
        raise database_busy_error

    monkeypatch.setattr(services, "record_events", busy)
    before = counts()
    response = post(dash, "/platform/earnings", batch)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"] == {
        "code": "database_busy",
        "message": "the database is busy with other writes and the request was not carried"
        " out; send it again shortly",
        "field": None,
        "details": [],
    }
    assert counts() == before
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "keel.api"] == [
        (
            "ERROR",
            "POST /api/v1/platform/earnings: the database stayed locked for the whole wait;"
            " answered 503",
        )
    ]
    # Sent again once the database is free, the batch is booked once.
    monkeypatch.setattr(services, "record_events", recorded)
    again = post(dash, "/platform/earnings", batch)
    assert [e["status"] for e in again.json()["events"]] == ["created"]
    assert balances(worker) == {
        "health": 2_400,
        "retirement": 2_400,
        "time_off": 1_600,
        "emergency": 800,
        "tax": 800,
    }


def test_any_other_database_error_is_a_500(dash, link, monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("no such table: gateway_earningsevent")

    monkeypatch.setattr(services, "record_events", broken)
    response = post(dash, "/platform/earnings", {"events": [event("b1", "2026-03-02", 9_000)]})

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "Retry-After" not in response


def test_more_than_ten_thousand_events_are_refused(dash, link):
    before = counts()
    batch = [event(f"big{i}", "2026-03-02", 100) for i in range(10_001)]
    response = post(dash, "/platform/earnings", {"events": batch})
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "batch_too_large",
        "message": "a batch has at most 10,000 events; this one has 10,001",
        "field": "events",
        "details": [],
    }
    assert counts() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "events"), ({"events": "e1"}, "events"), ({"events": None}, "events")],
)
def test_a_body_without_an_events_list_is_a_validation_error(dash, body, field):
    response = post(dash, "/platform/earnings", body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("validation_error", field)


def test_a_body_over_the_servers_limit_is_413(dash, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    before = counts()
    batch = [event(f"z{i}", "2026-03-02", 100) for i in range(50)]
    response = post(dash, "/platform/earnings", {"events": batch})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert counts() == before


def test_an_empty_batch_is_refused(dash):
    response = post(dash, "/platform/earnings", {"events": []})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "events"


def test_event_before_any_policy_is_refused(dash, link):
    before = counts()
    response = post(dash, "/platform/earnings", {"events": [event("old", "2025-12-31", 100)]})
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert [(d["field"], d["code"]) for d in details] == [("events.0.occurred_at", "no_policy")]
    assert counts() == before


# ---------------------------------------------------------------------------- suspense and links


def test_suspense_then_link_code_releases_into_the_buckets(dash, platform, worker):
    response = post(
        dash,
        "/platform/earnings",
        {"events": [event("s1", "2026-03-02", 150_000, worker_ref="dasher-9")]},
    )
    assert response.json()["events"][0]["held"] == "suspense"
    assert response.json()["events"][0]["contribution"] == 6_000
    suspense = dash.get("/api/v1/platform/suspense")
    assert suspense.json() == [
        {"worker_ref": "dasher-9", "currency": "USD", "amount": 6_000, "link_status": None}
    ]
    assert sum(balances(worker).values()) == 0

    code = services.create_link_code(worker)
    linked = post(dash, "/platform/links", {"worker_ref": "dasher-9", "link_code": code})
    assert linked.status_code == 201, linked.content
    body = linked.json()
    assert (body["worker_ref"], body["status"], body["worker_name"]) == (
        "dasher-9",
        "active",
        "Ana",
    )
    assert body["released"] == [{"currency": "USD", "amount": 6_000}]
    assert balances(worker) == SPLIT_6000
    assert dash.get("/api/v1/platform/suspense").json() == []
    # The event now says it was released; a replay reports that.
    replay = post(
        dash,
        "/platform/earnings",
        {"events": [event("s1", "2026-03-02", 150_000, worker_ref="dasher-9")]},
    )
    assert replay.json()["events"][0]["held"] == "released"
    # The code was used up: presenting it again changes nothing.
    again = post(dash, "/platform/links", {"worker_ref": "dasher-10", "link_code": code})
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "invalid_link_code"
    assert not WorkerLink.objects.filter(worker_ref="dasher-10").exists()


def test_invite_by_email_never_shows_the_email(dash, worker):
    response = post(dash, "/platform/links", {"worker_ref": "dasher-2", "email": "ana@example.org"})
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["worker_name"], body["released"]) == ("invited", None, [])
    assert "ana@example.org" not in response.content.decode()
    listed = dash.get("/api/v1/platform/links")
    assert listed.status_code == 200
    assert [(x["worker_ref"], x["status"], x["worker_name"]) for x in listed.json()] == [
        ("dasher-2", "invited", None)
    ]
    assert "ana@example.org" not in listed.content.decode()
    assert set(listed.json()[0]) == {
        "worker_ref",
        "status",
        "worker_status",
        "worker_name",
        "invited_at",
        "linked_at",
        "ended_at",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"worker_ref": "d1"}, "email"),
        ({"worker_ref": "d1", "email": "a@example.org", "link_code": "ABCD"}, "link_code"),
    ],
)
def test_link_needs_exactly_one_of_email_and_code(dash, body, field):
    response = post(dash, "/platform/links", body)
    assert response.status_code == 422
    assert (response.json()["error"]["code"], response.json()["error"]["field"]) == (
        "invalid",
        field,
    )
    assert not WorkerLink.objects.exists()


def test_inviting_a_linked_reference_is_a_conflict(dash, link):
    response = post(dash, "/platform/links", {"worker_ref": "dasher-1", "email": "x@example.org"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "linked"
    link.refresh_from_db()
    assert link.status == LinkStatus.ACTIVE


def test_end_link_keeps_the_account_and_holds_later_events(dash, link, worker):
    post(dash, "/platform/earnings", {"events": [event("l1", "2026-03-02", 150_000)]})
    held = balances(worker)
    response = dash.delete("/api/v1/platform/links/dasher-1")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["worker_name"]) == ("ended", None)
    assert held == SPLIT_6000
    assert balances(worker) == held
    later = post(dash, "/platform/earnings", {"events": [event("l2", "2026-03-03", 10_000)]})
    assert later.json()["events"][0]["held"] == "suspense"
    assert balances(worker) == held
    again = dash.delete("/api/v1/platform/links/dasher-1")
    assert again.status_code == 422


def test_end_link_of_an_unknown_reference_is_404(dash):
    response = dash.delete("/api/v1/platform/links/nobody")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_references_with_slashes_work_in_the_path(dash, platform, worker):
    services.link_with_code(platform, "team/7", services.create_link_code(worker))
    assert dash.delete("/api/v1/platform/links/team/7").json()["status"] == "ended"


# ---------------------------------------------------------------------------- policy


def test_policy_lists_every_version_with_its_sentences(dash, platform, operator):
    later = {**DOORDASH, "rate_bps": 500}
    soon = timezone.localdate() + timedelta(days=30)
    services.publish_policy(platform, later, name="Dash later", effective_from=soon, by=operator)
    response = dash.get("/api/v1/platform/policy")
    assert response.status_code == 200
    versions = response.json()
    assert [(v["version"], v["effective_from"], v["in_effect"]) for v in versions] == [
        (2, soon.isoformat(), False),
        (1, "2026-01-01", True),
    ]
    assert versions[1]["terms"] == services.parse_policy(DOORDASH).to_dict()
    assert versions[1]["description"] == [
        "The platform contributes 4% of your earnings before tips and bonuses.",
        "Eligible once you earn $1,000.00 (excluding tips) in a calendar quarter;"
        " contributions then cover the whole quarter.",
    ]
    assert versions[0]["name"] == "Dash later"


# ---------------------------------------------------------------------------- clearing


@pytest.fixture
def closed(dash, platform, link) -> ClearingBatch:
    post(
        dash,
        "/platform/earnings",
        {"events": [event("k1", "2026-03-02", 150_000), event("k2", "2026-03-03", 5_000)]},
    )
    (batch,) = services.close_period(platform, date(2000, 1, 1), date(2099, 12, 31))
    return batch


def test_clearing_lists_batches_with_owed_paid_and_difference(dash, closed):
    services.record_settlement(
        closed, reference="wire-1", amount=6_000, received_on=date(2026, 3, 5)
    )
    response = dash.get("/api/v1/platform/clearing")
    assert response.status_code == 200
    (row,) = response.json()
    assert {k: v for k, v in row.items() if k != "closed_at"} == {
        "id": closed.pk,
        "period_start": "2000-01-01",
        "period_end": "2099-12-31",
        "currency": "USD",
        "event_count": 2,
        "owed": 6_200,
        "paid": 6_000,
        "difference": -200,
        "status": "short",
    }
    detail = dash.get(f"/api/v1/platform/clearing/{closed.pk}")
    assert detail.status_code == 200
    assert detail.json()["owed"] == 6_200
    assert [
        (s["reference"], s["amount"], s["received_on"]) for s in detail.json()["settlements"]
    ] == [("wire-1", 6_000, "2026-03-05")]


def test_clearing_statement_csv_lists_every_event(dash, closed):
    response = dash.get(f"/api/v1/platform/clearing/{closed.pk}/statement.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="dash-clearing-2000-01-01-2099-12-31-USD-{closed.pk}.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        list(services.STATEMENT_COLUMNS),
        ["k1", "dasher-1", "2026-03-02T12:00:00+00:00", "USD", "150000", "0", "0", "1", "1",
         "6000", "credited", "", "", ""],
        ["k2", "dasher-1", "2026-03-03T12:00:00+00:00", "USD", "5000", "0", "0", "1", "1",
         "200", "credited", "", "", ""],
    ]  # fmt: skip


def test_unknown_batch_is_404(dash):
    for path in ("/api/v1/platform/clearing/999", "/api/v1/platform/clearing/999/statement.csv"):
        response = dash.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


# ---------------------------------------------------------------------------- who may call


def bundle_body(worker_ref: str, reference: str) -> dict[str, Any]:
    # 20 tasks a week at $6.00 with a $120.00 weekly guarantee, for 12 weeks.
    return {
        "worker_ref": worker_ref,
        "reference": reference,
        "title": "Steady deliveries",
        "terms": {
            "start": "2026-03-02",
            "weeks": 12,
            "min_tasks_per_week": 20,
            "rate_per_task": 600,
            "min_weekly_earnings": 12_000,
        },
    }


# Every platform endpoint, as (method, router path, concrete path under /api/v1, body).
# `{batch}` is a batch of the caller's own platform.
ROUTES: dict[tuple[str, str], tuple[str, Any]] = {
    ("POST", "/earnings"): ("/platform/earnings", {"events": [event("w1", "2026-03-02", 1)]}),
    ("POST", "/links"): ("/platform/links", {"worker_ref": "x", "email": "x@example.org"}),
    ("GET", "/links"): ("/platform/links", None),
    ("DELETE", "/links/{path:worker_ref}"): ("/platform/links/dasher-1", None),
    ("GET", "/suspense"): ("/platform/suspense", None),
    ("GET", "/policy"): ("/platform/policy", None),
    ("GET", "/clearing"): ("/platform/clearing", None),
    ("GET", "/clearing/{int:id}"): ("/platform/clearing/{batch}", None),
    ("GET", "/clearing/{int:id}/statement.csv"): ("/platform/clearing/{batch}/statement.csv", None),
    ("POST", "/bundles"): ("/platform/bundles", bundle_body("dasher-1", "b-0")),
    ("GET", "/bundles"): ("/platform/bundles", None),
    ("POST", "/corrections"): (
        "/platform/corrections",
        {
            "correction_id": "fix-0",
            "corrects": "k1",
            "worker_ref": "dasher-1",
            "currency": "USD",
            "gross": 15_000,
            "reason": "typo",
        },
    ),
    ("GET", "/corrections"): ("/platform/corrections", None),
}
SCOPE_OF = {
    ("POST", "/earnings"): "earnings:write",
    ("POST", "/links"): "workers:link",
    ("GET", "/links"): "workers:link",
    ("DELETE", "/links/{path:worker_ref}"): "workers:link",
    ("GET", "/suspense"): "workers:link",
    ("GET", "/policy"): None,
    ("GET", "/clearing"): "clearing:read",
    ("GET", "/clearing/{int:id}"): "clearing:read",
    ("GET", "/clearing/{int:id}/statement.csv"): "clearing:read",
    ("POST", "/bundles"): "bundles:write",
    ("GET", "/bundles"): "bundles:write",
    ("POST", "/corrections"): "earnings:write",
    ("GET", "/corrections"): "earnings:write",
}


def platform_routes() -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, view in platform_router.path_operations.items()
        for operation in view.operations
        for method in operation.methods
    }


def call(client: Client, route: tuple[str, str], batch: int = 0) -> Any:
    path, body = ROUTES[route]
    url = "/api/v1" + path.format(batch=batch)
    if route[0] == "GET":
        return client.get(url)
    if route[0] == "DELETE":
        return client.delete(url)
    return post(client, path, body)


def test_route_tables_cover_every_platform_endpoint():
    # A new endpoint fails here until it is in ROUTES, SCOPE_OF and CONFINEMENT below.
    assert platform_routes() == set(ROUTES) == set(SCOPE_OF) == set(CONFINEMENT)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_persons_own_key_is_refused(route, operator, platform, closed):
    # The operator's personal key, even with every scope, acts for the operator's books.
    _, plaintext = api_keys.create_key(operator, "mine", [*ALL_SCOPES, "ledger:read"])
    before = counts()
    response = call(key_client(plaintext), route, closed.pk)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "platform_key_required"
    assert counts() == before


@pytest.mark.parametrize("route", sorted(r for r in ROUTES if SCOPE_OF[r]))
def test_a_platform_key_without_the_scope_is_refused(route, operator, platform, closed):
    others = tuple(s for s in ALL_SCOPES if s != SCOPE_OF[route])
    before = counts()
    response = call(key_client(platform_key(platform, operator, others)), route, closed.pk)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"
    assert counts() == before


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_revoked_key_is_401(route, operator, platform, closed):
    key, plaintext = services.create_platform_key(platform, operator, "old", ALL_SCOPES)
    services.revoke_platform_key(platform, operator, key.pk)
    before = counts()
    response = call(key_client(plaintext), route, closed.pk)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert counts() == before


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_browser_session_is_not_enough(route, operator, closed):
    # Even the platform's own operator: platform endpoints take a platform key only.
    client = Client()
    client.force_login(operator)
    response = call(client, route, closed.pk)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


# ---------------------------------------------------------------------------- confinement

# Platform B ("Ride") has linked `rider-7` to Bob, holds suspense for `rider-8`, has a
# clearing batch and its own policy. Each check uses Dash's key against Ride's things.


@pytest.fixture
def ride_world(ride, bob, ride_client) -> dict[str, Any]:
    services.link_with_code(ride, "rider-7", services.create_link_code(bob))
    response = post(
        ride_client,
        "/platform/earnings",
        {
            "events": [
                event("r1", "2026-03-02", 10_000, worker_ref="rider-7", worker_status="platinum"),
                event("r2", "2026-03-02", 10_000, worker_ref="rider-8", worker_status="platinum"),
            ]
        },
    )
    assert [e["held"] for e in response.json()["events"]] == ["credited", "suspense"]
    fixed = post(
        ride_client,
        "/platform/corrections",
        {
            "correction_id": "rfix-1",
            "corrects": "r1",
            "worker_ref": "rider-7",
            "currency": "USD",
            "gross": 9_000,
            "reason": "one trip cancelled",
        },
    )
    assert (fixed.status_code, fixed.json()["status"]) == (200, "created"), fixed.content
    (batch,) = services.close_period(ride, date(2000, 1, 1), date(2099, 12, 31))
    return {"batch": batch, "bob": dict(balances(bob)), "events": ride_state(ride)}


def ride_state(ride: Platform) -> list[tuple[Any, ...]]:
    return (
        list(
            EarningsEvent.objects.filter(platform=ride)
            .order_by("id")
            .values_list("event_id", "worker_ref", "status", "contribution", "worker_id")
        )
        + list(
            WorkerLink.objects.filter(platform=ride)
            .order_by("id")
            .values_list("worker_ref", "status", "worker_id")
        )
        + list(
            EventCorrection.objects.filter(platform=ride)
            .order_by("id")
            .values_list("correction_id", "event__event_id", "gross", "booked", "clearing_batch_id")
        )
    )


def confine_earnings(dash: Client, ride: Platform, world: dict[str, Any], bob: User) -> None:
    # Dash reports earnings for Ride's linked reference and reuses Ride's event id: they
    # are Dash's own (unlinked) reference and id, held in Dash's suspense.
    response = post(
        dash,
        "/platform/earnings",
        {"events": [event("r1", "2026-03-02", 150_000, worker_ref="rider-7")]},
    )
    assert response.status_code == 200
    assert [(e["status"], e["held"]) for e in response.json()["events"]] == [
        ("created", "suspense")
    ]
    assert balances(bob) == world["bob"]


def confine_link_create(dash: Client, ride: Platform, world: dict[str, Any], bob: User) -> None:
    response = post(dash, "/platform/links", {"worker_ref": "rider-7", "email": "bob@example.org"})
    assert response.status_code == 201
    assert response.json()["status"] == "invited"


def confine_links(dash: Client, ride: Platform, world: dict[str, Any], bob: User) -> None:
    response = dash.get("/api/v1/platform/links")
    assert [x["worker_ref"] for x in response.json()] == ["dasher-1"]


def confine_link_end(dash: Client, ride: Platform, world: dict[str, Any], bob: User) -> None:
    response = dash.delete("/api/v1/platform/links/rider-7")
    assert response.status_code == 404


def confine_suspense(dash: Client, ride: Platform, world: dict[str, Any], bob: User) -> None:
    assert dash.get("/api/v1/platform/suspense").json() == []


def confine_policy(dash: Client, ride: Platform, world: dict[str, Any], bob: User) -> None:
    versions = dash.get("/api/v1/platform/policy").json()
    assert [v["name"] for v in versions] == ["Dash contribution policy"]
    assert versions[0]["terms"]["rate_bps"] == 400


def confine_clearing(dash: Client, ride: Platform, world: dict[str, Any], bob: User) -> None:
    assert dash.get("/api/v1/platform/clearing").json() == []


def confine_batch(dash: Client, ride: Platform, world: dict[str, Any], bob: User) -> None:
    response = dash.get(f"/api/v1/platform/clearing/{world['batch'].pk}")
    assert response.status_code == 404
    assert "Ride" not in response.content.decode()


def confine_statement(dash: Client, ride: Platform, world: dict[str, Any], bob: User) -> None:
    response = dash.get(f"/api/v1/platform/clearing/{world['batch'].pk}/statement.csv")
    assert response.status_code == 404
    assert "rider" not in response.content.decode()


def confine_bundle_offer(dash: Client, ride: Platform, world: dict[str, Any], bob: User) -> None:
    # Bob is linked as rider-7 at Ride only: Dash cannot offer him work through that ref.
    response = post(dash, "/platform/bundles", bundle_body("rider-7", "steal"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "not_linked"
    assert not Bundle.objects.exists()


def confine_bundles(dash: Client, ride: Platform, world: dict[str, Any], bob: User) -> None:
    assert dash.get("/api/v1/platform/bundles").json() == []


def confine_correction(dash: Client, ride: Platform, world: dict[str, Any], bob: User) -> None:
    # Ride's event r1 (Bob's) does not exist for Dash: not found, as any other platform's id.
    response = post(
        dash,
        "/platform/corrections",
        {
            "correction_id": "steal-1",
            "corrects": "r1",
            "worker_ref": "rider-7",
            "currency": "USD",
            "gross": 0,
            "reason": "take it back",
        },
    )
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "corrects"
    # Ride's correction id is Ride's: Dash reusing it is Dash's own (and finds no event).
    response = post(
        dash,
        "/platform/corrections",
        {
            "correction_id": "rfix-1",
            "corrects": "r1",
            "worker_ref": "rider-7",
            "currency": "USD",
            "gross": 9_000,
            "reason": "one trip cancelled",
        },
    )
    assert response.status_code == 404
    assert not EventCorrection.objects.filter(platform__name="Dash").exists()


def confine_corrections(dash: Client, ride: Platform, world: dict[str, Any], bob: User) -> None:
    assert dash.get("/api/v1/platform/corrections").json() == []


CONFINEMENT = {
    ("POST", "/earnings"): confine_earnings,
    ("POST", "/links"): confine_link_create,
    ("GET", "/links"): confine_links,
    ("DELETE", "/links/{path:worker_ref}"): confine_link_end,
    ("GET", "/suspense"): confine_suspense,
    ("GET", "/policy"): confine_policy,
    ("GET", "/clearing"): confine_clearing,
    ("GET", "/clearing/{int:id}"): confine_batch,
    ("GET", "/clearing/{int:id}/statement.csv"): confine_statement,
    ("POST", "/bundles"): confine_bundle_offer,
    ("GET", "/bundles"): confine_bundles,
    ("POST", "/corrections"): confine_correction,
    ("GET", "/corrections"): confine_corrections,
}


@pytest.mark.parametrize("route", sorted(CONFINEMENT))
def test_a_platform_key_never_reaches_another_platforms_data(
    route, dash, link, ride, ride_world, bob
):
    CONFINEMENT[route](dash, ride, ride_world, bob)
    # Whatever Dash did, Ride's events, links and Bob's account are as they were.
    assert ride_state(ride) == ride_world["events"]
    assert balances(bob) == ride_world["bob"]
    assert ClearingBatch.objects.filter(platform=ride).count() == 1


# ---------------------------------------------------------------------------- worker


def test_worker_reads_their_benefits(dash, link, worker):
    post(dash, "/platform/earnings", {"events": [event("w1", "2026-03-02", 150_000)]})
    client = Client()
    client.force_login(worker)
    response = client.get("/api/v1/benefits")
    assert response.status_code == 200
    body = response.json()
    assert body["allocation"] == {
        "health": 3000,
        "retirement": 3000,
        "time_off": 2000,
        "emergency": 1000,
        "tax": 1000,
    }
    assert [
        (b["bucket"], b["currency"], b["balance"], b["allocation_bps"]) for b in body["buckets"]
    ] == [
        ("health", "USD", 1_800, 3000),
        ("retirement", "USD", 1_800, 3000),
        ("time_off", "USD", 1_200, 2000),
        ("emergency", "USD", 600, 1000),
        ("tax", "USD", 600, 1000),
    ]
    _, plaintext = api_keys.create_key(worker, "phone", ["ledger:read"])
    assert key_client(plaintext).get("/api/v1/benefits").json() == body


def test_benefits_refuses_platform_keys_and_keys_without_ledger_read(dash, worker):
    response = dash.get("/api/v1/benefits")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"
    _, reader = api_keys.create_key(
        worker, "r", ["ledger:read"], "platform", Platform.objects.get().pk
    )
    assert key_client(reader).get("/api/v1/benefits").json()["error"]["code"] == "worker_only"
    _, writer = api_keys.create_key(worker, "w", ["earnings:write"])
    refused = key_client(writer).get("/api/v1/benefits")
    assert refused.json()["error"]["code"] == "insufficient_scope"
    assert Client().get("/api/v1/benefits").status_code == 401


def test_every_gateway_operation_is_documented():
    text = (Path(__file__).parents[4] / "docs" / "api.md").read_text()
    start = text.index("## Gateway: platforms and portable benefits")
    # Up to the next section: other domains document their own operations after it.
    end = text.find("\n## ", start + 1)
    section = text[start : end if end != -1 else len(text)]
    documented = set(re.findall(r"^\| `(GET|POST|DELETE) (/[^`]*)` \|", section, re.MULTILINE))
    operations = {
        (method, "/platform" + re.sub(r"\{\w+:(\w+)\}", r"{\1}", path))
        for method, path in platform_routes()
    } | {("GET", "/benefits")}
    assert documented == operations


# ---------------------------------------------------------------------------- corrections


def correction_body(correction_id: str, gross: int, **extra: Any) -> dict[str, Any]:
    return {
        "correction_id": correction_id,
        "corrects": "big-1",
        "worker_ref": "dasher-1",
        "currency": "USD",
        "gross": gross,
        "reason": "gross typed as $5,000.00 instead of $1,500.00",
        **extra,
    }


def test_a_platform_corrects_an_overstated_event(dash, link, worker):
    # DoorDash terms: $5,000.00 crosses the $1,000.00 threshold alone: 4% = $200.00.
    post(dash, "/platform/earnings", {"events": [event("big-1", "2026-03-02", 500_000)]})
    response = post(dash, "/platform/corrections", correction_body("fix-1", 150_000))
    assert response.status_code == 200, response.content
    body = response.json()
    journal_id = body.pop("journal_id")
    recorded_at = body.pop("recorded_at")
    assert body == {
        "correction_id": "fix-1",
        "corrects": "big-1",
        "status": "created",
        "sequence": 1,
        "worker_ref": "dasher-1",
        "currency": "USD",
        "gross": 150_000,
        "tips": 0,
        "bonus": 0,
        "jobs": 1,
        "reason": "gross typed as $5,000.00 instead of $1,500.00",
        "policy_version": 1,
        "contribution": 6_000,
        "previous_contribution": 20_000,
        "difference": -14_000,
        "booked": -14_000,
        "shortfall": 0,
        "held": "credited",
        "clearing_batch_id": None,
    }
    assert Journal.objects.get(pk=journal_id).kind == "contribution_correction"
    assert balances(worker) == SPLIT_6000
    # Replayed: the same correction, 200 exists; changed: refused, nothing moves.
    again = post(dash, "/platform/corrections", correction_body("fix-1", 150_000))
    assert (again.status_code, again.json()["status"]) == (200, "exists")
    assert again.json()["recorded_at"] == recorded_at
    before = counts(), EventCorrection.objects.count()
    changed = post(dash, "/platform/corrections", correction_body("fix-1", 140_000))
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "idempotency_conflict"
    assert changed.json()["error"]["field"] == "correction_id"
    assert (counts(), EventCorrection.objects.count()) == before
    listed = dash.get("/api/v1/platform/corrections").json()
    assert [(c["correction_id"], c["booked"]) for c in listed] == [("fix-1", -14_000)]


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        (correction_body("fix-1", -5), "gross", 422),
        (correction_body("fix-1", "150000"), "gross", 422),
        (correction_body("fix-1", 150_000, reason=""), "reason", 422),
        (correction_body("fix-1", 150_000, currency="EUR"), "currency", 422),
        (correction_body("fix-1", 150_000, corrects="nope"), "corrects", 404),
        (correction_body("fix-1", 150_000, occurred_at="2026-03-01T00:00:00Z"), "occurred_at", 422),
        (
            {k: v for k, v in correction_body("fix-1", 1).items() if k != "corrects"},
            "corrects",
            422,
        ),
    ],
)
def test_a_bad_correction_names_the_field_and_changes_nothing(
    dash, link, worker, body, field, status
):
    post(dash, "/platform/earnings", {"events": [event("big-1", "2026-03-02", 500_000)]})
    before = counts(), balances(worker)
    response = post(dash, "/platform/corrections", body)
    assert response.status_code == status, response.content
    assert response.json()["error"]["field"] == field
    assert (counts(), balances(worker)) == before
    assert not EventCorrection.objects.exists()


# ---------------------------------------------------------------------------- bundles


def test_a_platform_offers_a_bundle_and_reads_its_delivery(dash, link):
    response = post(dash, "/platform/bundles", bundle_body("dasher-1", "b-1"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["committed_weekly"], body["weeks"]) == ("offered", 12_000, [])
    assert (body["starts_on"], body["ends_on"]) == ("2026-03-02", "2026-05-24")
    # The same offer again is the same bundle; other terms under the reference are refused.
    assert post(dash, "/platform/bundles", bundle_body("dasher-1", "b-1")).status_code == 201
    changed = bundle_body("dasher-1", "b-1")
    changed["terms"]["weeks"] = 8
    assert post(dash, "/platform/bundles", changed).status_code == 409
    assert Bundle.objects.count() == 1
    # Accepted, then week 1 delivers 17 tasks for $102.00: $18.00 and 3 tasks short.
    services.respond(link.worker, Bundle.objects.get().pk, True, on=date(2026, 3, 1))
    post(dash, "/platform/earnings", {"events": [event("wk1", "2026-03-04", 10_200, jobs=17)]})
    listed = dash.get("/api/v1/platform/bundles").json()
    week1 = listed[0]["weeks"][0]
    assert (week1["tasks"], week1["earnings"], week1["task_shortfall"], week1["owed"]) == (
        17,
        10_200,
        3,
        1_800,
    )
    assert week1["status"] == "short"


def test_a_bundle_for_an_unlinked_reference_is_refused(dash, link):
    response = post(dash, "/platform/bundles", bundle_body("nobody", "b-2"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "not_linked"
    assert not Bundle.objects.exists()
