"""Offers and recurring revenue against figures computed by hand (the arithmetic is in the
comments), plus a reference model checked against random histories."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.career.rules import recurring
from keel.career.rules.recurring import (
    EVENT_KINDS,
    INTERVALS,
    EventKind,
    MrrMonth,
    Offer,
    RecurringError,
    RetainerPeriod,
    RetainerStatement,
    RetainerTerms,
    SubscriptionEvent,
    cohort_retention,
    history_from_columns,
    monthly_spread,
    mrr_at,
    mrr_movements,
    normalised_monthly,
    retainer_rollover,
    subscription_history,
)

E = SubscriptionEvent
JAN, FEB, MAR, APR = (2025, 1), (2025, 2), (2025, 3), (2025, 4)


def history(*events: SubscriptionEvent):
    return subscription_history(list(events))


def assert_identities(month: MrrMonth) -> None:
    assert (
        month.opening_mrr
        + month.new_mrr
        + month.expansion_mrr
        - month.contraction_mrr
        - month.churned_mrr
        + month.reactivation_mrr
        == month.closing_mrr
    )
    assert (
        month.opening_customers
        + month.new_customers
        + month.reactivated_customers
        - month.churned_customers
        == month.closing_customers
    )


# --------------------------------------------------------------------------- prices


def test_normalised_monthly_rounds_each_month_half_up():
    # yearly 1,000.00: 100000 / 12 = 8333.33 -> 83.33 a month
    assert normalised_monthly(1000_00, "year") == 83_33
    # yearly 0.30: 30 / 12 = 2.5 -> 3 (half up); 0.18: 1.5 -> 2; 0.06: 0.5 -> 1; 0.05: 0.42 -> 0
    assert normalised_monthly(30, "year") == 3
    assert normalised_monthly(18, "year") == 2
    assert normalised_monthly(6, "year") == 1
    assert normalised_monthly(5, "year") == 0
    # quarterly 1.00: 100 / 3 = 33.33 -> 33; 0.05: 1.67 -> 2
    assert normalised_monthly(100, "quarter") == 33
    assert normalised_monthly(5, "quarter") == 2
    # weekly 10.00: 1000 * 52 / 12 = 4333.33 -> 43.33; 0.03: 3 * 52 / 12 = 13 exactly
    assert normalised_monthly(10_00, "week") == 43_33
    assert normalised_monthly(3, "week") == 13
    assert normalised_monthly(49_00, "month") == 49_00
    assert normalised_monthly(0, "year") == 0


def test_normalised_monthly_refuses_floats_negatives_and_unknown_intervals():
    with pytest.raises(RecurringError, match="whole number, not float") as caught:
        normalised_monthly(10.5, "month")  # type: ignore[arg-type]
    assert caught.value.field == "price"
    with pytest.raises(RecurringError, match="must not be negative"):
        normalised_monthly(-1, "month")
    with pytest.raises(RecurringError, match="week, month, quarter, year") as caught:
        normalised_monthly(100, "fortnight")
    assert caught.value.field == "interval"


def test_monthly_spread_adds_up_to_the_cycle_exactly():
    # 100000 = 12 * 8333 + 4: the first four months get the extra cent
    yearly = monthly_spread(1000_00, "year")
    assert yearly == [83_34] * 4 + [83_33] * 8
    assert sum(yearly) == 1000_00
    # 100 = 3 * 33 + 1
    assert monthly_spread(100, "quarter") == [34, 33, 33]
    assert monthly_spread(49_00, "month") == [49_00]
    # a year of a weekly 10.00: 52 * 1000 = 52000 = 12 * 4333 + 4
    weekly = monthly_spread(10_00, "week")
    assert weekly == [43_34] * 4 + [43_33] * 8
    assert sum(weekly) == 52 * 10_00


# --------------------------------------------------------------------------- offers


def test_offer_prices_read_as_a_page_shows_them():
    membership = Offer("Studio club", "membership", 12_00, "USD", "month")
    assert membership.is_recurring
    assert membership.monthly_value() == 12_00
    assert membership.price_label() == "$12.00 a month"
    yearly = Offer("Annual pass", "subscription", 120_00, "EUR", "year")
    assert yearly.monthly_value() == 10_00  # 12000 / 12
    assert yearly.price_label(locale="de_DE") == "120,00\xa0€ a year"
    course = Offer("Course", "digital_product", 49_00, "USD")
    assert not course.is_recurring
    assert course.monthly_value() == 0
    assert course.price_label() == "$49.00 once"


def test_offer_refuses_a_kind_without_its_interval_or_terms():
    with pytest.raises(RecurringError, match="a membership needs one") as caught:
        Offer("Club", "membership", 10_00, "USD")
    assert caught.value.field == "interval"
    with pytest.raises(RecurringError, match="one-off service is sold once") as caught:
        Offer("Audit", "one_off_service", 500_00, "USD", "month")
    assert caught.value.field == "interval"
    with pytest.raises(RecurringError, match="needs its terms") as caught:
        Offer("Support", "retainer", 800_00, "USD", "month")
    assert caught.value.field == "retainer"
    terms = RetainerTerms(10, "hours", "expire")
    with pytest.raises(RecurringError, match="no retainer terms"):
        Offer("Club", "membership", 10_00, "USD", "month", terms)
    with pytest.raises(RecurringError, match="ISO 4217") as caught:
        Offer("Club", "membership", 10_00, "usd", "month")
    assert caught.value.field == "currency"
    with pytest.raises(RecurringError, match="whole number, not float") as caught:
        Offer("Club", "membership", 9.99, "USD", "month")  # type: ignore[arg-type]
    assert caught.value.field == "price"
    with pytest.raises(RecurringError, match="kind"):
        Offer("Club", "course", 10_00, "USD")  # type: ignore[arg-type]
    retainer = Offer("Support", "retainer", 800_00, "USD", "month", terms)
    assert retainer.retainer == terms


def test_retainer_terms_refuse_a_cap_on_units_that_expire():
    with pytest.raises(RecurringError, match="only applies when unused units roll over"):
        RetainerTerms(10, "hours", "expire", rollover_cap=5)
    with pytest.raises(RecurringError, match="at least 1") as caught:
        RetainerTerms(0, "deliverables", "roll_over")
    assert caught.value.field == "units_per_period"


def test_retainer_terms_refuse_more_units_than_a_period_could_hold():
    assert RetainerTerms(10_000, "hours", "roll_over", rollover_cap=10_000).units_per_period
    with pytest.raises(RecurringError, match="at most 10,000") as caught:
        RetainerTerms(10_001, "hours", "roll_over")
    assert caught.value.field == "units_per_period"
    with pytest.raises(RecurringError, match="at most 10,000") as caught:
        RetainerTerms(10, "hours", "roll_over", rollover_cap=2**63)
    assert caught.value.field == "rollover_cap"


# --------------------------------------------------------------------------- retainers


def test_retainer_rollover_with_a_cap():
    terms = RetainerTerms(10, "hours", "roll_over", rollover_cap=5)
    periods = [RetainerPeriod(10, 6), RetainerPeriod(10, 3), (10, 18), (10, 9)]
    # 1: 0 + 10 = 10 available, 6 used, 4 unused: all 4 roll (cap 5).
    # 2: 4 + 10 = 14 available, 3 used, 11 unused: 5 roll, 6 expire.
    # 3: 5 + 10 = 15 available, 18 used: 3 hours over, nothing left.
    # 4: 0 + 10 = 10 available, 9 used, 1 rolls.
    assert retainer_rollover(terms, periods) == [
        RetainerStatement(0, 10, 0, 10, 6, 0, 4, 4, 0),
        RetainerStatement(1, 10, 4, 14, 3, 0, 11, 5, 6),
        RetainerStatement(2, 10, 5, 15, 18, 3, 0, 0, 0),
        RetainerStatement(3, 10, 0, 10, 9, 0, 1, 1, 0),
    ]


def test_retainer_rollover_without_a_cap_and_when_units_expire():
    uncapped = RetainerTerms(10, "deliverables", "roll_over")
    # 10 - 6 = 4 roll; 4 + 10 - 3 = 11 roll; 11 + 10 - 18 = 3 roll
    statements = retainer_rollover(uncapped, [(10, 6), (10, 3), (10, 18)])
    assert [s.rolled_over for s in statements] == [4, 11, 3]
    assert [s.expired for s in statements] == [0, 0, 0]
    expiring = RetainerTerms(10, "hours", "expire")
    # Nothing carries: 10 - 6 = 4 expire, 10 - 3 = 7 expire, 18 - 10 = 8 over.
    statements = retainer_rollover(expiring, [(10, 6), (10, 3), (10, 18)])
    assert [(s.available, s.expired, s.overage) for s in statements] == [
        (10, 4, 0),
        (10, 7, 0),
        (10, 0, 8),
    ]
    # A prorated first period and a balance carried in from before.
    first = retainer_rollover(uncapped, [(5, 2)], opening_balance=3)[0]
    assert (first.available, first.rolled_over) == (8, 6)


def test_retainer_rollover_names_the_bad_period():
    terms = RetainerTerms(10, "hours", "roll_over", rollover_cap=5)
    with pytest.raises(RecurringError) as caught:
        retainer_rollover(terms, [(10, 2), (10, -1)])
    assert caught.value.field == "periods[1].used"
    with pytest.raises(RecurringError, match="more than can be carried over"):
        retainer_rollover(terms, [(10, 2)], opening_balance=6)


# --------------------------------------------------------------------------- MRR


# Five subscribers over January-March 2025 (amounts in cents):
#   A starts 5 Jan at 100.00/month, upgrades to 150.00 on 10 Feb;
#   B starts 10 Jan at 1,200.00/year (100.00/month), pauses 15 Feb, resumes 10 Mar;
#   C starts 20 Jan at 50.00/month, cancels 31 Mar;
#   D starts 25 Jan at 80.00/month, cancels 20 Feb, comes back at 80.00 on 3 Mar;
#   E starts 1 Feb at 90.00/quarter (30.00/month), moves to 20.00/month on 1 Mar.
FIVE = [
    E("A", "start", date(2025, 1, 5), 100_00, "month"),
    E("B", "start", date(2025, 1, 10), 1200_00, "year"),
    E("C", "start", date(2025, 1, 20), 50_00, "month"),
    E("D", "start", date(2025, 1, 25), 80_00, "month"),
    E("E", "start", date(2025, 2, 1), 90_00, "quarter"),
    E("A", "change", date(2025, 2, 10), 150_00, "month"),
    E("B", "pause", date(2025, 2, 15)),
    E("D", "cancel", date(2025, 2, 20)),
    E("E", "change", date(2025, 3, 1), 20_00, "month"),
    E("D", "start", date(2025, 3, 3), 80_00, "month"),
    E("B", "resume", date(2025, 3, 10)),
    E("C", "cancel", date(2025, 3, 31)),
]


def test_mrr_movements_of_five_subscribers_over_three_months():
    months = mrr_movements(subscription_history(FIVE), JAN, APR)
    # January: nothing before; A 100 + B 100 + C 50 + D 80 = 330 new, four new customers.
    # February: opening 330; E new 30; A up 50; B paused, 100 contraction (not churn);
    #   D churned with 80. Closing 330 + 30 + 50 - 100 - 80 = 230 = A 150 + B 0 + C 50 + E 30.
    #   Customers: 4 + 1 - 1 = 4 (B paused still counts), one of them paused.
    # March: opening 230; B resumes, 100 expansion; E down 30 -> 20, 10 contraction;
    #   C churned with 50 (cancelled on the last day); D back, 80 reactivation.
    #   Closing 230 + 100 - 10 - 50 + 80 = 350 = A 150 + B 100 + D 80 + E 20.
    # April: no events, everything carried.
    #
    # month  opening  new  expansion  contraction  churned  reactivation  closing
    # Jan          0  330          0            0        0             0      330
    # Feb        330   30         50          100       80             0      230
    # Mar        230    0        100           10       50            80      350
    # Apr        350    0          0            0        0             0      350
    assert [
        (
            m.month,
            m.opening_mrr,
            m.new_mrr,
            m.expansion_mrr,
            m.contraction_mrr,
            m.churned_mrr,
            m.reactivation_mrr,
            m.closing_mrr,
        )
        for m in months
    ] == [
        (JAN, 0, 330_00, 0, 0, 0, 0, 330_00),
        (FEB, 330_00, 30_00, 50_00, 100_00, 80_00, 0, 230_00),
        (MAR, 230_00, 0, 100_00, 10_00, 50_00, 80_00, 350_00),
        (APR, 350_00, 0, 0, 0, 0, 0, 350_00),
    ]
    # customers: opening, new, reactivated, churned, closing, paused at the end
    assert [
        (
            m.opening_customers,
            m.new_customers,
            m.reactivated_customers,
            m.churned_customers,
            m.closing_customers,
            m.paused_customers,
        )
        for m in months
    ] == [(0, 4, 0, 0, 4, 0), (4, 1, 0, 1, 4, 1), (4, 0, 1, 1, 4, 0), (4, 0, 0, 0, 4, 0)]
    for month in months:
        assert_identities(month)


def test_churn_rates_of_the_five_subscribers():
    jan, feb, mar, apr = mrr_movements(subscription_history(FIVE), JAN, APR)
    # January starts with no customers and no MRR: no rate means anything.
    assert jan.customer_churn_rate is None
    assert jan.revenue_churn_rate is None
    assert jan.net_revenue_churn_rate is None
    # February: 1 of 4 customers churned (D); 80 of 330 MRR churned; the pause is not churn.
    assert feb.customer_churn_rate == 1 / 4
    assert feb.revenue_churn_rate == 80 / 330
    # Net: (churned 80 + contraction 100 - expansion 50) / 330 = 130 / 330
    assert feb.net_revenue_churn_rate == 130 / 330
    # March: C churned, 1 of 4; 50 of 230; net (50 + 10 - 100) / 230 = -40 / 230.
    assert mar.customer_churn_rate == 1 / 4
    assert mar.revenue_churn_rate == 50 / 230
    assert mar.net_revenue_churn_rate == -40 / 230
    assert (apr.customer_churn_rate, apr.revenue_churn_rate) == (0.0, 0.0)
    assert (feb.net_new_mrr, mar.net_new_mrr) == (-100_00, 120_00)


def test_mrr_at_any_date_counts_every_event_of_that_day():
    h = subscription_history(FIVE)
    assert mrr_at(h, date(2025, 1, 4)) == 0
    assert mrr_at(h, date(2025, 1, 5)) == 100_00
    # 14 Feb: A 150 + B 100 + C 50 + D 80 + E 30 = 410
    assert mrr_at(h, date(2025, 2, 14)) == 410_00
    # 15 Feb: B paused, 410 - 100 = 310
    assert mrr_at(h, date(2025, 2, 15)) == 310_00
    # 30 Mar: A 150 + B 100 + C 50 + D 80 + E 20 = 400; 31 Mar: C cancelled, 350
    assert mrr_at(h, date(2025, 3, 30)) == 400_00
    assert mrr_at(h, date(2025, 3, 31)) == 350_00
    assert mrr_at(h, date(2030, 1, 1)) == 350_00
    with pytest.raises(RecurringError, match="calendar date, not datetime"):
        mrr_at(h, datetime(2025, 3, 1, 12, 0))  # noqa: DTZ001 (the point is that it is refused)


def test_cohort_table_of_the_five_subscribers():
    rows = cohort_retention(subscription_history(FIVE), MAR)
    # January cohort: A, B, C, D, first plans 100 + 100 + 50 + 80 = 330.
    #   Jan end: all 4, MRR 330 -> 100% and 100%.
    #   Feb end: A, B (paused), C are customers: 3/4 = 75%; MRR 150 + 0 + 50 = 200 -> 200/330.
    #   Mar end: A, B, D (back) are customers, C gone: 3/4; MRR 150 + 100 + 80 = 330 -> 100%.
    # February cohort: E, first plan 30.
    #   Feb end: 1/1, 30 -> 100%; Mar end: 1/1, MRR 20 -> 20/30.
    assert [(r.cohort, r.customers, r.starting_mrr) for r in rows] == [
        (JAN, 4, 330_00),
        (FEB, 1, 30_00),
    ]
    table = [
        [(c.month, c.age, c.customers, c.mrr, c.customer_retention, c.revenue_retention)]
        for r in rows
        for c in r.cells
    ]
    assert table == [
        [(JAN, 0, 4, 330_00, 1.0, 1.0)],
        [(FEB, 1, 3, 200_00, 0.75, 200 / 330)],
        [(MAR, 2, 3, 330_00, 0.75, 1.0)],
        [(FEB, 0, 1, 30_00, 1.0, 1.0)],
        [(MAR, 1, 1, 20_00, 1.0, 20 / 30)],
    ]
    # Cut off earlier, the later cohort and months are left out.
    assert [len(r.cells) for r in cohort_retention(subscription_history(FIVE), JAN)] == [1]


def test_history_remembers_its_span_and_subscribers():
    h = subscription_history(FIVE)
    assert (h.subscribers, h.first_month, h.last_month) == (5, JAN, MAR)
    empty = subscription_history([])
    assert (empty.subscribers, empty.first_month, empty.last_month) == (0, None, None)
    assert mrr_at(empty, date(2025, 1, 1)) == 0
    assert cohort_retention(empty, MAR) == []
    assert [m.closing_mrr for m in mrr_movements(empty, JAN, FEB)] == [0, 0]


def test_a_later_window_opens_with_the_mrr_built_before_it():
    h = subscription_history(FIVE)
    (mar,) = mrr_movements(h, MAR, MAR)
    assert (mar.opening_mrr, mar.opening_customers, mar.closing_mrr) == (230_00, 4, 350_00)
    # Before the first event: empty months.
    (dec,) = mrr_movements(h, (2024, 12), (2024, 12))
    assert (dec.opening_mrr, dec.closing_mrr, dec.closing_customers) == (0, 0, 0)
    with pytest.raises(RecurringError, match="before first") as caught:
        mrr_movements(h, MAR, JAN)
    assert caught.value.field == "last"
    with pytest.raises(RecurringError, match="month 1-12") as caught:
        mrr_movements(h, (2025, 13), (2026, 1))
    assert caught.value.field == "first"


def test_rows_of_subscribers_may_interleave():
    by_date = sorted(FIVE, key=lambda e: e.on)  # stable: each subscriber stays in order
    by_subscriber = sorted(FIVE, key=lambda e: e.subscriber)
    expected = mrr_movements(subscription_history(FIVE), JAN, APR)
    assert mrr_movements(subscription_history(by_date), JAN, APR) == expected
    assert mrr_movements(subscription_history(by_subscriber), JAN, APR) == expected
    # Plain tuples, as a values_list query returns them, and a generator.
    plain = ((e.subscriber, e.kind, e.on, e.price, e.interval) for e in FIVE)
    assert mrr_movements(subscription_history(plain), JAN, APR) == expected


def test_a_start_and_cancel_in_one_month_moves_no_monthly_figure():
    h = history(
        E(1, "start", date(2025, 1, 3), 40_00, "month"),
        E(1, "cancel", date(2025, 1, 20)),
    )
    # Never a customer at a month end: nothing new, nothing churned...
    (jan,) = mrr_movements(h, JAN, JAN)
    assert (jan.new_mrr, jan.churned_mrr, jan.new_customers, jan.churned_customers) == (0, 0, 0, 0)
    # ...though MRR on the days between shows it, and it joins January's cohort, at 0%.
    assert mrr_at(h, date(2025, 1, 10)) == 40_00
    (row,) = cohort_retention(h, JAN)
    assert (row.customers, row.starting_mrr, row.cells[0].customer_retention) == (1, 40_00, 0.0)


def test_a_cancel_and_restart_within_a_month_is_a_plan_change_not_churn():
    h = history(
        E(1, "start", date(2025, 1, 3), 40_00, "month"),
        E(1, "cancel", date(2025, 2, 5)),
        E(1, "start", date(2025, 2, 25), 30_00, "month"),
    )
    _, feb = mrr_movements(h, JAN, FEB)
    # A customer at both month ends: 40 -> 30 is 10 contraction.
    assert (feb.churned_customers, feb.reactivated_customers, feb.contraction_mrr) == (0, 0, 10_00)


def test_first_start_and_cancel_in_one_month_then_back_later_is_a_reactivation():
    h = history(
        E(1, "start", date(2025, 1, 3), 40_00, "month"),
        E(1, "cancel", date(2025, 1, 20)),
        E(1, "start", date(2025, 3, 1), 40_00, "month"),
    )
    mar = mrr_movements(h, MAR, MAR)[0]
    # The first start was in January, so March is a return, not a new customer.
    assert (mar.new_mrr, mar.reactivation_mrr, mar.reactivated_customers) == (0, 40_00, 1)


def test_a_paused_subscriber_who_cancels_churns_with_no_mrr():
    h = history(
        E(1, "start", date(2025, 1, 3), 40_00, "month"),
        E(1, "pause", date(2025, 1, 20)),
        E(1, "cancel", date(2025, 2, 20)),
    )
    jan, feb = mrr_movements(h, JAN, FEB)
    # January: new customer, paused by the end, so new MRR 0 and one paused customer.
    assert (jan.new_customers, jan.new_mrr, jan.paused_customers) == (1, 0, 1)
    # February: the customer is lost, but their MRR already was 0.
    assert (feb.churned_customers, feb.churned_mrr, feb.paused_customers) == (1, 0, 0)
    assert feb.customer_churn_rate == 1.0
    assert feb.revenue_churn_rate is None


def test_a_change_while_paused_applies_on_resume():
    h = history(
        E(1, "start", date(2025, 1, 3), 40_00, "month"),
        E(1, "pause", date(2025, 1, 20)),
        E(1, "change", date(2025, 2, 1), 600_00, "year"),
        E(1, "resume", date(2025, 3, 1)),
    )
    # Still paused after the change: 0. Resumed at the new plan: 60000 / 12 = 5000.
    assert mrr_at(h, date(2025, 2, 15)) == 0
    assert mrr_at(h, date(2025, 3, 1)) == 50_00
    feb, mar = mrr_movements(h, FEB, MAR)
    # February moves nothing (0 -> 0); March is 0 -> 50: 50 expansion.
    assert (feb.expansion_mrr, feb.contraction_mrr) == (0, 0)
    assert (mar.expansion_mrr, mar.closing_mrr) == (50_00, 50_00)


# --------------------------------------------------------------------------- validation


def refused(*events: object) -> RecurringError:
    with pytest.raises(RecurringError) as caught:
        subscription_history(list(events))  # type: ignore[arg-type]
    return caught.value


def test_cannot_resume_what_is_not_paused():
    error = refused(
        E(7, "start", date(2025, 1, 1), 10_00, "month"),
        E(7, "resume", date(2025, 1, 5)),
    )
    assert error.errors == [
        (
            "events[1].kind",
            "subscriber 7, event 2 (resume): cannot resume: the subscription is active, not paused",
        )
    ]


def test_nothing_but_a_new_start_follows_a_cancel():
    base = [E(7, "start", date(2025, 1, 1), 10_00, "month"), E(7, "cancel", date(2025, 1, 5))]
    for kind, price, interval in [
        ("pause", None, None),
        ("resume", None, None),
        ("cancel", None, None),
        ("change", 20_00, "month"),
    ]:
        error = refused(*base, (7, kind, date(2025, 2, 1), price, interval))
        assert error.field == "events[2].kind"
        assert "the subscription is cancelled" in str(error)
    assert "only a new start can follow a cancel" in str(
        refused(*base, E(7, "cancel", date(2025, 2, 1)))
    )
    # A new start is allowed: that is a reactivation.
    subscription_history([*base, E(7, "start", date(2025, 2, 1), 10_00, "month")])


def test_the_first_event_must_be_a_start_and_a_live_subscription_cannot_start_again():
    assert refused(E(1, "pause", date(2025, 1, 1))).errors == [
        (
            "events[0].kind",
            "subscriber 1, event 1 (pause): cannot pause: the subscription is not started",
        )
    ]
    error = refused(
        E(1, "start", date(2025, 1, 1), 10_00, "month"),
        E(1, "pause", date(2025, 1, 2)),
        E(1, "start", date(2025, 1, 3), 10_00, "month"),
    )
    assert error.field == "events[2].kind"
    assert "cannot start: the subscription is paused" in str(error)


def test_prices_and_intervals_belong_to_starts_and_changes_only():
    start = E(1, "start", date(2025, 1, 1), 10_00, "month")
    assert refused(start, E(1, "pause", date(2025, 1, 2), 5_00)).field == "events[1].price"
    assert refused(start, E(1, "cancel", date(2025, 1, 2), None, "month")).field == (
        "events[1].interval"
    )
    error = refused(start, E(1, "change", date(2025, 1, 2)))
    assert (error.field, "needs the price" in str(error)) == ("events[1].price", True)
    error = refused(E(1, "start", date(2025, 1, 1), 10_00, "daily"))  # type: ignore[arg-type]
    assert (error.field, "not 'daily'" in str(error)) == ("events[0].interval", True)
    error = refused(E(1, "start", date(2025, 1, 1), 9.99, "month"))  # type: ignore[arg-type]
    assert (error.field, "not float" in str(error)) == ("events[0].price", True)
    error = refused(E(1, "start", date(2025, 1, 1), -5, "month"))
    assert (error.field, "must not be negative" in str(error)) == ("events[0].price", True)


def test_dates_must_be_calendar_dates_in_order_per_subscriber():
    error = refused(E(1, "start", datetime(2025, 1, 1, 9, 30), 10_00, "month"))  # noqa: DTZ001
    assert (error.field, "calendar date, not datetime" in str(error)) == ("events[0].on", True)
    error = refused(
        E(1, "start", date(2025, 2, 1), 10_00, "month"),
        E(2, "start", date(2025, 1, 1), 10_00, "month"),  # another subscriber: fine
        E(1, "pause", date(2025, 1, 15)),
    )
    assert error.errors == [
        (
            "events[2].on",
            "subscriber 1, event 2 (pause): 2025-01-15 is before the subscriber's previous "
            "event (2025-02-01): list each subscriber's events in date order",
        )
    ]


def test_every_subscribers_first_error_is_reported_in_row_order_and_nothing_compiles():
    error = refused(
        E("b", "start", date(2025, 1, 1), 10_00, "month"),
        E("a", "resume", date(2025, 1, 1)),
        E("b", "upgrade", date(2025, 1, 2)),  # type: ignore[arg-type]
        E("a", "cancel", date(2025, 1, 3)),  # after a's error: not looked at
        ("c", "start"),
        E(True, "start", date(2025, 1, 1), 10_00, "month"),  # a bool is not an id
        (1.5, "start", date(2025, 1, 1), 10_00, "month"),  # nor is a float
    )
    assert [field for field, _ in error.errors] == [
        "events[1].kind",
        "events[2].kind",
        "events[4]",
        "events[5].subscriber",
        "events[6].subscriber",
    ]
    assert "must be one of start, pause, resume, change, cancel, not 'upgrade'" in str(error)


# --------------------------------------------------------------------------- properties

# A reference model: replay each subscriber naively up to a day and read its state, then
# classify month ends by the module's rules. Independent of the compiled sweep.


def _state_on(events: list[SubscriptionEvent], day: date) -> tuple[str, int]:
    status, plan = "never", 0
    for event in events:
        if event.on > day:
            break
        if event.kind in ("start", "change"):
            assert event.price is not None and event.interval is not None
            plan = normalised_monthly(event.price, event.interval)
        status = {"start": "active", "resume": "active", "pause": "paused"}.get(
            event.kind, "cancelled" if event.kind == "cancel" else status
        )
    return status, plan if status == "active" else 0


def _month_end(month: tuple[int, int]) -> date:
    return date(month[0], month[1], calendar.monthrange(*month)[1])


def _reference_month(
    by_subscriber: dict[int, list[SubscriptionEvent]], month: tuple[int, int]
) -> tuple[int, ...]:
    end = _month_end(month)
    before = date(month[0], month[1], 1) - timedelta(days=1)
    new = expansion = contraction = churned = reactivation = 0
    for events in by_subscriber.values():
        was_status, was = _state_on(events, before)
        status, now = _state_on(events, end)
        was_customer = was_status in ("active", "paused")
        is_customer = status in ("active", "paused")
        if not was_customer and is_customer:
            first = events[0].on
            if (first.year, first.month) == month:
                new += now
            else:
                reactivation += now
        elif was_customer and not is_customer:
            churned += was
        elif was_customer and is_customer:
            expansion += max(now - was, 0)
            contraction += max(was - now, 0)
    return new, expansion, contraction, churned, reactivation


_STEP = st.tuples(
    st.integers(0, 45),  # days after the previous event
    st.integers(0, 9),  # which allowed move
    st.integers(0, 500_00),  # price
    st.sampled_from(INTERVALS),
)


# The moves a valid history may make from each status.
_ALLOWED: dict[str, list[EventKind]] = {
    "active": ["pause", "change", "cancel"],
    "paused": ["resume", "change", "cancel"],
    "cancelled": ["start"],
}


@st.composite
def histories(draw: st.DrawFn) -> list[SubscriptionEvent]:
    rows: list[SubscriptionEvent] = []
    for subscriber in range(draw(st.integers(1, 6))):
        day = date(2024, 11, 20) + timedelta(days=draw(st.integers(0, 90)))
        gap, _, price, interval = draw(_STEP)
        rows.append(E(subscriber, "start", day, price, interval))
        status = "active"
        for gap, pick, price, interval in draw(st.lists(_STEP, max_size=8)):
            day += timedelta(days=gap)
            allowed = _ALLOWED[status]
            kind = allowed[pick % len(allowed)]
            if kind in ("start", "change"):
                rows.append(E(subscriber, kind, day, price, interval))
            else:
                rows.append(E(subscriber, kind, day))
            status = {"start": "active", "resume": "active", "pause": "paused"}.get(
                kind, "cancelled" if kind == "cancel" else status
            )
    # Interleave subscribers by date (stable, so each keeps its own order).
    return sorted(rows, key=lambda e: e.on)


@settings(max_examples=150, deadline=None)
@given(histories())
def test_mrr_identity_and_reference_model_hold_for_random_histories(rows):
    h = subscription_history(rows)
    assert h.first_month is not None and h.last_month is not None
    last = (h.last_month[0] + (h.last_month[1] == 12), h.last_month[1] % 12 + 1)
    months = mrr_movements(h, (2024, 11), last)
    cohorts = cohort_retention(h, last)
    by_subscriber: dict[int, list[SubscriptionEvent]] = {}
    for row in rows:
        by_subscriber.setdefault(row.subscriber, []).append(row)
    previous_closing = 0
    for m in months:
        assert_identities(m)
        assert m.opening_mrr == previous_closing
        previous_closing = m.closing_mrr
        end = _month_end(m.month)
        assert m.closing_mrr == mrr_at(h, end)
        states = [_state_on(events, end) for events in by_subscriber.values()]
        assert m.closing_mrr == sum(mrr for _, mrr in states)
        assert m.closing_customers == sum(s in ("active", "paused") for s, _ in states)
        assert m.paused_customers == sum(s == "paused" for s, _ in states)
        assert (
            m.new_mrr,
            m.expansion_mrr,
            m.contraction_mrr,
            m.churned_mrr,
            m.reactivation_mrr,
        ) == _reference_month(by_subscriber, m.month)
        # The cohort table adds up to the month's customers and MRR.
        cells = [c for row in cohorts for c in row.cells if c.month == m.month]
        assert sum(c.customers for c in cells) == m.closing_customers
        assert sum(c.mrr for c in cells) == m.closing_mrr
        for rate in (m.customer_churn_rate, m.revenue_churn_rate):
            assert rate is None or 0.0 <= rate <= 1.0
    assert sum(row.customers for row in cohorts) == len(by_subscriber)


# --------------------------------------------------------------------------- columns


def columns(rows: list[SubscriptionEvent]) -> tuple[list[SubscriptionEvent], list[np.ndarray]]:
    """``rows`` in a report query's order (by subscriber, then date, one day's events as
    given) and as ``history_from_columns``' columns; ids are numbered in their order."""
    ordered = sorted(rows, key=lambda e: (str(e.subscriber), e.on))
    ids = {s: i for i, s in enumerate(sorted({str(e.subscriber) for e in rows}))}
    codes = [
        (
            ids[str(e.subscriber)],
            e.on.toordinal(),
            recurring.KIND_CODES.get(e.kind, 0),
            0 if e.interval is None else recurring.INTERVAL_CODES.get(e.interval, 7),
            recurring.NO_PRICE if e.price is None else e.price,
        )
        for e in ordered
    ]
    return ordered, [np.array(c, dtype=np.int64).reshape(-1) for c in zip(*codes, strict=True)]


def from_columns(rows: list[SubscriptionEvent]) -> recurring.SubscriptionHistory | None:
    _, cols = columns(rows)
    return history_from_columns(*cols)


def test_columns_compile_the_same_history_as_the_rows():
    ordered, cols = columns(FIVE)
    assert history_from_columns(*cols) == subscription_history(ordered)
    for rows in (
        [E(1, "start", date(2025, 1, 3), 40_00, "month"), E(1, "cancel", date(2025, 1, 20))],
        [
            E(1, "start", date(2025, 1, 3), 40_00, "month"),
            E(1, "pause", date(2025, 1, 20)),
            E(1, "change", date(2025, 2, 1), 600_00, "year"),
            E(1, "resume", date(2025, 3, 1)),
            E(2, "start", date(2025, 3, 1), 7_00, "week"),
            E(2, "cancel", date(2025, 3, 1)),  # the same day: a day that moves nothing
            E(2, "start", date(2025, 3, 1), 7_00, "week"),
        ],
        # Days far apart: the sweep's short-range shortcuts do not apply.
        [E(1, "start", date(1, 1, 1), 3, "year"), E(1, "change", date.max, 5, "quarter")],
    ):
        assert from_columns(rows) == subscription_history(rows)
    empty = history_from_columns(*(np.zeros(0, dtype=np.int64) for _ in range(5)))
    assert empty == subscription_history([])


def test_columns_leave_what_the_sweep_does_not_decide_to_the_rows():
    start = E(1, "start", date(2025, 1, 3), 40_00, "month")
    for rows in (
        [start, E(1, "resume", date(2025, 1, 9))],  # breaks a rule
        [E(1, "pause", date(2025, 1, 3))],  # the first event is not a start
        [start, E(1, "upgrade", date(2025, 1, 9))],  # type: ignore[arg-type]
        [start._replace(interval="fortnight")],  # type: ignore[arg-type]
        [start, E(1, "cancel", date(2025, 1, 9), 5_00)],  # a price on a cancel
        [start._replace(price=-1)],
    ):
        assert from_columns(rows) is None
        with pytest.raises(RecurringError):
            subscription_history(rows)
    # Valid, but a price beyond the columns' limit: left to the rows too.
    big = [start._replace(price=recurring.COLUMN_PRICE_LIMIT)]
    assert from_columns(big) is None
    assert subscription_history(big).subscribers == 1
    # Rows out of the query's order: subscribers, then each one's days.
    _, cols = columns([start, E(2, "start", date(2025, 1, 1), 10_00, "month")])
    assert history_from_columns(*(c[::-1] for c in cols)) is None
    _, cols = columns([start, E(1, "pause", date(2025, 1, 9))])
    cols[1] = cols[1][::-1]
    assert history_from_columns(*cols) is None
    with pytest.raises(ValueError, match="same length"):
        history_from_columns(*cols[:4], cols[4][:1])


def test_columns_refuse_every_move_the_rows_refuse():
    # Every kind after every status: the columns decide exactly when the rows do.
    lead_ins: dict[str, list[SubscriptionEvent]] = {
        "never": [],
        "active": [E(1, "start", date(2025, 1, 3), 40_00, "month")],
        "paused": [
            E(1, "start", date(2025, 1, 3), 40_00, "month"),
            E(1, "pause", date(2025, 1, 4)),
        ],
        "cancelled": [
            E(1, "start", date(2025, 1, 3), 40_00, "month"),
            E(1, "cancel", date(2025, 1, 4)),
        ],
    }
    for status, lead_in in lead_ins.items():
        for kind in EVENT_KINDS:
            priced = kind in ("start", "change")
            event = E(
                1, kind, date(2025, 2, 1), 10_00 if priced else None, "year" if priced else None
            )
            rows = [*lead_in, event]
            try:
                expected = subscription_history(rows)
            except RecurringError:
                assert from_columns(rows) is None, (status, kind)
            else:
                assert from_columns(rows) == expected, (status, kind)


@settings(max_examples=150, deadline=None)
@given(histories())
def test_columns_compile_random_histories_like_the_rows(rows):
    ordered, cols = columns(rows)
    assert history_from_columns(*cols) == subscription_history(ordered)


_ANY_STEP = st.tuples(
    st.integers(0, 40),  # days after the previous event
    st.sampled_from([*EVENT_KINDS, "upgrade"]),
    st.integers(0, 3),  # 0: the allowed move instead of the drawn kind
    st.one_of(st.none(), st.integers(-2, 500_00), st.just(2**40)),
    st.sampled_from([None, *INTERVALS, "fortnight"]),
)


@st.composite
def any_histories(draw: st.DrawFn) -> list[SubscriptionEvent]:
    """Histories that often break a rule: any kind, price and interval, sometimes right."""
    rows: list[SubscriptionEvent] = []
    for subscriber in range(draw(st.integers(1, 4))):
        day = date(2024, 12, 1) + timedelta(days=draw(st.integers(0, 60)))
        status = "never"
        for gap, kind, pick, price, interval in draw(st.lists(_ANY_STEP, min_size=1, max_size=8)):
            day += timedelta(days=gap)
            if pick:  # a valid move, with the right price and interval
                kind = "start" if status in ("never", "cancelled") else _ALLOWED[status][pick % 3]
                if kind in ("start", "change"):
                    price, interval = abs(price or 0), interval or "month"
                    interval = interval if interval in INTERVALS else "year"
                else:
                    price = interval = None
            rows.append(E(subscriber, kind, day, price, interval))  # type: ignore[arg-type]
            status = {"start": "active", "resume": "active", "pause": "paused"}.get(
                kind, "cancelled" if kind == "cancel" else status
            )
    return rows


@settings(max_examples=300, deadline=None)
@given(any_histories())
def test_columns_give_the_rows_history_or_leave_them_to_the_rows(rows):
    ordered, cols = columns(rows)
    try:
        expected = subscription_history(ordered)
    except RecurringError:
        assert history_from_columns(*cols) is None
        return
    compiled = history_from_columns(*cols)
    if any(e.price is not None and e.price >= recurring.COLUMN_PRICE_LIMIT for e in rows):
        assert compiled is None
    else:
        assert compiled == expected


# ---------------------------------------------------------------------------- billing periods


def test_monthly_periods_run_from_the_start_day_and_clamp_to_short_months() -> None:
    # Started 31 January 2025: February has 28 days, so that period starts on the 28th and
    # the next one is back on the 31st.
    assert recurring.billing_periods(date(2025, 1, 31), "month", date(2025, 4, 2)) == [
        (date(2025, 1, 31), date(2025, 2, 27)),
        (date(2025, 2, 28), date(2025, 3, 30)),
        (date(2025, 3, 31), date(2025, 4, 29)),
    ]


def test_weekly_quarterly_and_yearly_periods() -> None:
    assert recurring.billing_periods(date(2026, 3, 2), "week", date(2026, 3, 16)) == [
        (date(2026, 3, 2), date(2026, 3, 8)),
        (date(2026, 3, 9), date(2026, 3, 15)),
        (date(2026, 3, 16), date(2026, 3, 22)),
    ]
    assert recurring.billing_periods(date(2025, 11, 30), "quarter", date(2026, 3, 1)) == [
        (date(2025, 11, 30), date(2026, 2, 27)),
        (date(2026, 2, 28), date(2026, 5, 29)),
    ]
    # 29 February 2024 renews on 28 February in the years without one.
    assert recurring.period_start(date(2024, 2, 29), "year", 1) == date(2025, 2, 28)
    assert recurring.period_start(date(2024, 2, 29), "year", 4) == date(2028, 2, 29)


def test_no_periods_before_the_start_and_an_unknown_interval_is_named() -> None:
    assert recurring.billing_periods(date(2026, 5, 1), "month", date(2026, 4, 30)) == []
    with pytest.raises(recurring.RecurringError) as caught:
        recurring.period_start(date(2026, 5, 1), "fortnight", 1)
    assert caught.value.field == "interval"
