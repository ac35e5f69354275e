"""The client's contract link: signed, replaceable and revocable; the client releases
escrow (in part, rolling the rest to the next milestone) or disputes without an account;
everything else, and every bad link, changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from keel.accounts.models import User
from keel.career import client_links, reputation_services, services
from keel.career.errors import CareerError
from keel.career.models import Contract, MilestoneEvent
from keel.career.rules import reputation as tokens
from keel.ledger import services as ledger
from keel.ledger.models import Journal

from .conftest import make_contract, milestones
from .test_views import text

Login = Callable[[User | None], Client]


def funded(worker: User) -> Contract:
    """Two milestones of EUR 1,000 and EUR 2,000, both funded today."""
    contract = make_contract(worker, 100_000, 200_000)
    today = timezone.localdate()
    for m in milestones(contract):
        services.fund_milestone(m, on=today, recorded_by=worker)
    return contract


def state(contract: Contract) -> list[tuple[str, int, int, int]]:
    return [(m.state, m.reserved, m.released, m.rolled_in) for m in milestones(contract)]


def test_a_link_opens_its_contract_until_replaced_revoked_or_expired(maya: User) -> None:
    contract = make_contract(maya)
    first = client_links.issue_link(contract)
    assert client_links.open_link(first) == contract
    assert len(contract.client_link_digest) == 64 and first not in contract.client_link_digest

    second = client_links.issue_link(contract)
    assert second != first
    with pytest.raises(tokens.WrongRequest):
        client_links.open_link(first)
    assert client_links.open_link(second) == contract

    later = timezone.now() + client_links.VALIDITY + timedelta(seconds=1)
    with pytest.raises(tokens.TokenExpired):
        client_links.open_link(second, later)

    client_links.revoke_link(contract)
    with pytest.raises(tokens.WrongRequest):
        client_links.open_link(second)


def test_a_testimonial_link_cannot_open_a_contract_and_no_email_no_link(maya: User) -> None:
    contract = make_contract(maya)
    _, testimonial = reputation_services.request_testimonial(
        maya, client_name="Acme", client_email="pay@acme.example"
    )
    assert testimonial is not None
    with pytest.raises(tokens.TokenForged):
        client_links.open_link(testimonial)
    with pytest.raises(tokens.TokenForged):
        client_links.open_link(client_links.issue_link(contract)[:-3])

    silent = make_contract(maya, client_email="")
    with pytest.raises(CareerError) as caught:
        client_links.issue_link(silent)
    assert caught.value.field == "client_email"
    silent.refresh_from_db()
    assert silent.client_link_digest == "" and silent.client_link_expires_at is None


def test_the_client_releases_part_and_the_rest_rolls_to_the_next_milestone(maya: User) -> None:
    contract = funded(maya)
    token = client_links.issue_link(contract)
    client = Client()
    first = milestones(contract)[0]
    url = f"/c/{token}/milestones/{first.pk}/release/"

    page = client.get(f"/c/{token}/")
    assert page.status_code == 200
    assert "Website redesign" in text(page) and "Maya Maker's contract with you" in text(page)
    html = page.content.decode()
    assert 'data-testid="action-release"' in html and 'data-testid="action-dispute"' in html
    assert 'data-testid="action-fund"' not in html and 'data-testid="action-resolve"' not in html

    done = client.post(
        url, {"version": first.version, "amount": "600.00", "token": "c-1", "confirm": "on"}
    )
    assert done.status_code == 302
    # EUR 600 paid; the EUR 400 left rolls onto milestone 2 (EUR 2,000 + 400 reserved).
    assert state(contract) == [("released", 0, 60_000, 0), ("funded", 240_000, 0, 40_000)]
    event = MilestoneEvent.objects.filter(milestone=first, action="release").get()
    assert (event.party, event.recorded_by_id, event.amount) == ("client", None, 60_000)
    assert "You released €600.00; €400.00 moves to the next milestone." in text(
        client.get(f"/c/{token}/")
    )
    assert ledger.verify().ok

    # The browser sends the same form again: nothing more happens.
    journals = Journal.objects.count()
    again = client.post(
        url, {"version": first.version, "amount": "600.00", "token": "c-1", "confirm": "on"}
    )
    assert again.status_code in (302, 409)
    assert state(contract) == [("released", 0, 60_000, 0), ("funded", 240_000, 0, 40_000)]
    assert Journal.objects.count() == journals


def test_the_client_confirms_a_release_before_it_goes(maya: User) -> None:
    # One click on "Release to ..." paid the whole escrow, for good, with no second look.
    contract = funded(maya)
    token = client_links.issue_link(contract)
    first = milestones(contract)[0]
    client = Client()
    page = client.get(f"/c/{token}/").content.decode()
    assert page.count('name="confirm"') == 2  # one per milestone that can be released
    journals = Journal.objects.count()
    url = f"/c/{token}/milestones/{first.pk}/release/"
    unticked = client.post(url, {"version": first.version, "token": "c-0"})
    assert unticked.status_code == 400
    assert "Tick the box to confirm: a release cannot be undone." in text(unticked)
    assert state(contract) == [("funded", 100_000, 0, 0), ("funded", 200_000, 0, 0)]
    assert Journal.objects.count() == journals
    done = client.post(url, {"version": first.version, "token": "c-0", "confirm": "on"})
    assert done.status_code == 302
    assert state(contract)[0] == ("released", 0, 100_000, 0)


def test_the_client_is_told_where_the_rest_of_a_part_release_goes(maya: User) -> None:
    # The last milestone has nowhere to roll to: the rest goes back to the client, and the
    # page said it "moves to the next milestone".
    contract = funded(maya)
    token = client_links.issue_link(contract)
    client = Client()
    _, second = milestones(contract)
    page = text(client.get(f"/c/{token}/"))
    assert page.count("if you release part, the rest moves to milestone 2.") == 1
    assert page.count("if you release part, the rest comes back to you.") == 1
    assert "the rest moves to the next milestone" not in page

    url = f"/c/{token}/milestones/{second.pk}/release/"
    done = client.post(
        url, {"version": second.version, "amount": "500.00", "token": "c-2", "confirm": "on"}
    )
    assert done.status_code == 302
    assert state(contract) == [("funded", 100_000, 0, 0), ("released", 0, 50_000, 0)]
    second.refresh_from_db()
    assert second.refunded == 150_000
    page = text(client.get(f"/c/{token}/"))
    assert "You released €500.00; €1,500.00 comes back to you." in page
    # And the milestone keeps saying so after the message is gone.
    page = text(client.get(f"/c/{token}/"))
    assert "paid €500.00 · returned to you €1,500.00" in page
    # Milestone 1 now has no later milestone open to it either.
    assert "if you release part, the rest comes back to you." in page
    assert "moves to milestone 2" not in page


def test_the_worker_page_says_where_the_rest_of_a_part_release_goes(
    maya: User, login: Login
) -> None:
    contract = funded(maya)
    page = text(login(maya).get(f"/career/contracts/{contract.pk}/"))
    assert page.count("the rest of a part release moves to milestone 2.") == 1
    assert page.count("the rest of a part release goes back to the client.") == 1


def test_a_release_the_workers_books_refuse_tells_the_client_what_they_can_do(
    maya: User,
) -> None:
    # A USD contract of a worker who counts in euros, with no USD rate: the income cannot
    # be booked. The client was told to "add one on the rates page", which they cannot.
    contract = make_contract(maya, 100_000, currency="USD")
    services.fund_milestone(milestones(contract)[0], on=timezone.localdate(), recorded_by=maya)
    token = client_links.issue_link(contract)
    first = milestones(contract)[0]
    journals = Journal.objects.count()
    refused = Client().post(
        f"/c/{token}/milestones/{first.pk}/release/",
        {"version": first.version, "token": "r-1", "confirm": "on"},
    )
    assert refused.status_code == 400
    page = text(refused)
    assert (
        "Milestone 1 was not changed: Maya Maker's books cannot record a payment in USD today."
        " Please tell Maya Maker, and release it again once they have put it right." in page
    )
    assert "rates page" not in page and "exchange rate" not in page
    assert state(contract)[0] == ("funded", 100_000, 0, 0)
    assert Journal.objects.count() == journals


def test_the_client_disputes_and_the_escrow_stays(maya: User) -> None:
    contract = funded(maya)
    token = client_links.issue_link(contract)
    second = milestones(contract)[1]
    done = Client().post(
        f"/c/{token}/milestones/{second.pk}/dispute/",
        {"version": second.version, "reason": "The copy is not what we agreed", "token": "d-1"},
    )
    assert done.status_code == 302
    second.refresh_from_db()
    assert (second.state, second.reserved, second.dispute_reason) == (
        "disputed",
        200_000,
        "The copy is not what we agreed",
    )
    history = text(Client().get(f"/c/{token}/"))
    assert "You disputed it: The copy is not what we agreed" in history


def test_bad_links_and_actions_the_client_may_not_take_change_nothing(
    maya: User, noor: User
) -> None:
    contract = funded(maya)
    token = client_links.issue_link(contract)
    first = milestones(contract)[0]
    other = milestones(make_contract(noor))[0]
    before = state(contract)
    journals = Journal.objects.count()
    client = Client()
    release = {"version": first.version, "token": "x"}

    forged = client.post(f"/c/{token[:-2]}xx/milestones/{first.pk}/release/", release)
    assert forged.status_code == 400 and "not a valid contract link" in text(forged)
    assert client.get(f"/c/{token}/milestones/{first.pk}/release/").status_code == 405
    assert client.post(f"/c/{token}/milestones/{first.pk}/resolve/", release).status_code == 404
    assert client.post(f"/c/{token}/milestones/{first.pk}/fund/", release).status_code == 404
    assert client.post(f"/c/{token}/milestones/{other.pk}/release/", release).status_code == 404
    stale = client.post(
        f"/c/{token}/milestones/{first.pk}/release/",
        {"version": first.version + 1, "confirm": "on"},
    )
    assert stale.status_code == 409
    too_much = client.post(
        f"/c/{token}/milestones/{first.pk}/release/",
        {"version": first.version, "amount": "1000.01", "confirm": "on"},
    )
    assert too_much.status_code == 400

    client_links.revoke_link(contract)
    gone = client.post(f"/c/{token}/milestones/{first.pk}/release/", release)
    assert gone.status_code == 400 and "replaced or withdrawn" in text(gone)
    assert state(contract) == before and Journal.objects.count() == journals


def test_the_worker_makes_and_withdraws_the_link(maya: User, noor: User, login: Login) -> None:
    contract = make_contract(maya)
    browser = login(maya)
    made = browser.post(f"/career/contracts/{contract.pk}/client-link/", follow=True)
    assert made.status_code == 200
    shown = text(made)
    assert "Send this link to pay@acme.example" in shown and "A link is live until" in shown
    token = shown.split("/c/", 1)[1].split("/", 1)[0]
    assert client_links.open_link(token) == contract

    assert login(noor).post(f"/career/contracts/{contract.pk}/client-link/").status_code == 404
    revoke = f"/career/contracts/{contract.pk}/client-link/revoke/"
    assert login(noor).post(revoke).status_code == 404
    assert client_links.open_link(token) == contract

    assert browser.post(revoke).status_code == 302
    assert Client().get(f"/c/{token}/").status_code == 400
