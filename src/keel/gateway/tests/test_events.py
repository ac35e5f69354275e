"""Earnings events through the service: contributions, batches, replays, suspense."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.utils import timezone

from keel.accounts.models import User
from keel.gateway import services
from keel.gateway.errors import GatewayError
from keel.gateway.models import EarningsEvent, Platform, WorkerLink
from keel.gateway.services.platforms import receivable_code, suspense_code
from keel.gateway.tests.conftest import DOORDASH, event
from keel.ledger import services as ledger
from keel.ledger.models import Journal


def buckets(worker: User) -> dict[str, int]:
    return {b.bucket: b.balance for b in services.bucket_balances(worker) if b.currency == "USD"}


def journal_count() -> int:
    return Journal.objects.count()


# ---------------------------------------------------------------------------- DoorDash


def test_doordash_quarter_backdates_on_crossing(platform: Platform, link: WorkerLink) -> None:
    # $600 + $80 tips: tips do not count, $600 < $1,000 → nothing yet.
    # $399.99 → $999.99, still one cent short → nothing.
    # $0.01 → exactly $1,000.00: eligible, 4% of the whole quarter = $40.00.
    # $250 + $30 tips → 4% of $250 = $10.00.
    result = services.record_events(
        platform,
        [
            event("e1", "2026-10-02", 60_000, tips=8_000),
            event("e2", "2026-10-09", 39_999),
            event("e3", "2026-10-16", 1),
            event("e4", "2026-11-20", 25_000, tips=3_000),
        ],
    )
    assert [r.contribution for r in result.results] == [0, 0, 4_000, 1_000]
    assert [r.held for r in result.results] == ["none", "none", "credited", "credited"]
    assert result.totals() == {"USD": 5_000}
    # Default allocation 30/30/20/10/10 of $50.00.
    assert buckets(link.worker) == {
        "health": 1_500,
        "retirement": 1_500,
        "time_off": 1_000,
        "emergency": 500,
        "tax": 500,
    }
    assert ledger.balance(receivable_code(platform.pk, "USD")).posted == 5_000


def test_threshold_restarts_each_quarter(platform: Platform, link: WorkerLink) -> None:
    # Q1 2026 crosses; the first event of Q2 2026 starts from zero again.
    services.record_events(platform, [event("q1", "2026-03-31", 100_000)])
    result = services.record_events(platform, [event("q2", "2026-04-01", 50_000)])
    assert result.results[0].contribution == 0


def test_events_split_any_way_give_the_same_total(platform: Platform, link: WorkerLink) -> None:
    # 4% of $1,000.33 = 4001.32 cents → 4001, however the earnings are cut.
    services.record_events(
        platform,
        [event(f"s{i}", "2026-10-05", amount) for i, amount in enumerate([33_333, 33_333, 33_367])],
    )
    total = EarningsEvent.objects.filter(platform=platform).values_list("contribution", flat=True)
    assert sum(total) == 4_001


def test_late_event_for_an_earlier_day_counts_in_its_own_quarter(
    platform: Platform, link: WorkerLink
) -> None:
    services.record_events(platform, [event("nov", "2026-11-02", 100_000)])
    # Arrives after, but happened in Q3: Q3 has only this $500, so nothing.
    result = services.record_events(platform, [event("sep", "2026-09-30", 50_000)])
    assert result.results[0].contribution == 0


# ---------------------------------------------------------------------------- batches


def test_a_bad_event_refuses_the_whole_batch(platform: Platform, link: WorkerLink) -> None:
    before = (EarningsEvent.objects.count(), journal_count())
    with pytest.raises(GatewayError) as caught:
        services.record_events(
            platform,
            [
                event("ok-1", "2026-10-02", 200_000),
                event("bad", "2026-10-03", "12.50"),
                event("ok-2", "2026-10-04", 10_000, currency="usd"),
                {**event("tz", "2026-10-05", 1), "occurred_at": "2026-10-05T10:00:00"},
            ],
        )
    assert caught.value.code == "invalid_batch"
    assert [(d["index"], d["field"]) for d in caught.value.details] == [
        (1, "events.1.gross"),
        (3, "events.3.occurred_at"),
    ]
    assert (EarningsEvent.objects.count(), journal_count()) == before
    assert buckets(link.worker)["health"] == 0


def test_unknown_fields_and_duplicate_ids_are_named(platform: Platform) -> None:
    with pytest.raises(GatewayError) as caught:
        services.record_events(
            platform,
            [
                {**event("a", "2026-10-02", 100), "amount": 5},
                event("b", "2026-10-02", 100),
                event("b", "2026-10-02", 100),
            ],
        )
    fields = [(d["field"], d["code"]) for d in caught.value.details]
    assert fields == [("events.0.amount", "invalid"), ("events.2.event_id", "duplicate")]
    assert EarningsEvent.objects.count() == 0


def test_more_than_ten_thousand_events_are_refused(platform: Platform) -> None:
    with pytest.raises(GatewayError) as caught:
        services.record_events(platform, [event(f"e{i}", "2026-10-02", 1) for i in range(10_001)])
    assert caught.value.code == "batch_too_large"
    assert EarningsEvent.objects.count() == 0


def test_replay_returns_the_first_results_and_writes_nothing(
    platform: Platform, link: WorkerLink
) -> None:
    batch = [event("r1", "2026-10-02", 150_000), event("r2", "2026-10-03", 10_000)]
    first = services.record_events(platform, batch)
    journals = journal_count()
    again = services.record_events(platform, batch)
    assert [r.status for r in again.results] == ["exists", "exists"]
    assert [r.contribution for r in again.results] == [6_000, 400]
    assert [r.journal_id for r in again.results] == [r.journal_id for r in first.results]
    assert journal_count() == journals


def test_replay_with_other_content_is_refused(platform: Platform, link: WorkerLink) -> None:
    services.record_events(platform, [event("r1", "2026-10-02", 150_000)])
    journals = journal_count()
    with pytest.raises(GatewayError) as caught:
        services.record_events(
            platform, [event("new", "2026-10-02", 1), event("r1", "2026-10-02", 150_001)]
        )
    assert caught.value.details[0]["code"] == "idempotency_conflict"
    assert caught.value.details[0]["field"] == "events.1.event_id"
    assert journal_count() == journals
    assert not EarningsEvent.objects.filter(event_id="new").exists()


def test_an_event_before_any_policy_is_refused(platform: Platform) -> None:
    with pytest.raises(GatewayError) as caught:
        services.record_events(platform, [event("old", "2025-12-31", 100)])
    assert caught.value.details[0]["code"] == "no_policy"


def test_an_event_in_the_future_is_refused(
    platform: Platform, link: WorkerLink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Recorded, a mistyped year could never be taken back, and no new policy version could
    # start before it (a policy never rewrites recorded events).
    now = datetime(2026, 10, 10, 12, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: now)
    before = (EarningsEvent.objects.count(), journal_count())
    with pytest.raises(GatewayError) as caught:
        services.record_events(
            platform,
            [
                event("ok", "2026-10-09", 150_000),
                {**event("late", "2026-10-11", 1), "occurred_at": "2026-10-11T12:00:01Z"},
                event("typo", "2062-10-09", 150_000),
            ],
        )
    assert [(d["field"], d["code"]) for d in caught.value.details] == [
        ("events.1.occurred_at", "invalid"),
        ("events.2.occurred_at", "invalid"),
    ]
    assert caught.value.details[0]["message"] == (
        "is in the future (after 2026-10-11 12:00 UTC); report work once it has happened"
    )
    assert (EarningsEvent.objects.count(), journal_count()) == before
    # A day ahead of Keel's clock is taken (clocks drift): exactly then, not a second later.
    edge = {**event("edge", "2026-10-11", 150_000), "occurred_at": "2026-10-11T12:00:00Z"}
    assert services.record_events(platform, [edge]).results[0].contribution == 6_000


def test_a_moment_with_no_utc_day_is_refused_by_name(platform: Platform) -> None:
    # 0001-01-01 at +14:00 is in year 0 in UTC, which Python has not: it was a 500.
    with pytest.raises(GatewayError) as caught:
        services.record_events(
            platform,
            [
                event("ok", "2026-10-02", 1),
                {**event("early", "2026-10-02", 1), "occurred_at": "0001-01-01T00:00:00+14:00"},
            ],
        )
    assert [(d["field"], d["message"]) for d in caught.value.details] == [
        ("events.1.occurred_at", "is out of range: in UTC it falls outside years 1 to 9999")
    ]
    assert not EarningsEvent.objects.exists()


def test_currency_must_be_the_policys(platform: Platform) -> None:
    with pytest.raises(GatewayError) as caught:
        services.record_events(platform, [event("eur", "2026-10-02", 100, currency="EUR")])
    assert caught.value.details[0]["field"] == "events.0.currency"


# ---------------------------------------------------------------------------- suspense


def test_unlinked_contributions_wait_in_suspense_and_are_released_on_link(
    platform: Platform, worker: User
) -> None:
    services.record_events(
        platform,
        [event("u1", "2026-10-02", 200_000, worker_ref="new-dasher")],
    )
    assert ledger.balance(suspense_code(platform.pk, "USD")).posted == 8_000
    assert services.suspense_by_ref(platform) == [
        {"worker_ref": "new-dasher", "currency": "USD", "total": 8_000}
    ]
    link = services.invite(platform, "new-dasher", worker.email)
    services.accept_invitation(worker, link.pk)
    assert ledger.balance(suspense_code(platform.pk, "USD")).posted == 0
    assert services.suspense_by_ref(platform) == []
    assert sum(buckets(worker).values()) == 8_000
    assert EarningsEvent.objects.get(event_id="u1").status == "released"
    # Later events for the ref go straight to the worker.
    result = services.record_events(
        platform, [event("u2", "2026-10-03", 10_000, worker_ref="new-dasher")]
    )
    assert result.results[0].held == "credited"
    assert sum(buckets(worker).values()) == 8_400
    assert ledger.verify().ok


def test_an_ended_link_sends_new_contributions_to_suspense(
    platform: Platform, link: WorkerLink
) -> None:
    services.record_events(platform, [event("a", "2026-10-02", 100_000)])
    services.end_link(link)
    result = services.record_events(platform, [event("b", "2026-10-03", 10_000)])
    assert result.results[0].held == "suspense"
    # The worker keeps what was credited while linked.
    assert sum(buckets(link.worker).values()) == 4_000


# ---------------------------------------------------------------------------- policies


def test_a_new_version_never_rewrites_the_past(platform: Platform, link: WorkerLink) -> None:
    services.record_events(platform, [event("a", "2026-10-02", 100_000)])
    with pytest.raises(GatewayError) as caught:
        services.publish_policy(
            platform, {**DOORDASH, "rate_bps": 500}, name="v2", effective_from=date(2026, 10, 2)
        )
    assert caught.value.field == "effective_from"
    assert platform.policies.count() == 1


def test_version_change_mid_quarter_charges_the_new_rate_on_new_earnings(
    platform: Platform, link: WorkerLink
) -> None:
    # v1 (4%) on $1,000 → $40.00; v2 (5%) from Nov 1 on a further $100 → $5.00.
    services.record_events(platform, [event("a", "2026-10-02", 100_000)])
    services.publish_policy(
        platform, {**DOORDASH, "rate_bps": 500}, name="v2", effective_from=date(2026, 11, 1)
    )
    result = services.record_events(platform, [event("b", "2026-11-02", 10_000)])
    assert result.results[0].contribution == 500
    assert result.results[0].policy_version == 2
    assert EarningsEvent.objects.get(event_id="a").policy.version == 1


def test_tiers_follow_the_worker_status(operator: User, worker: User) -> None:
    # Lyft Utah: 7% of quarterly earnings for the top tier only.
    lyft = services.create_platform(
        "Rides",
        policy={"currency": "USD", "tiers": [{"status": "platinum", "rate_bps": 700}]},
        effective_from=date(2026, 1, 1),
    )
    result = services.record_events(
        lyft,
        [
            event("p1", "2026-10-02", 50_000, worker_ref="d1", worker_status="platinum"),
            event("p2", "2026-10-09", 50_000, worker_ref="d1", worker_status="platinum"),
            event("p3", "2026-10-16", 23_457, worker_ref="d1", worker_status="platinum"),
            event("g1", "2026-10-02", 50_000, worker_ref="d2", worker_status="gold"),
        ],
    )
    # 7% of $1,234.57 = 8641.99 → $86.42 in all.
    assert sum(r.contribution for r in result.results[:3]) == 8_642
    assert result.results[3].contribution == 0


def test_monthly_minimum_tops_up_once(alia: Platform, worker: User) -> None:
    services.publish_policy(
        alia,
        {"currency": "USD", "monthly_minimum": 500},
        name="minimum only",
        effective_from=date(2026, 2, 1),
    )
    services.link_with_code(alia, "cleaner-1", services.create_link_code(worker))
    services.record_events(alia, [event("c1", "2026-10-02", 8_000, worker_ref="cleaner-1")])
    first = services.close_month_minimums(alia, date(2026, 10, 1))
    assert first is not None
    assert [r.contribution for r in first.results] == [500]
    again = services.close_month_minimums(alia, date(2026, 10, 1))
    assert again is not None
    assert [r.status for r in again.results] == ["exists"]
    assert sum(buckets(worker).values()) == 500


def test_monthly_minimum_waits_for_the_threshold(alia: Platform, worker: User) -> None:
    # $5 a month at least, once $1,000 is earned in the quarter (back-dated).
    services.publish_policy(
        alia,
        {**DOORDASH, "monthly_minimum": 500},
        name="threshold and minimum",
        effective_from=date(2026, 2, 1),
    )
    services.link_with_code(alia, "cleaner-1", services.create_link_code(worker))
    services.record_events(
        alia,
        [
            event("jul", "2026-07-02", 2_000, worker_ref="cleaner-1"),
            event("aug", "2026-08-03", 97_999, worker_ref="cleaner-1"),
            event("aug-2", "2026-08-04", 1, worker_ref="cleaner-1"),
            event("sep", "2026-09-01", 100, worker_ref="cleaner-1"),
            event("other", "2026-07-06", 20_000, worker_ref="cleaner-2"),
        ],
    )
    # July: $20.00 and $200.00 of $1,000 earned, neither worker eligible, no top-up.
    assert services.close_month_minimums(alia, date(2026, 7, 1)) is None
    # August: cleaner-1 reaches exactly $1,000.00 (4% back-dated = $40.00, above $5).
    assert services.close_month_minimums(alia, date(2026, 8, 1)) is None
    # September: eligible for the rest of the quarter, so $0.04 is topped up to $5.00.
    september = services.close_month_minimums(alia, date(2026, 9, 1))
    assert september is not None
    assert [(r.event_id, r.contribution) for r in september.results] == [
        ("minimum:2026-09:cleaner-1", 496)
    ]
    assert not EarningsEvent.objects.filter(worker_ref="cleaner-2", kind="minimum").exists()
    assert sum(buckets(worker).values()) == 4_000 + 4 + 496


def test_event_ids_of_keels_own_top_ups_are_refused(alia: Platform, worker: User) -> None:
    # Taken by the platform first, the month-end top-up's id made the month close fail
    # as a changed replay, for every worker of the platform.
    services.publish_policy(
        alia,
        {"currency": "USD", "monthly_minimum": 500},
        name="minimum only",
        effective_from=date(2026, 2, 1),
    )
    services.link_with_code(alia, "cleaner-1", services.create_link_code(worker))
    worked = event("c1", "2026-10-02", 8_000, worker_ref="cleaner-1")
    with pytest.raises(GatewayError) as caught:
        services.record_events(
            alia,
            [
                worked,
                event("minimum:2026-10:cleaner-1", "2026-10-03", 0, worker_ref="cleaner-1"),
                event("bundle:steady:week:1:topup", "2026-10-04", 0, worker_ref="cleaner-1"),
            ],
        )
    assert [(d["field"], d["message"]) for d in caught.value.details] == [
        (
            "events.1.event_id",
            "must not start with 'minimum': ids starting minimum: or bundle: are Keel's own"
            " (month-end and bundle top-ups)",
        ),
        (
            "events.2.event_id",
            "must not start with 'bundle': ids starting minimum: or bundle: are Keel's own"
            " (month-end and bundle top-ups)",
        ),
    ]
    assert not EarningsEvent.objects.exists()
    services.record_events(
        alia, [worked, event("minimum-ish:1", "2026-10-03", 0, worker_ref="cleaner-1")]
    )
    closed = services.close_month_minimums(alia, date(2026, 10, 1))
    assert closed is not None
    assert [(r.event_id, r.contribution) for r in closed.results] == [
        ("minimum:2026-10:cleaner-1", 500)
    ]


def test_a_contribution_no_ledger_entry_can_carry_is_refused_on_its_event(
    worker: User,
) -> None:
    # $20.00 a job times 10**12 jobs is 2 * 10**15 cents, and the ledger's largest entry
    # is 10**15. It was refused as 'legs.0.amount', naming no event.
    tidy = services.create_platform(
        "Tidy", policy={"currency": "USD", "per_job": 2_000}, effective_from=date(2026, 1, 1)
    )
    services.link_with_code(tidy, "cleaner-1", services.create_link_code(worker))
    journals = journal_count()
    with pytest.raises(GatewayError) as refused:
        services.record_events(
            tidy,
            [
                event("ok", "2026-10-01", 8_000, worker_ref="cleaner-1"),
                event("vast", "2026-10-02", 8_000, worker_ref="cleaner-1", jobs=10**12),
            ],
        )
    assert refused.value.code == "invalid_batch"
    assert refused.value.details == [
        {
            "index": 1,
            "field": "events.1.jobs",
            "message": "gives a contribution of 2000000000000000 minor units, more than one"
            " ledger entry can carry (1000000000000000)",
            "code": "out_of_range",
        }
    ]
    assert journal_count() == journals
    assert not EarningsEvent.objects.exists()


def test_per_job_amounts_cover_the_month_minimum(alia: Platform, worker: User) -> None:
    # $5 per cleaning: one cleaning already meets the $5 minimum → no top-up.
    services.link_with_code(alia, "cleaner-1", services.create_link_code(worker))
    result = services.record_events(
        alia, [event("c1", "2026-10-02", 8_000, worker_ref="cleaner-1", jobs=3)]
    )
    assert result.results[0].contribution == 1_500
    assert services.close_month_minimums(alia, date(2026, 10, 1)) is None
