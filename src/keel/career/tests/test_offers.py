"""Offers and recurring revenue through the services, against figures computed by hand:
the rules tests' five subscribers, booked as real rows (amounts are euro cents)."""

from __future__ import annotations

from datetime import date

import pytest

from keel.accounts.models import User
from keel.career import offers
from keel.career.errors import CareerError
from keel.career.models import Offer, OfferPayment, Subscriber, SubscriptionEvent
from keel.career.rules import recurring
from keel.career.rules.recurring import RecurringError, subscription_history
from keel.income.models import IncomeItem, StreamKind
from keel.ledger.models import Journal

from .conftest import person

JAN, FEB, MAR, APR = (2025, 1), (2025, 2), (2025, 3), (2025, 4)


def membership(worker: User, **changes: object) -> Offer:
    fields: dict[str, object] = {
        "name": "Studio membership",
        "kind": "membership",
        "price": 100_00,
        "currency": "EUR",
        "interval": "month",
    }
    fields.update(changes)
    return offers.create_offer(worker, **fields)  # type: ignore[arg-type]


def five(worker: User) -> dict[str, Subscriber]:
    """The rules tests' five subscribers (test_recurring.FIVE), through the services:
    A starts 5 Jan at 100.00/month, upgrades to 150.00 on 10 Feb;
    B starts 10 Jan at 1,200.00/year (100.00/month), pauses 15 Feb, resumes 10 Mar;
    C starts 20 Jan at 50.00/month, cancels 31 Mar;
    D starts 25 Jan at 80.00/month, cancels 20 Feb, comes back at 80.00 on 3 Mar;
    E starts 1 Feb at 90.00/quarter (30.00/month), moves to 20.00/month on 1 Mar."""
    offer = membership(worker)
    subs = {n: offers.add_subscriber(offer, name=n) for n in "ABCDE"}
    for name, kind, on, price, interval in [
        ("A", "start", date(2025, 1, 5), 100_00, "month"),
        ("B", "start", date(2025, 1, 10), 1200_00, "year"),
        ("C", "start", date(2025, 1, 20), 50_00, "month"),
        ("D", "start", date(2025, 1, 25), 80_00, "month"),
        ("E", "start", date(2025, 2, 1), 90_00, "quarter"),
        ("A", "change", date(2025, 2, 10), 150_00, "month"),
        ("B", "pause", date(2025, 2, 15), None, None),
        ("D", "cancel", date(2025, 2, 20), None, None),
        ("E", "change", date(2025, 3, 1), 20_00, "month"),
        ("D", "start", date(2025, 3, 3), 80_00, "month"),
        ("B", "resume", date(2025, 3, 10), None, None),
        ("C", "cancel", date(2025, 3, 31), None, None),
    ]:
        offers.record_event(subs[name], kind, on, price=price, interval=interval)
    return subs


def test_mrr_movements_churn_and_cohorts_of_the_five_subscribers(maya: User) -> None:
    five(maya)
    report = offers.recurring_report(maya.pk, "EUR", date(2025, 4, 15))
    # Jan: 100 + 100 + 50 + 80 = 330 new. Feb: E new 30, A +50, B paused -100, D churned 80
    # -> 230. Mar: B back +100, E -10, C churned 50, D reactivated 80 -> 350. Apr: carried.
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
        for m in report.months
    ] == [
        (JAN, 0, 330_00, 0, 0, 0, 0, 330_00),
        (FEB, 330_00, 30_00, 50_00, 100_00, 80_00, 0, 230_00),
        (MAR, 230_00, 0, 100_00, 10_00, 50_00, 80_00, 350_00),
        (APR, 350_00, 0, 0, 0, 0, 0, 350_00),
    ]
    # MRR now: A 150 + B 100 + D 80 + E 20 = 350; end of March also 350: no change.
    assert (report.mrr, report.mrr_last_month_end, report.change_this_month) == (350_00, 350_00, 0)
    feb, mar = report.months[1], report.months[2]
    # Feb: D is 1 of 4 customers; 80 of 330 MRR; net (80 + 100 - 50) / 330.
    assert (feb.customer_churn_rate, feb.revenue_churn_rate) == (1 / 4, 80 / 330)
    assert feb.net_revenue_churn_rate == 130 / 330
    assert (mar.customer_churn_rate, mar.revenue_churn_rate) == (1 / 4, 50 / 230)
    # Cohorts: Jan (A-D, 330): 4 -> 3 (200) -> 3 (330); Feb (E, 30): 1 (30) -> 1 (20).
    assert [(r.cohort, r.customers, r.starting_mrr) for r in report.cohorts] == [
        (JAN, 4, 330_00),
        (FEB, 1, 30_00),
    ]
    assert [[(c.customers, c.mrr) for c in r.cells] for r in report.cohorts] == [
        [(4, 330_00), (3, 200_00), (3, 330_00), (3, 330_00)],
        [(1, 30_00), (1, 20_00), (1, 20_00)],
    ]
    # In mid-February MRR is 410 (before B's pause on the 15th it was A 150 + B 100 +
    # C 50 + D 80 + E 30); on the 20th D cancels: 410 - 100 - 80 = 230, down 100 on Jan's end.
    assert offers.recurring_report(maya.pk, "EUR", date(2025, 2, 14)).mrr == 410_00
    feb20 = offers.recurring_report(maya.pk, "EUR", date(2025, 2, 20))
    assert (feb20.mrr, feb20.change_this_month) == (230_00, -100_00)


def test_the_report_reads_the_events_with_one_query(
    maya: User, django_assert_num_queries: object
) -> None:
    five(maya)
    with django_assert_num_queries(1):  # type: ignore[operator]
        offers.recurring_report(maya.pk, "EUR", date(2025, 4, 15))


def test_the_report_history_is_the_rules_history_of_the_event_rows(
    maya: User, django_assert_num_queries: object
) -> None:
    five(maya)
    # Every kind and interval, the first and last days a date can have, prices at the
    # edges of what the query's codes carry: decoded exactly, still in one query.
    offer = membership(maya, name="Edges")
    edge = offers.add_subscriber(offer, name="F")
    for kind, on, price, interval in [
        ("start", date(1, 1, 1), 0, "week"),
        ("change", date(1, 1, 31), recurring.COLUMN_PRICE_LIMIT - 1, "year"),
        ("pause", date(1, 2, 1), None, None),
        ("change", date(1970, 1, 1), 7, "quarter"),
        ("resume", date(9999, 12, 31), None, None),
        ("cancel", date(9999, 12, 31), None, None),
    ]:
        offers.record_event(edge, kind, on, price=price, interval=interval)
    expected = subscription_history(offers.event_rows(maya.pk, "EUR"))
    with django_assert_num_queries(1):  # type: ignore[operator]
        assert offers.report_history(maya.pk, "EUR") == expected
    assert expected.subscribers == 6


def test_events_the_codes_do_not_carry_are_replayed_row_by_row(
    maya: User, django_assert_num_queries: object
) -> None:
    subs = five(maya)
    # A valid price too large for the codes: the same figures, from a second query.
    offers.record_event(
        subs["A"], "change", date(2025, 4, 1), price=recurring.COLUMN_PRICE_LIMIT, interval="year"
    )
    expected = subscription_history(offers.event_rows(maya.pk, "EUR"))
    with django_assert_num_queries(2):  # type: ignore[operator]
        assert offers.report_history(maya.pk, "EUR") == expected
    report = offers.recurring_report(maya.pk, "EUR", date(2025, 4, 15))
    # A: 150.00 a month -> 2**32 / 12 rounded half up.
    assert report.mrr == 200_00 + (recurring.COLUMN_PRICE_LIMIT + 6) // 12
    # A row no service would write (written around them): refused as the rules refuse it.
    SubscriptionEvent.objects.create(
        subscriber=subs["B"], worker=maya, currency="EUR", kind="upgrade", on=date(2025, 4, 2)
    )
    with pytest.raises(RecurringError) as expected_error:
        subscription_history(offers.event_rows(maya.pk, "EUR"))
    with pytest.raises(RecurringError) as refused:
        offers.recurring_report(maya.pk, "EUR", date(2025, 4, 15))
    assert refused.value.errors == expected_error.value.errors
    assert "not 'upgrade'" in str(refused.value)


def test_offer_mrr_and_statuses(maya: User) -> None:
    subs = five(maya)
    [row] = offers.offer_mrr(maya, date(2025, 4, 15))
    assert (row.mrr, row.customers) == (350_00, 4)
    statuses = {n: Subscriber.objects.get(pk=s.pk).status for n, s in subs.items()}
    assert statuses == {
        "A": "active",
        "B": "active",
        "C": "cancelled",
        "D": "active",
        "E": "active",
    }


def test_an_invalid_event_is_refused_naming_the_field_and_nothing_is_saved(maya: User) -> None:
    offer = membership(maya)
    sub = offers.add_subscriber(offer, name="Ana", start_on=date(2025, 1, 5))
    before = list(SubscriptionEvent.objects.values_list("id", "kind"))
    with pytest.raises(CareerError) as refused:
        offers.record_event(sub, "resume", date(2025, 2, 1))
    assert refused.value.field == "kind"
    assert "cannot resume" in refused.value.message
    with pytest.raises(CareerError) as refused:
        offers.record_event(sub, "pause", date(2025, 1, 1))
    assert refused.value.field == "on"
    with pytest.raises(CareerError) as refused:
        offers.record_event(sub, "change", date(2025, 2, 1), price=-5)
    assert refused.value.field == "price"
    assert list(SubscriptionEvent.objects.values_list("id", "kind")) == before
    sub.refresh_from_db()
    assert (sub.status, sub.price) == ("active", 100_00)


def test_a_new_interval_without_a_price_is_refused_not_given_the_monthly_list_price(
    maya: User,
) -> None:
    # EUR 80.00 a month moved to yearly billing with the price box empty became EUR 100.00
    # a year (the monthly list price taken as a yearly one), MRR 80.00 -> 8.33.
    offer = membership(maya)
    sub = offers.add_subscriber(offer, name="Ana", start_on=date(2025, 1, 5), price=80_00)
    before = list(SubscriptionEvent.objects.values_list("id", "kind"))
    with pytest.raises(CareerError) as refused:
        offers.record_event(sub, "change", date(2025, 2, 1), interval="year")
    assert refused.value.field == "price"
    assert (
        refused.value.message == "price: the list price, €100.00, is a month: give the price a year"
    )
    with pytest.raises(CareerError) as refused:
        offers.add_subscriber(offer, name="Bo", start_on=date(2025, 1, 5), interval="year")
    assert refused.value.field == "price"
    assert list(SubscriptionEvent.objects.values_list("id", "kind")) == before
    assert list(offer.subscribers.values_list("name", flat=True)) == ["Ana"]
    sub.refresh_from_db()
    assert (sub.price, sub.interval) == (80_00, "month")
    # With its price, or on the offer's own interval, it goes through.
    offers.record_event(sub, "change", date(2025, 2, 1), price=900_00, interval="year")
    offers.record_event(sub, "change", date(2025, 3, 1), interval="month")
    sub.refresh_from_db()
    assert (sub.price, sub.interval) == (100_00, "month")


def test_a_retainer_needs_its_terms_and_one_time_offers_have_no_interval(maya: User) -> None:
    with pytest.raises(CareerError) as refused:
        membership(maya, kind="retainer", name="Care plan")
    assert refused.value.field == "retainer_units"
    with pytest.raises(CareerError) as refused:
        membership(maya, kind="digital_product", name="Ebook")
    assert refused.value.field == "interval"
    retainer = membership(
        maya,
        kind="retainer",
        name="Care plan",
        retainer_units=10,
        retainer_unit="hours",
        retainer_on_unused="roll_over",
        retainer_rollover_cap=5,
    )
    assert retainer.retainer_rollover_cap == 5
    with pytest.raises(CareerError) as refused:
        membership(maya)
        membership(maya)
    assert refused.value.field == "name"
    assert Offer.objects.filter(worker=maya).count() == 2


def test_a_payment_is_booked_as_income_and_matched(maya: User) -> None:
    offer = membership(maya)
    sub = offers.add_subscriber(offer, name="Ana", start_on=date(2025, 1, 5))
    payment = offers.record_payment(
        offer, amount=100_00, on=date(2025, 1, 5), subscriber=sub, key="k1"
    )
    item = payment.income_item
    assert (item.gross, item.currency, item.occurred_on) == (100_00, "EUR", date(2025, 1, 5))
    assert item.source.slug == offer.income_source_slug
    assert item.stream is not None and item.stream.kind == StreamKind.RECURRING
    assert Journal.objects.filter(pk=item.journal_id).exists()
    assert (payment.offer, payment.subscriber, payment.matched_by) == (offer, sub, "recorded")
    # The same key again books nothing new.
    again = offers.record_payment(
        offer, amount=100_00, on=date(2025, 1, 5), subscriber=sub, key="k1"
    )
    assert again.pk == payment.pk
    assert IncomeItem.objects.filter(worker=maya).count() == 1


def test_imported_payments_are_matched_by_source_and_by_hand(maya: User) -> None:
    from keel.income import services as income
    from keel.income.importers.base import ParsedRow, RowKind

    offer = membership(maya)
    sub = offers.add_subscriber(offer, name="Ana", start_on=date(2025, 1, 5))

    def book(source_name: str, ref: str) -> IncomeItem:
        source = income.ensure_source(maya, source_name, currency="EUR")
        row = ParsedRow(
            line=2,
            kind=RowKind.INCOME,
            occurred_on=date(2025, 2, 5),
            currency="EUR",
            gross=100_00,
            net=100_00,
            external_id=ref,
        )
        income.book_rows(maya, source, [row])
        return IncomeItem.objects.get(worker=maya, external_id=ref)

    under_offer = book("Studio membership (offer)", "s-1")
    elsewhere = book("Stripe", "ch_1")
    matched = offers.match_source_payments(offer)
    assert [p.income_item_id for p in matched] == [under_offer.pk]
    assert offers.match_source_payments(offer) == []
    assert [i.pk for i in offers.unmatched_items(offer)] == [elsewhere.pk]
    manual = offers.match_payment(offer, elsewhere.pk, sub)
    assert (manual.matched_by, manual.subscriber, manual.amount) == ("manual", sub, 100_00)
    with pytest.raises(CareerError) as refused:
        offers.match_payment(offer, elsewhere.pk)
    assert refused.value.field == "income_item"
    other = person("noor@example.org", "Noor")
    theirs = membership(other)
    with pytest.raises(CareerError):
        offers.match_payment(theirs, under_offer.pk)
    assert OfferPayment.objects.count() == 2
