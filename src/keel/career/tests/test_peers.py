"""Peer groups and the referral board: a group is a 404 to anyone who is not an active
member; members see each other's public profiles (never a private one) and public pools;
a referral fee is one balanced journal with four exact legs in both workers' ledgers,
posted once however often it is paid, and refused with nothing changed before the gig is
accepted or by anyone but the payer."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from keel.accounts.models import User
from keel.career import peer_services as services
from keel.career import reputation_services
from keel.career.errors import CareerError, Conflict
from keel.career.models import PeerGroup, PeerStatus, Referral, ReferralStatus
from keel.ledger import services as ledger
from keel.ledger.models import Account, Journal, Leg
from keel.pools import services as pools
from keel.pools.rules.pool_rules import broodfonds_default, rules_to_json

from .conftest import person
from .test_views import text

Login = Callable[[User | None], Client]


@pytest.fixture
def group(maya: User, noor: User) -> PeerGroup:
    """Maya's group with Noor as an active member."""
    made = services.start_group(maya, name="Writers' circle")
    invited = services.invite(made, maya, "noor@example.org")
    assert services.respond(noor, invited.pk, accept=True) is not None
    return made


def referral(group: PeerGroup, by: User, to: User, **changes: object) -> Referral:
    fields: dict[str, object] = {
        "title": "Brochure copy",
        "client_name": "Acme",
        "fee_amount": 5_000,
        "fee_currency": "EUR",
    }
    fields.update(changes)
    return services.offer_referral(group, by, to_worker_id=to.pk, **fields)  # type: ignore[arg-type]


def legs_of(journal_id: int) -> set[tuple[str, int, str]]:
    return {
        (leg.account.code, leg.amount, leg.currency)
        for leg in Leg.objects.filter(journal_id=journal_id).select_related("account")
    }


def test_the_fee_is_one_journal_in_both_ledgers_posted_once(
    group: PeerGroup, maya: User, noor: User
) -> None:
    # Maya passes the gig to Noor; Noor (who got it) pays Maya the EUR 50.00 fee.
    gig = referral(group, maya, noor)
    services.move_referral(gig, noor, "accept")
    before = Journal.objects.count()
    paid = services.pay_fee(gig, noor)
    assert Journal.objects.count() == before + 1
    journal = Journal.objects.get(pk=paid.fee_journal_id)
    assert journal.idempotency_key == f"career:referral:{gig.pk}:fee"
    assert journal.kind == "referral_fee"
    n, m = noor.pk, maya.pk
    assert legs_of(journal.pk) == {
        (f"worker:{n}:expenses:referral-fees", 5_000, "EUR"),
        (f"worker:{n}:cash", -5_000, "EUR"),
        (f"worker:{m}:cash", 5_000, "EUR"),
        (f"worker:{m}:income:referral-fees", -5_000, "EUR"),
    }
    assert sum(a for _, a, _ in legs_of(journal.pk)) == 0
    assert ledger.balance(f"worker:{m}:income:referral-fees").posted == 5_000
    assert ledger.balance(f"worker:{n}:expenses:referral-fees").posted == 5_000
    owners = set(
        Account.objects.filter(code__contains="referral-fees").values_list("code", "owner_id")
    )
    assert owners == {
        (f"worker:{n}:expenses:referral-fees", n),
        (f"worker:{m}:income:referral-fees", m),
    }

    # Paying again (after done, or a second click) posts nothing more.
    services.move_referral(gig, maya, "done")
    again = services.pay_fee(gig, noor)
    assert again.fee_journal_id == journal.pk
    assert Journal.objects.count() == before + 1
    assert ledger.balance(f"worker:{m}:income:referral-fees").posted == 5_000


def test_a_fee_in_another_currency_uses_suffixed_accounts(
    group: PeerGroup, maya: User, noor: User
) -> None:
    gig = referral(group, maya, noor, fee_amount=12_345, fee_currency="USD")
    services.move_referral(gig, noor, "accept")
    paid = services.pay_fee(gig, noor)
    n, m = noor.pk, maya.pk
    assert legs_of(paid.fee_journal_id) == {  # type: ignore[arg-type]
        (f"worker:{n}:expenses:referral-fees:usd", 12_345, "USD"),
        (f"worker:{n}:cash:usd", -12_345, "USD"),
        (f"worker:{m}:cash:usd", 12_345, "USD"),
        (f"worker:{m}:income:referral-fees:usd", -12_345, "USD"),
    }


def test_a_fee_is_refused_with_nothing_changed_unless_accepted_or_done(
    group: PeerGroup, maya: User, noor: User
) -> None:
    accounts, journals = Account.objects.count(), Journal.objects.count()
    gig = referral(group, maya, noor)
    with pytest.raises(Conflict):  # still only offered
        services.pay_fee(gig, noor)
    declined = referral(group, maya, noor, title="Other gig")
    services.move_referral(declined, noor, "decline")
    with pytest.raises(Conflict):
        services.pay_fee(declined, noor)
    # Accepted, but the referrer cannot record the payer's payment.
    services.move_referral(gig, noor, "accept")
    with pytest.raises(CareerError):
        services.pay_fee(gig, maya)
    no_fee = referral(group, maya, noor, title="Free", fee_amount=None)
    services.move_referral(no_fee, noor, "accept")
    with pytest.raises(CareerError):
        services.pay_fee(no_fee, noor)
    assert (Account.objects.count(), Journal.objects.count()) == (accounts, journals)
    gig.refresh_from_db()
    assert gig.fee_journal_id is None and gig.fee_paid_on is None
    assert gig.status == ReferralStatus.ACCEPTED


def test_a_fee_beyond_what_the_ledger_carries_is_refused_when_offered(
    group: PeerGroup, maya: User, noor: User
) -> None:
    # It used to be stored, and paying it was a 500 (or a 500 at once past 2**63).
    for amount in (10**15 + 1, 2**63):
        with pytest.raises(CareerError) as refused:
            referral(group, maya, noor, fee_amount=amount)
        assert refused.value.field == "fee_amount"
    assert not Referral.objects.exists()
    # The most it carries is still a fee.
    assert referral(group, maya, noor, fee_amount=10**15).fee_amount == 10**15


def test_referral_steps_belong_to_their_parties(group: PeerGroup, maya: User, noor: User) -> None:
    gig = referral(group, maya, noor)
    with pytest.raises(CareerError):
        services.move_referral(gig, maya, "accept")  # only Noor takes it
    with pytest.raises(Conflict):
        services.move_referral(gig, noor, "done")  # not accepted yet
    with pytest.raises(CareerError):
        referral(group, maya, maya)
    outsider = person("olu@example.org", "Olu Outside")
    with pytest.raises(CareerError):
        referral(group, maya, outsider)
    with pytest.raises(CareerError):
        services.offer_referral(group, outsider, to_worker_id=maya.pk, title="x")


def test_a_non_member_gets_404_on_everything_of_a_group(
    group: PeerGroup, maya: User, noor: User, login: Login
) -> None:
    gig = referral(group, maya, noor)
    olu = person("olu@example.org", "Olu Outside")
    outsider = login(olu)
    base = f"/career/peers/{group.pk}/"
    assert outsider.get(base).status_code == 404
    for url, data in (
        (f"{base}invite/", {"email": "olu@example.org"}),
        (f"{base}referrals/", {"title": "x", "to_worker": maya.pk}),
        (f"{base}referrals/{gig.pk}/accept/", {}),
        (f"{base}referrals/{gig.pk}/pay/", {}),
        (f"{base}leave/", {}),
    ):
        assert outsider.post(url, data).status_code == 404, url
    assert "Writers" not in text(outsider.get("/career/peers/"))
    # Invited but not joined: still a 404 until the invitation is accepted.
    invitation = services.invite(group, maya, "olu@example.org")
    assert outsider.get(base).status_code == 404
    assert "Writers' circle" in text(outsider.get("/career/peers/"))
    assert outsider.post(f"/career/peers/invitations/{invitation.pk}/accept/").status_code == 302
    assert outsider.get(base).status_code == 200
    # Someone else's invitation is not theirs to answer.
    assert (
        login(noor).post(f"/career/peers/invitations/{invitation.pk}/decline/").status_code == 404
    )


def test_members_see_public_profiles_and_open_pools_not_private_ones(
    group: PeerGroup, maya: User, noor: User, login: Login
) -> None:
    reputation_services.save_profile(maya, handle="maya-makes", public=True)
    reputation_services.save_profile(noor, handle="noor-hidden", public=False)
    rules = rules_to_json(broodfonds_default("EUR"))
    rules.update({"min_members": 2, "approvals_required": 1, "waiting_months": 0})
    pools.create_pool(maya, name="Open Fund", rules={**rules, "public": True}, tier_gift=150_000)
    pools.create_pool(maya, name="Closed Fund", rules=rules, tier_gift=150_000)

    page = login(noor).get(f"/career/peers/{group.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'href="/p/maya-makes/"' in html and "Open Fund" in html
    assert "noor-hidden" not in html and "Closed Fund" not in html
    # Maya sees Noor in the group but no link to her private profile, which stays a 404.
    mine = login(maya)
    html = mine.get(f"/career/peers/{group.pk}/").content.decode()
    assert "Noor Other" in html and "noor-hidden" not in html
    assert mine.get("/p/noor-hidden/").status_code == 404


def test_the_pages_start_invite_offer_accept_and_pay(maya: User, noor: User, login: Login) -> None:
    mine, hers = login(maya), login(noor)
    started = mine.post("/career/peers/", {"token": "g-1", "name": "Designers"})
    assert started.status_code == 302
    group = PeerGroup.objects.get()
    assert started["Location"] == f"/career/peers/{group.pk}/"
    assert mine.post("/career/peers/", {"token": "g-1", "name": "Designers"}).status_code == 302
    assert PeerGroup.objects.count() == 1
    # An address without a Keel worker is answered exactly as a worker's (below).
    unknown = mine.post(
        f"/career/peers/{group.pk}/invite/", {"email": "nobody@example.org"}, follow=True
    )
    assert "We have emailed an invitation to nobody@example.org." in text(unknown)
    known = mine.post(f"/career/peers/{group.pk}/invite/", {"email": "noor@example.org"})
    assert known.status_code == 302
    assert "We have emailed an invitation to noor@example.org." in text(mine.get(known["Location"]))
    membership = group.memberships.get(worker=noor)
    assert membership.status == PeerStatus.INVITED
    hers.post(f"/career/peers/invitations/{membership.pk}/accept/")
    offered = mine.post(
        f"/career/peers/{group.pk}/referrals/",
        {
            "token": "r-1",
            "to_worker": noor.pk,
            "title": "Logo refresh",
            "fee_amount": "75.00",
            "fee_currency": "EUR",
        },
    )
    assert offered.status_code == 302
    gig = Referral.objects.get()
    assert (gig.fee_amount, gig.fee_currency, gig.status) == (7_500, "EUR", "offered")
    early = hers.post(f"/career/peers/{group.pk}/referrals/{gig.pk}/pay/")
    assert early.status_code == 409 and "Nothing changed" in text(early)
    assert hers.post(f"/career/peers/{group.pk}/referrals/{gig.pk}/accept/").status_code == 302
    page = text(hers.get(f"/career/peers/{group.pk}/"))
    assert "Pay the fee" in page and "€75.00" in page
    assert hers.post(f"/career/peers/{group.pk}/referrals/{gig.pk}/pay/").status_code == 302
    assert hers.post(f"/career/peers/{group.pk}/referrals/{gig.pk}/pay/").status_code == 302
    gig.refresh_from_db()
    assert gig.fee_journal_id is not None
    assert Journal.objects.filter(idempotency_key=f"career:referral:{gig.pk}:fee").count() == 1
    assert "paid" in text(mine.get(f"/career/peers/{group.pk}/"))
