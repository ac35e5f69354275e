"""Retainer units period by period, worked by hand, and the pages that log them; the
offer edit page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from html import unescape

import pytest
from django.test import Client
from django.utils import timezone

from keel.accounts.models import User
from keel.career import offers, retainers
from keel.career.errors import CareerError
from keel.career.models import Offer, RetainerUse, Subscriber

from .test_offers import membership
from .test_views import text

Login = Callable[[User | None], Client]


def retainer(worker: User, **changes: object) -> Offer:
    terms: dict[str, object] = {
        "name": "Content retainer",
        "kind": "retainer",
        "price": 150_000,
        "currency": "EUR",
        "interval": "month",
        "retainer_units": 10,
        "retainer_unit": "hours",
        "retainer_on_unused": "roll_over",
        "retainer_rollover_cap": 5,
    }
    return offers.create_offer(worker, **(terms | changes))  # type: ignore[arg-type]


def row(period: retainers.RetainerPeriod) -> tuple[object, ...]:
    s = period.statement
    return (
        period.first_day,
        period.last_day,
        s.included,
        s.brought_forward,
        s.used,
        s.overage,
        s.rolled_over,
        s.expired,
    )


def test_units_roll_over_up_to_the_cap_and_a_paused_period_includes_none(maya: User) -> None:
    client = offers.add_subscriber(retainer(maya), name="Kestrel", start_on=date(2026, 1, 15))
    offers.record_event(client, "pause", date(2026, 3, 15))
    offers.record_event(client, "resume", date(2026, 4, 10))
    for on, units in (
        (date(2026, 1, 20), 4),
        (date(2026, 2, 16), 12),
        (date(2026, 2, 20), 2),
        (date(2026, 4, 16), 3),
    ):
        retainers.log_use(client, on=on, units=units, note="drafts")

    account = retainers.retainer_account(client, date(2026, 4, 20))

    # Jan: 10 included, 4 used, 6 left: 5 roll over (the cap), 1 expires.
    # Feb: 10 + 5 = 15, 14 used, 1 rolls over. Mar: paused on its first day, so nothing
    # new; the 1 carries. Apr (resumed): 10 + 1 = 11, 3 used so far: of the 8 left, 5
    # would roll over and 3 expire if nothing more is used by 14 May.
    assert [row(p) for p in account.periods] == [
        (date(2026, 1, 15), date(2026, 2, 14), 10, 0, 4, 0, 5, 1),
        (date(2026, 2, 15), date(2026, 3, 14), 10, 5, 14, 0, 1, 0),
        (date(2026, 3, 15), date(2026, 4, 14), 0, 1, 0, 0, 1, 0),
        (date(2026, 4, 15), date(2026, 5, 14), 10, 1, 3, 0, 5, 3),
    ]
    assert account.current is account.periods[-1]
    assert account.current.statement.unused == 8


def test_expiring_units_and_an_overage(maya: User) -> None:
    offer = retainer(maya, retainer_on_unused="expire", retainer_rollover_cap=None)
    client = offers.add_subscriber(offer, name="Fernway", start_on=date(2026, 5, 1))
    retainers.log_use(client, on=date(2026, 5, 2), units=3)
    retainers.log_use(client, on=date(2026, 6, 3), units=13)

    account = retainers.retainer_account(client, date(2026, 6, 10))

    assert [row(p) for p in account.periods] == [
        (date(2026, 5, 1), date(2026, 5, 31), 10, 0, 3, 0, 0, 7),
        (date(2026, 6, 1), date(2026, 6, 30), 10, 0, 13, 3, 0, 0),
    ]


def test_refused_uses_save_nothing(maya: User) -> None:
    client = offers.add_subscriber(retainer(maya), name="Kestrel", start_on=date(2026, 1, 15))
    member = offers.add_subscriber(membership(maya), name="Ana", start_on=date(2026, 1, 5))
    tomorrow = date.fromordinal(timezone.localdate().toordinal() + 1)
    cases: list[tuple[Subscriber, dict[str, object], str]] = [
        (member, {"on": date(2026, 2, 1), "units": 1}, "offer"),
        (client, {"on": date(2026, 1, 14), "units": 1}, "on"),
        (client, {"on": tomorrow, "units": 1}, "on"),
        (client, {"on": date(2026, 2, 1), "units": 0}, "units"),
        (client, {"on": date(2026, 2, 1), "units": 10_001}, "units"),
        (client, {"on": date(2026, 2, 1), "units": True}, "units"),
        (client, {"on": date(2026, 2, 1), "units": 1, "note": "x" * 201}, "note"),
    ]
    for subscriber, arguments, field in cases:
        with pytest.raises(CareerError) as caught:
            retainers.log_use(subscriber, **arguments)  # type: ignore[arg-type]
        assert caught.value.field == field, arguments
    assert RetainerUse.objects.count() == 0


def test_the_retainer_page_logs_units_once_and_is_the_workers_alone(
    maya: User, noor: User, login: Login
) -> None:
    offer = retainer(maya)
    today = timezone.localdate()
    client = offers.add_subscriber(offer, name="Kestrel", start_on=today)
    url = f"/career/offers/{offer.pk}/subscribers/{client.pk}/retainer/"
    browser = login(maya)

    detail = text(browser.get(f"/career/offers/{offer.pk}/"))
    assert "Retainer hours this period" in detail and "Kestrel" in detail

    form = {"on": today.isoformat(), "units": "3", "note": "Newsletter", "token": "t-1"}
    done = browser.post(url, form)
    assert done.status_code == 302
    again = browser.post(url, form)  # the browser re-sends the same form
    assert again.status_code == 302
    assert list(RetainerUse.objects.values_list("units", "note")) == [(3, "Newsletter")]
    page = browser.get(url)
    assert page.status_code == 200
    assert "7 of 10 hours left (10 included, 0 brought forward, 3 used)" in text(page)

    refused = browser.post(url, {"on": today.isoformat(), "units": "0", "token": "t-2"})
    assert refused.status_code == 400
    assert RetainerUse.objects.count() == 1

    assert login(noor).get(url).status_code == 404
    assert login(noor).post(url, form | {"token": "t-3"}).status_code == 404
    member = offers.add_subscriber(membership(maya), name="Ana", start_on=today)
    other = f"/career/offers/{member.offer_id}/subscribers/{member.pk}/retainer/"
    assert browser.get(other).status_code == 404
    assert RetainerUse.objects.count() == 1


def form_values(html: str) -> dict[str, str]:
    """What a browser would send for the page's form as it is shown: every text box's
    value, every ticked box, every select's chosen option."""
    values = {}
    for tag in re.findall(r"<input\b[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if name is None or name[1] == "csrfmiddlewaretoken":
            continue
        if 'type="checkbox"' in tag:
            if " checked" in tag:
                values[name[1]] = "on"
            continue
        value = re.search(r'value="([^"]*)"', tag)
        values[name[1]] = unescape(value[1]) if value else ""
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', body)
        values[name] = chosen[1] if chosen else ""
    return values


@pytest.mark.parametrize(
    ("currency", "price", "shown"),
    [("EUR", 150_000, "1,500.00"), ("JPY", 150_000, "150,000"), ("KWD", 1_500_250, "1,500.250")],
)
def test_an_offer_saved_unchanged_keeps_its_price(
    maya: User, login: Login, currency: str, price: int, shown: str
) -> None:
    # The edit form showed the price in minor units ("150000"): saved as it stood, a
    # EUR 1,500.00 retainer became EUR 150,000.00 for every new subscriber.
    offer = retainer(maya, currency=currency, price=price)
    url = f"/career/offers/{offer.pk}/edit/"
    browser = login(maya)
    values = form_values(browser.get(url).content.decode())
    assert values["price"] == shown
    assert browser.post(url, values).status_code == 302
    offer.refresh_from_db()
    assert offer.price == price


def test_editing_an_offer_changes_what_may_change(maya: User, noor: User, login: Login) -> None:
    offer = retainer(maya)
    url = f"/career/offers/{offer.pk}/edit/"
    browser = login(maya)
    page = browser.get(url)
    assert page.status_code == 200 and "Units per period" in text(page)

    saved = browser.post(
        url,
        {
            "name": "Content retainer 2027",
            "price": "1600.00",
            "active": "on",
            "retainer_units": "12",
            "retainer_unit": "hours",
            "retainer_on_unused": "expire",
            "retainer_rollover_cap": "",
        },
    )
    assert saved.status_code == 302
    offer.refresh_from_db()
    assert (offer.name, offer.price, offer.active, offer.retainer_units) == (
        "Content retainer 2027",
        160_000,
        True,
        12,
    )
    assert (offer.retainer_on_unused, offer.retainer_rollover_cap, offer.interval) == (
        "expire",
        None,
        "month",
    )

    # A cap only applies when units roll over: refused on the field, nothing changed.
    refused = browser.post(
        url,
        {
            "name": "Other",
            "price": "1.00",
            "retainer_units": "12",
            "retainer_unit": "hours",
            "retainer_on_unused": "expire",
            "retainer_rollover_cap": "3",
        },
    )
    assert refused.status_code == 400
    offer.refresh_from_db()
    assert (offer.name, offer.price) == ("Content retainer 2027", 160_000)

    plain = membership(maya)
    plain_page = browser.get(f"/career/offers/{plain.pk}/edit/")
    assert plain_page.status_code == 200 and "Units per period" not in text(plain_page)
    assert (
        browser.post(f"/career/offers/{plain.pk}/edit/", {"name": "M", "price": "5.00"}).status_code
        == 302
    )
    plain.refresh_from_db()
    assert (plain.name, plain.price, plain.active) == ("M", 500, False)

    assert login(noor).get(url).status_code == 404
    assert login(noor).post(url, {"name": "Stolen", "price": "0"}).status_code == 404
    offer.refresh_from_db()
    assert offer.name == "Content retainer 2027"
