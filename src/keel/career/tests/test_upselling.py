"""Upsells through the services and the pages, state built by the real offer services:
buyers are the base offer's first starts and payments, takers the follow-on's purchases by
the same person (matched by email without case, or by external reference); the figures
are worked by hand; an upsell is a 404 to another worker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from django.test import Client

from keel.accounts.models import User
from keel.career import offers, upselling
from keel.career.errors import CareerError
from keel.career.models import Offer, Upsell

from .test_views import text

Login = Callable[[User | None], Client]
MARCH_1 = date(2025, 3, 1)
# Days after 1 March each of the ten takers bought the follow-on.
TAKER_DAYS = [0, 2, 3, 5, 10, 14, 20, 30, 45, 1]


def base_and_follow_on(worker: User) -> tuple[Offer, Offer]:
    base = offers.create_offer(
        worker, name="Studio membership", kind="membership", price=30_00, currency="EUR",
        interval="month",
    )  # fmt: skip
    follow = offers.create_offer(
        worker, name="Portfolio review", kind="one_off_service", price=49_00, currency="EUR"
    )
    return base, follow


def forty_buyers_ten_takers(worker: User) -> tuple[Offer, Offer]:
    """40 members who started on 1 March 2025; 10 of them bought the one-off review later
    (a payment each), matched to their membership in three ways; plus two purchases of the
    review that match no member."""
    base, follow = base_and_follow_on(worker)
    for i in range(40):
        offers.add_subscriber(
            base,
            name=f"Member {i}",
            email=f"b{i}@example.com",
            external_reference=f"cus_{i}",
            start_on=MARCH_1,
        )
    for i, days in enumerate(TAKER_DAYS):
        if i < 6:  # the same email, one of them in other letters' case
            who = {"email": f"B{i}@Example.com" if i == 0 else f"b{i}@example.com"}
        elif i < 8:  # no email, the same customer id elsewhere
            who = {"external_reference": f"cus_{i}"}
        else:  # another email, the same customer id: still the same person
            who = {"email": f"work{i}@example.org", "external_reference": f"cus_{i}"}
        buyer = offers.add_subscriber(follow, name=f"Member {i}", **who)
        offers.record_payment(
            follow, amount=49_00, on=MARCH_1 + timedelta(days=days), subscriber=buyer
        )
    stranger = offers.add_subscriber(follow, name="Stranger", email="someone@else.example")
    offers.record_payment(follow, amount=49_00, on=MARCH_1, subscriber=stranger)
    offers.record_payment(follow, amount=49_00, on=MARCH_1)  # paid by nobody known
    return base, follow


def test_forty_buyers_ten_takers_is_25_percent_inside_the_band(maya: User) -> None:
    base, follow = forty_buyers_ten_takers(maya)
    upsell = upselling.create_upsell(maya, base=base, follow_on=follow)
    summary = upselling.upsell_summary(upsell, date(2026, 1, 1))
    report = summary.report
    assert (report.buyers, report.takers, report.rate, report.band) == (40, 10, 0.25, "inside")
    # Wilson(10, 40): p = 0.25, z^2 = 3.841459, z^2/n = 0.096036, denominator 1.096036;
    # centre = (0.25 + 3.841459/80) / 1.096036 = 0.298018 / 1.096036 = 0.271905;
    # half = 1.959964 / 1.096036 * sqrt(0.25 * 0.75 / 40 + 3.841459 / 6400)
    #      = 1.788230 * sqrt(0.0046875 + 0.000600228) = 1.788230 * 0.072717 = 0.130034
    # -> (0.141871, 0.401940).
    assert report.interval == pytest.approx((0.141871, 0.401940), abs=2e-6)
    # Sorted days 0 1 2 3 5 | 10 14 20 30 45: median (5 + 10) / 2 = 7.5.
    assert report.median_days_to_take == 7.5
    assert report.not_counted == 2  # the stranger and the anonymous payment
    assert report.suggestions == (
        "10 of 40 buyers took the upsell (25%), inside the 20\u201330% target: keep its price "
        "and timing as they are.",
    )
    assert len(summary.buyers) == 40
    took = sorted(b.days for b in summary.buyers if b.days is not None)
    assert took == sorted(TAKER_DAYS)


def test_a_window_leaves_out_late_takers_giving_the_rules_tests_9_of_40(maya: User) -> None:
    base, follow = forty_buyers_ten_takers(maya)
    upsell = upselling.create_upsell(maya, base=base, follow_on=follow, window_days=30)
    report = upselling.upsell_summary(upsell, date(2026, 1, 1)).report
    # The taker on day 45 is outside the 30-day window (day 30 itself counts): 9 / 40.
    assert (report.buyers, report.takers, report.rate, report.band) == (40, 9, 0.225, "inside")
    # The same figures as the rules' worked example (test_upsells.py, 9 of 40).
    assert report.interval == pytest.approx((0.123161, 0.375031), abs=1e-6)
    assert report.not_counted == 3


def test_as_of_leaves_out_later_purchases_and_buyers_still_deciding(maya: User) -> None:
    base, follow = forty_buyers_ten_takers(maya)
    upsell = upselling.create_upsell(maya, base=base, follow_on=follow, window_days=30)
    report = upselling.upsell_summary(upsell, MARCH_1 + timedelta(days=10)).report
    # On 11 March nobody's 30-day window has closed: all 40 are still deciding.
    assert (report.buyers, report.still_deciding) == (0, 40)
    assert report.band == "not_enough_buyers"


def test_create_refuses_another_workers_offer_the_same_offer_and_a_repeat(
    maya: User, noor: User
) -> None:
    base, follow = base_and_follow_on(maya)
    theirs = offers.create_offer(
        noor, name="Other", kind="digital_product", price=10_00, currency="EUR"
    )
    with pytest.raises(CareerError) as caught:
        upselling.create_upsell(maya, base=base, follow_on=theirs)
    assert caught.value.field == "follow_on"
    with pytest.raises(CareerError, match="another offer"):
        upselling.create_upsell(maya, base=base, follow_on=base)
    first = upselling.create_upsell(maya, base=base, follow_on=follow, key="k1")
    assert upselling.create_upsell(maya, base=base, follow_on=follow, key="k1") == first
    with pytest.raises(CareerError, match="already the upsell"):
        upselling.create_upsell(maya, base=base, follow_on=follow)
    assert Upsell.objects.count() == 1


def test_upsell_pages_and_form(maya: User, noor: User, login: Login) -> None:
    base, follow = forty_buyers_ten_takers(maya)
    client = login(maya)
    assert client.get("/career/offers/upsells/").status_code == 200
    made = client.post(
        "/career/offers/upsells/",
        {"token": "u-1", "base": base.pk, "follow_on": follow.pk, "window_days": ""},
    )
    assert made.status_code == 302
    upsell = Upsell.objects.get(worker=maya)
    assert made["Location"] == f"/career/offers/upsells/{upsell.pk}/"
    # The same form again (a reload) creates nothing more.
    again = client.post(
        "/career/offers/upsells/",
        {"token": "u-1", "base": base.pk, "follow_on": follow.pk, "window_days": ""},
    )
    assert again.status_code == 302 and Upsell.objects.count() == 1
    page = client.get(f"/career/offers/upsells/{upsell.pk}/")
    assert page.status_code == 200
    body = text(page)
    assert "Conversion 25.0%" in body
    assert "95% interval (Wilson) 14.2% \u2013 40.2%" in body
    assert "Inside the 20\u201330% band" in body
    assert "Median days to take it 7.5" in body
    assert "keep its price and timing as they are" in body
    listing = text(client.get("/career/offers/upsells/"))
    assert "Studio membership → Portfolio review 40 10 25.0%" in listing
    # Same base and follow-on: refused on the form, nothing saved.
    same = client.post(
        "/career/offers/upsells/", {"token": "u-2", "base": base.pk, "follow_on": base.pk}
    )
    assert same.status_code == 400 and Upsell.objects.count() == 1
    # Another worker: a 404 on the upsell, and my offers are not choices on their form.
    other = login(noor)
    assert other.get(f"/career/offers/upsells/{upsell.pk}/").status_code == 404
    foreign = other.post(
        "/career/offers/upsells/", {"token": "u-3", "base": base.pk, "follow_on": follow.pk}
    )
    assert foreign.status_code == 400 and Upsell.objects.count() == 1
