"""The offer pages through Django's test client, state built by the real services: the
pages render for their worker with the figures computed by hand; an offer and its
subscribers are a 404 to any other worker; the dashboard shows MRR."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, timedelta

from django.test import Client
from django.utils import timezone

from keel.accounts.models import User
from keel.career import offers
from keel.career.models import Offer, OfferPayment, SubscriptionEvent
from keel.income.models import IncomeItem

from .test_offers import five, membership
from .test_views import scripts_from_elsewhere, text

Login = Callable[[User | None], Client]


def test_offer_pages_render_with_mrr(maya: User, login: Login) -> None:
    five(maya)
    client = login(maya)
    page = client.get("/career/offers/")
    assert page.status_code == 200
    # Today is after April 2025: A 150 + B 100 + D 80 + E 20 = 350.
    assert "Studio membership" in text(page) and "€350.00" in text(page)
    offer = Offer.objects.get(worker=maya)
    detail = client.get(f"/career/offers/{offer.pk}/")
    assert detail.status_code == 200
    body = text(detail)
    assert "MRR now €350.00" in body and "4 customers" in body
    assert body.count("Cancelled") >= 1  # C


def test_revenue_page_shows_movements_churn_cohorts_and_charts(maya: User, login: Login) -> None:
    five(maya)
    page = login(maya).get("/career/offers/revenue/")
    assert page.status_code == 200
    html = page.content.decode()
    body = text(page)
    assert "2025-02 €330.00 €30.00 €50.00 €100.00 €80.00 €0.00 €230.00 25.0% 24.2% 39.4%" in body
    assert "2025-03 €230.00 €0.00 €100.00 €10.00 €50.00 €80.00 €350.00 25.0% 21.7% -17.4%" in body
    assert "2025-01 4 €330.00 100% 75% 75%" in body
    assert '<script src="/static/vendor/plotly/plotly.min.js" defer></script>' in html
    assert scripts_from_elsewhere(html) == []
    figure = json.loads(
        re.search(r'<script id="fig-mrr" type="application/json">(.*?)</script>', html, re.S)[1]
    )
    assert figure["data"][0]["y"][:3] == ["330.00", "230.00", "350.00"]


def test_lifecycle_actions_and_a_refused_event_change_nothing(maya: User, login: Login) -> None:
    offer = membership(maya)
    sub = offers.add_subscriber(offer, name="Ana", start_on=date(2025, 1, 5))
    client = login(maya)
    url = f"/career/offers/{offer.pk}/subscribers/{sub.pk}/"
    assert client.post(url + "pause/", {"on": "2025-02-01"}).status_code == 302
    sub.refresh_from_db()
    assert sub.status == "paused"
    before = SubscriptionEvent.objects.count()
    refused = client.post(url + "pause/", {"on": "2025-02-02"})
    assert refused.status_code == 400 and "cannot pause" in text(refused)
    assert SubscriptionEvent.objects.count() == before
    assert client.post(url + "change/", {"on": "2025-03-01", "price": "120.00"}).status_code == 302
    assert client.post(url + "resume/", {"on": "2025-03-01"}).status_code == 302
    sub.refresh_from_db()
    assert (sub.status, sub.price) == ("active", 120_00)


def test_an_event_or_start_dated_after_today_is_refused(maya: User, login: Login) -> None:
    # The subscriber's status changed at once while MRR counted the event from its date: a
    # cancellation dated next month showed "Cancelled" and "1 customer" on the offer page
    # while the revenue page still counted both subscribers.
    offer = membership(maya)
    sub = offers.add_subscriber(offer, name="Ana", start_on=date(2025, 1, 5))
    client = login(maya)
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    before = SubscriptionEvent.objects.count()
    url = f"/career/offers/{offer.pk}/subscribers/{sub.pk}/"
    for kind in ("cancel", "pause", "change"):
        refused = client.post(url + f"{kind}/", {"on": tomorrow, "price": "12.00"})
        assert refused.status_code == 400
        assert "Ana was not changed: on: Enter a day that has come: today or earlier." in text(
            refused
        )
    added = client.post(
        f"/career/offers/{offer.pk}/subscribers/", {"name": "Ben", "start_on": tomorrow}
    )
    assert added.status_code == 400 and "Enter a day that has come" in text(added)
    assert SubscriptionEvent.objects.count() == before
    assert list(offer.subscribers.values_list("name", "status")) == [("Ana", "active")]
    # Today itself is a day that has come.
    today = timezone.localdate().isoformat()
    assert client.post(url + "cancel/", {"on": today}).status_code == 302
    sub.refresh_from_db()
    assert sub.status == "cancelled"


def test_a_start_event_or_payment_before_1970_is_refused(maya: User, login: Login) -> None:
    # A start of 0001-01-01 made the revenue page walk two thousand years of months
    # (about nine seconds), and a payment dated 0001-01-02 was booked as income.
    offer = membership(maya)
    sub = offers.add_subscriber(offer, name="Ana", start_on=date(2025, 1, 5))
    client = login(maya)
    before = (SubscriptionEvent.objects.count(), offer.subscribers.count())
    added = client.post(
        f"/career/offers/{offer.pk}/subscribers/", {"name": "Ben", "start_on": "0001-01-01"}
    )
    assert added.status_code == 400 and "Enter a day from 01 January 1970 on." in text(added)
    url = f"/career/offers/{offer.pk}/subscribers/{sub.pk}/"
    refused = client.post(url + "pause/", {"on": "1969-12-31"})
    assert refused.status_code == 400 and "Enter a day from 01 January 1970 on." in text(refused)
    assert (SubscriptionEvent.objects.count(), offer.subscribers.count()) == before


def test_a_retainer_with_more_units_than_a_column_holds_is_refused(
    maya: User, login: Login
) -> None:
    # 99999999999999999999 hours was a 500 (SQLite's integer overflowed); 5,000,000,000
    # was saved, past what PostgreSQL's column holds.
    client = login(maya)
    for units, cap in (
        ("99999999999999999999", ""),
        ("5000000000", ""),
        ("10", "99999999999999999999"),
    ):
        refused = client.post(
            "/career/offers/new/",
            {
                "name": "Care plan",
                "kind": "retainer",
                "price": "500.00",
                "currency": "EUR",
                "interval": "month",
                "retainer_units": units,
                "retainer_unit": "hours",
                "retainer_on_unused": "roll_over",
                "retainer_rollover_cap": cap,
            },
        )
        assert refused.status_code == 400 and "at most 10,000" in text(refused)
    assert not Offer.objects.filter(worker=maya).exists()


def test_a_product_lists_what_each_buyer_paid_and_asks_no_start_or_price(
    maya: User, login: Login
) -> None:
    # Buyers of a workbook were listed as "Not started" and paying "—", and the add-a-buyer
    # form asked when they started and what they pay, then dropped both without a word.
    workbook = membership(maya, name="Workbook", kind="digital_product", interval="", price=4_900)
    buyer = offers.add_subscriber(workbook, name="Ana")
    offers.add_subscriber(workbook, name="Ben")
    offers.record_payment(workbook, amount=4_900, on=date(2025, 3, 1), subscriber=buyer, key="a")
    client = login(maya)
    page = client.get(f"/career/offers/{workbook.pk}/")
    body = text(page)
    assert "Ana €49.00" in body and "Ben —" in body
    assert "Not started" not in body
    html = page.content.decode()
    assert (
        'name="start_on"' not in html
        and 'name="price"' not in html.split("subscriber-form")[1].split("</form>")[0]
    )
    added = client.post(f"/career/offers/{workbook.pk}/subscribers/", {"name": "Cleo"})
    assert added.status_code == 302
    assert list(workbook.subscribers.order_by("name").values_list("name", flat=True)) == [
        "Ana",
        "Ben",
        "Cleo",
    ]


def test_new_offer_subscriber_and_payment_from_the_forms(maya: User, login: Login) -> None:
    client = login(maya)
    made = client.post(
        "/career/offers/new/",
        {
            "name": "Care plan",
            "kind": "retainer",
            "price": "500.00",
            "currency": "EUR",
            "interval": "month",
            "retainer_units": "10",
            "retainer_unit": "hours",
            "retainer_on_unused": "expire",
        },
    )
    assert made.status_code == 302
    offer = Offer.objects.get(worker=maya)
    refused = client.post(
        "/career/offers/new/",
        {
            "name": "Ebook",
            "kind": "digital_product",
            "price": "10",
            "currency": "EUR",
            "interval": "month",
        },
    )
    assert refused.status_code == 400 and Offer.objects.filter(worker=maya).count() == 1
    assert (
        client.post(
            f"/career/offers/{offer.pk}/subscribers/", {"name": "Acme", "start_on": "2025-01-01"}
        ).status_code
        == 302
    )
    sub = offer.subscribers.get()
    paid = client.post(
        f"/career/offers/{offer.pk}/payments/",
        {"amount": "500.00", "on": "2025-01-01", "subscriber": str(sub.pk), "token": "p1"},
    )
    assert paid.status_code == 302
    ahead = client.post(
        f"/career/offers/{offer.pk}/payments/",
        {
            "amount": "500.00",
            "on": (timezone.localdate() + timedelta(days=1)).isoformat(),
            "subscriber": str(sub.pk),
            "token": "p2",
        },
    )
    assert ahead.status_code == 400 and "Enter a day that has come" in text(ahead)
    payment = OfferPayment.objects.get()
    assert (payment.amount, payment.subscriber_id) == (500_00, sub.pk)
    assert IncomeItem.objects.get(worker=maya).gross == 500_00


def test_another_worker_gets_404_on_my_offer_and_subscribers(
    maya: User, noor: User, login: Login
) -> None:
    offer = membership(maya)
    sub = offers.add_subscriber(offer, name="Ana", start_on=date(2025, 1, 5))
    client = login(noor)
    assert client.get(f"/career/offers/{offer.pk}/").status_code == 404
    assert (
        client.post(
            f"/career/offers/{offer.pk}/subscribers/{sub.pk}/cancel/", {"on": "2025-02-01"}
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/career/offers/{offer.pk}/payments/", {"amount": "1", "on": "2025-02-01"}
        ).status_code
        == 404
    )
    assert client.post(f"/career/offers/{offer.pk}/payments/match/").status_code == 404
    assert SubscriptionEvent.objects.count() == 1 and not OfferPayment.objects.exists()
    # Noor's own pages do not show Maya's figures.
    assert "€100.00" not in text(client.get("/career/offers/revenue/"))
    assert login(None).get("/career/offers/").status_code == 302


def test_the_dashboard_shows_mrr_and_its_change_this_month(maya: User, login: Login) -> None:
    client = login(maya)
    assert 'data-testid="mrr-panel"' not in client.get("/dashboard/").content.decode()
    offer = membership(maya)
    first = timezone.localdate().replace(day=1)
    offers.add_subscriber(offer, name="Ana", start_on=date(2020, 1, 1))
    offers.add_subscriber(offer, name="Ben", start_on=first, price=50_00)
    page = client.get("/dashboard/")
    body = text(page)
    assert 'data-testid="mrr-panel"' in page.content.decode()
    assert "MRR now, EUR €150.00 +€50.00 this month" in body
    assert "/career/offers/revenue/" in page.content.decode()
