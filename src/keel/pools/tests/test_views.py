"""The pool pages through Django's test client, with state built by the real pools services:
every page renders for a member; a private pool and everything under it is a 404 to anyone
outside it; outsiders to a public pool see pseudonyms, never names or emails; every action
works for the right person and is refused, with nothing changed, for the wrong one."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape

from django.test import Client
from django.utils import timezone

from keel.accounts.models import User
from keel.ledger.models import Journal
from keel.pools import services
from keel.pools.models import (
    Ballot,
    Claim,
    ClaimDecision,
    ClaimReminder,
    ClaimStatus,
    Deposit,
    GiftRun,
    MemberStatus,
    Pool,
    Refund,
    Round,
    Vote,
    VoteStatus,
)
from keel.pools.rules.gifts import add_months, month_name
from keel.pools.rules.pool_rules import rules_to_json

from .conftest import EUR_1000, EUR_1500, person, small_fund_rules, this_month

NAMES = ("Ana Steward", "Ben Baker", "Cy Carpenter")
EMAILS = ("ana@example.org", "ben@example.org", "cy@example.org")


def text(response) -> str:
    """The page's text with its whitespace collapsed, as a reader sees it."""
    return " ".join(unescape(response.content.decode()).split())


def month_value() -> str:
    m = this_month()
    return f"{m.year:04d}-{m.month:02d}"


def claim_of(pool: Pool, user: User) -> Claim:
    return services.report_own_claim(pool, user, start_date=this_month())


def assert_no_names(body: str) -> None:
    for name in NAMES:
        assert name not in body
    for email in EMAILS:
        assert email not in body


# ---------------------------------------------------------------------------- pages


def test_list_shows_my_pools_public_pools_and_start_button(login, fund, public_fund, dee):
    body = text(login(dee).get("/pools/"))
    assert "Start a pool" in body
    assert "Open Fund" in body  # public
    assert "Bakers Fund" not in body  # private, not Dee's
    mine = text(login(fund.created_by).get("/pools/"))
    assert "Bakers Fund" in mine and "Steward" in mine


def test_list_needs_login(db):
    response = Client().get("/pools/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_pool_page_renders_for_a_member_with_names_rules_ledger_and_charts(login, fund, ben):
    response = login(ben).get(f"/pools/{fund.slug}/")
    assert response.status_code == 200
    body = text(response)
    for name in NAMES:
        assert name in body
    assert "This is a sick-leave fund in EUR." in body
    assert "€15.00" in body or "€45.00" in body  # deposits in the ledger
    assert body.count('data-testid="ledger-entry"') == 3
    figure = json.loads(
        re.search(
            r'<script id="fig-pool-reserves" type="application/json">(.*?)</script>', body, re.S
        )[1]
    )
    assert figure["data"][0]["x"] == [f"{n} (Member {i})" for i, n in enumerate(NAMES, 1)]
    assert [float(y) for y in figure["data"][0]["y"]] == [67.5, 45.0, 90.0]
    assert "vendor/plotly/plotly.min.js" in body
    assert f"/pools/simulate/?pool={fund.slug}" in body


def test_every_page_renders_for_a_member(login, fund, ana, ben):
    claim = claim_of(fund, ben)
    vote = services.propose_rule_change(fund, ana, {"waiting_months": 1})
    client = login(ana)
    for path in (
        f"/pools/{fund.slug}/",
        f"/pools/{fund.slug}/ledger/",
        f"/pools/{fund.slug}/claims/{claim.pk}/",
        f"/pools/{fund.slug}/votes/{vote.pk}/",
        f"/pools/{fund.slug}/rules/",
        f"/pools/{fund.slug}/leave/",
        "/pools/new/",
        "/pools/simulate/",
        f"/pools/simulate/?pool={fund.slug}",
    ):
        assert client.get(path).status_code == 200, path


def test_a_private_pool_is_not_found_for_anyone_outside_it(login, fund, ben, dee, other_fund):
    claim = claim_of(fund, ben)
    vote = services.propose_rule_change(fund, ben, {"waiting_months": 1})
    for client in (login(dee), Client()):
        for path in (
            f"/pools/{fund.slug}/",
            f"/pools/{fund.slug}/ledger/",
            f"/pools/{fund.slug}/claims/{claim.pk}/",
            f"/pools/{fund.slug}/votes/{vote.pk}/",
        ):
            assert client.get(path).status_code == 404, path
    dee_client = login(dee)
    for path in (
        f"/pools/{fund.slug}/rules/",
        f"/pools/{fund.slug}/leave/",
    ):
        assert dee_client.get(path).status_code == 404, path
    for path, data in (
        (f"/pools/{fund.slug}/join/", {"join-tier_gift": EUR_1500}),
        (f"/pools/{fund.slug}/deposits/", {"deposit-month": month_value()}),
        (f"/pools/{fund.slug}/claims/{claim.pk}/decide/", {"decision": "approve"}),
        (f"/pools/{fund.slug}/votes/{vote.pk}/ballot/", {"choice": "yes"}),
        (f"/pools/{fund.slug}/gifts/", {"run-month": month_value()}),
    ):
        assert dee_client.post(path, data).status_code == 404, path
    # Dee's own pool does not open the claim or vote of another pool at its address.
    assert dee_client.get(f"/pools/{other_fund.slug}/claims/{claim.pk}/").status_code == 404
    assert dee_client.get(f"/pools/{other_fund.slug}/votes/{vote.pk}/").status_code == 404
    assert not fund.memberships.filter(user=dee).exists()
    assert claim.decisions.count() == 0 and vote.ballots.count() == 0


def test_an_outsider_to_a_public_pool_sees_pseudonyms_only(login, public_fund, ana, ben, dee):
    claim = claim_of(public_fund, ben)
    services.decide_claim(claim, ana, "approve")
    services.steward_run_month(public_fund, ana, this_month())
    vote = services.propose_rule_change(public_fund, ana, {"waiting_months": 1})
    for client in (login(dee), Client()):
        for path in (
            f"/pools/{public_fund.slug}/",
            f"/pools/{public_fund.slug}/ledger/",
            f"/pools/{public_fund.slug}/claims/{claim.pk}/",
            f"/pools/{public_fund.slug}/votes/{vote.pk}/",
        ):
            response = client.get(path)
            assert response.status_code == 200, path
            body = text(response)
            assert_no_names(body)
        body = text(client.get(f"/pools/{public_fund.slug}/"))
        assert "Member 1" in body and "Member 2" in body
    member_view = text(login(ben).get(f"/pools/{public_fund.slug}/"))
    assert "Ana Steward (Member 1)" in member_view


def test_an_admission_vote_names_the_applicant_only_to_members(login, ana, ben, dee):
    pool = services.create_pool(
        ana,
        name="Voting Fund",
        rules=small_fund_rules(public=True, admission_by_vote=True),
        tier_gift=EUR_1500,
    )
    services.apply(pool, ben, tier_gift=EUR_1000)  # Ana alone admits Ben
    services.cast_ballot(Vote.objects.get(pool=pool), ana, "yes")
    cy = person("cy@example.org", "Cy Carpenter")
    services.apply(pool, cy, tier_gift=EUR_1000)
    vote = Vote.objects.filter(pool=pool, status=VoteStatus.OPEN).get()
    outsider = text(login(dee).get(f"/pools/{pool.slug}/votes/{vote.pk}/"))
    assert "Admit Member 3" in outsider
    assert "Cy Carpenter" not in outsider and "cy@example.org" not in outsider
    member = text(login(ben).get(f"/pools/{pool.slug}/votes/{vote.pk}/"))
    assert "Admit Cy Carpenter (Member 3)" in member


# ---------------------------------------------------------------------------- a new pool


def test_new_pool_page_offers_the_broodfonds_template(login, ana):
    body = text(login(ana).get("/pools/new/?kind=sick_leave&currency=EUR"))
    assert "750.00; 1,000.00; 1,250.00; 1,500.00" in body
    assert 'value="4.5"' in body  # deposit %
    assert 'value="36"' in body  # reserve cap
    assert 'value="1,500.00"' in body  # the steward's tier


def new_pool_data(**changes: str) -> dict[str, str]:
    data = {
        "kind": "sick_leave",
        "currency": "EUR",
        "name": "Carpenters",
        "description": "Carpenters in Utrecht",
        "tier_gift": "1,500.00",
        "tiers": "750.00; 1,000.00; 1,500.00; 2,000.00",
        "deposit_rate": "4.5",
        "reserve_cap_deposits": "36",
        "waiting_months": "1",
        "max_gift_months": "24",
        "approvals_required": "2",
        "grace_months": "1",
        "entry_fee": "",
        "min_members": "3",
        "max_members": "50",
        "quorum": "50",
        "majority": "50.01",
        "admission_by_vote": "on",
    }
    data.update(changes)
    return data


def test_start_a_pool_with_edited_rules(login, ana):
    response = login(ana).post("/pools/new/", new_pool_data())
    pool = Pool.objects.get(name="Carpenters")
    assert response.status_code == 302 and response["Location"] == f"/pools/{pool.slug}/"
    rules = rules_to_json(services.current_rules(pool))
    assert rules["tiers"] == [75_000, 100_000, 150_000, 200_000]
    assert (rules["min_members"], rules["approvals_required"]) == (3, 2)
    assert rules["deposit_rate_bps"] == 450 and rules["majority_bps"] == 5001
    assert rules["public"] is False and rules["admission_by_vote"] is True
    steward = pool.memberships.get()
    assert (steward.user, steward.role, steward.tier_gift) == (ana, "steward", EUR_1500)


def test_a_sent_again_create_form_starts_no_second_pool(login, ana):
    client = login(ana)
    data = new_pool_data(token="a-token-of-the-rendered-form")
    client.post("/pools/new/", data)
    again = client.post("/pools/new/", data)
    assert again.status_code == 302 and again["Location"] == "/pools/"
    assert Pool.objects.filter(name="Carpenters").count() == 1


def test_rule_errors_come_back_next_to_their_input(login, ana):
    response = login(ana).post(
        "/pools/new/",
        new_pool_data(tiers="1,000.00; 750.00", approvals_required="3", tier_gift="1,234.00"),
    )
    assert response.status_code == 400
    body = text(response)
    errors = dict(re.findall(r'id="id_(\w+)-errors">\s*<div>(.*?)</div>', body, re.S))
    assert "Tier 2 must be greater than tier 1" in errors["tiers"]
    assert "fewest members" in errors["approvals_required"]
    assert not Pool.objects.exists()


def test_a_tier_outside_the_tiers_is_refused_on_its_field(login, ana):
    response = login(ana).post(
        "/pools/new/", new_pool_data(tier_gift="1,234.00", token="token-of-the-refused-form")
    )
    assert response.status_code == 400
    errors = dict(re.findall(r'id="id_(\w+)-errors">\s*<div>(.*?)</div>', text(response), re.S))
    assert errors["tier_gift"].startswith("The gift must be one of the pool")
    assert not Pool.objects.exists()
    # The refused form's token was given back, so the corrected form, which carries it
    # again, is not taken for a repeat.
    token = re.search(r'name="token" value="([^"]+)"', text(response))[1]
    assert token == "token-of-the-refused-form"
    fixed = login(ana).post("/pools/new/", new_pool_data(tier_gift="1,500.00", token=token))
    assert fixed.status_code == 302 and Pool.objects.count() == 1


def test_bad_amount_text_is_refused_by_the_form(login, ana):
    response = login(ana).post("/pools/new/", new_pool_data(tiers="750; lots"))
    assert response.status_code == 400
    assert "“lots” is not an amount in EUR" in text(response)


def test_a_tier_too_large_for_the_books_is_refused_by_the_form(login, ana):
    huge = "99,999,999,999,999,999"  # 10**19 cents: more than a 64-bit integer holds
    response = login(ana).post("/pools/new/", new_pool_data(tiers=f"750; {huge}", tier_gift=huge))
    assert response.status_code == 400
    assert "must be at most 1,000,000,000,000,000" in text(response)
    assert not Pool.objects.filter(name="Carpenters").exists()


def test_a_percentage_out_of_range_is_refused_in_percent(login, ana):
    # The rules count in basis points; the person typed percent and reads percent.
    for field, typed in (("quorum", "0"), ("deposit_rate", "150")):
        response = login(ana).post("/pools/new/", new_pool_data(**{field: typed}))
        assert response.status_code == 400
        body = text(response)
        assert "Enter a percentage from 0.01% to 100%." in body
        assert "10000" not in body
    assert not Pool.objects.exists()


def test_a_majority_below_half_is_refused(login, ana):
    # With 49% a proposal voted 49 yes against 51 no would pass: a minority decides.
    for typed in ("49", "100.01"):
        response = login(ana).post("/pools/new/", new_pool_data(majority=typed))
        assert response.status_code == 400
        assert "Enter a percentage from 50% to 100%." in text(response)
    assert not Pool.objects.exists()
    assert login(ana).post("/pools/new/", new_pool_data(majority="50")).status_code == 302


def test_other_kinds_of_pool_get_their_own_rule_fields(login, ana):
    client = login(ana)
    body = text(client.get("/pools/new/?kind=emergency&currency=USD"))
    assert 'name="grant_limit_per_year"' in body and 'value="1,000.00"' in body
    response = client.post(
        "/pools/new/",
        {
            "kind": "emergency",
            "currency": "USD",
            "name": "Rainy Day",
            "contribution": "25.00",
            "grant_limit_per_year": "1,000.00",
            "vote_above": "500.00",
            "approvals_required": "2",
            "grace_months": "1",
            "min_members": "3",
            "max_members": "50",
            "quorum": "50",
            "majority": "50.01",
        },
    )
    assert response.status_code == 302
    pool = Pool.objects.get(name="Rainy Day")
    assert (pool.kind, pool.currency) == ("emergency", "USD")
    assert rules_to_json(services.current_rules(pool))["contribution"] == 2_500


# ---------------------------------------------------------------------------- membership


def test_join_a_public_pool(login, public_fund, dee):
    response = login(dee).post(f"/pools/{public_fund.slug}/join/", {"join-tier_gift": EUR_1000})
    assert response.status_code == 302
    m = public_fund.memberships.get(user=dee)
    assert (m.status, m.tier_gift) == (MemberStatus.ACTIVE, EUR_1000)


def test_a_member_who_left_is_offered_to_join_again(login, public_fund, dee):
    services.apply(public_fund, dee, tier_gift=EUR_1000)
    services.leave(public_fund.memberships.get(user=dee))
    page = login(dee).get(f"/pools/{public_fund.slug}/")
    assert "You left this pool on" in text(page) and "Apply to join" in text(page)
    response = login(dee).post(f"/pools/{public_fund.slug}/join/", {"join-tier_gift": EUR_1000})
    assert response.status_code == 302
    assert public_fund.memberships.get(user=dee).status == MemberStatus.ACTIVE


def test_a_tier_that_is_no_tier_is_refused_on_joining(login, public_fund, dee):
    response = login(dee).post(f"/pools/{public_fund.slug}/join/", {"join-tier_gift": 123})
    assert response.status_code == 400
    assert not public_fund.memberships.filter(user=dee).exists()


def test_invite_and_accept(login, fund, ana, dee):
    response = login(ana).post(f"/pools/{fund.slug}/invite/", {"invite-email": dee.email})
    assert response.status_code == 302
    assert fund.memberships.get(user=dee).status == MemberStatus.INVITED
    # The invitation opens the private pool's page to Dee.
    page = text(login(dee).get(f"/pools/{fund.slug}/"))
    assert "You are invited to join" in page
    accepted = login(dee).post(f"/pools/{fund.slug}/accept/", {"accept-tier_gift": EUR_1000})
    assert accepted.status_code == 302
    assert fund.memberships.get(user=dee).status == MemberStatus.ACTIVE


def test_accepting_without_an_invitation_changes_nothing(login, public_fund, dee):
    response = login(dee).post(f"/pools/{public_fund.slug}/accept/", {"accept-tier_gift": EUR_1000})
    assert response.status_code == 409
    assert not public_fund.memberships.filter(user=dee).exists()


def test_leave_shows_the_reserve_and_pays_it_out(login, fund, ben):
    client = login(ben)
    confirm = text(client.get(f"/pools/{fund.slug}/leave/"))
    assert "€45.00" in confirm  # Ben's one deposit: 4.5% of EUR 1,000
    response = client.post(f"/pools/{fund.slug}/leave/")
    assert response.status_code == 302
    m = fund.memberships.get(user=ben)
    assert m.status == MemberStatus.LEFT
    assert services.reserves(fund)[m.number] == 0


def test_an_outsider_cannot_leave_a_public_pool(login, public_fund, dee):
    response = login(dee).post(f"/pools/{public_fund.slug}/leave/")
    assert response.status_code == 403
    assert public_fund.memberships.filter(status=MemberStatus.ACTIVE).count() == 2


# ---------------------------------------------------------------------------- deposits


def test_pay_a_deposit(login, public_fund, dee):
    services.apply(public_fund, dee, tier_gift=EUR_1000)
    response = login(dee).post(
        f"/pools/{public_fund.slug}/deposits/", {"deposit-month": month_value()}
    )
    assert response.status_code == 302
    number = public_fund.memberships.get(user=dee).number
    assert services.reserves(public_fund)[number] == 4_500
    journals = Journal.objects.count()
    again = login(dee).post(
        f"/pools/{public_fund.slug}/deposits/", {"deposit-month": month_value()}
    )
    assert again.status_code == 302
    assert Journal.objects.count() == journals


def test_unpaid_deposits_show_as_due_or_missed(login, fund, ben):
    from datetime import date

    m = this_month()
    past = date(m.year - 1, m.month, 1)
    Deposit.objects.create(membership=fund.memberships.get(user=ben), month=past, amount=4_500)
    body = text(login(ben).get(f"/pools/{fund.slug}/"))
    table = body[body.index('data-testid="unpaid-deposits"') :]
    assert "Ben Baker (Member 2)" in table and "missed" in table


def test_a_bad_month_is_refused_by_the_form(login, fund, ben):
    journals = Journal.objects.count()
    response = login(ben).post(f"/pools/{fund.slug}/deposits/", {"deposit-month": "March"})
    assert response.status_code == 400
    assert "Enter a month as YYYY-MM" in text(response)
    assert Journal.objects.count() == journals


def test_an_outsider_cannot_pay_into_a_public_pool(login, public_fund, dee):
    journals = Journal.objects.count()
    response = login(dee).post(
        f"/pools/{public_fund.slug}/deposits/", {"deposit-month": month_value()}
    )
    assert response.status_code == 403
    assert "only members of the pool" in text(response).lower()
    assert Journal.objects.count() == journals


# ---------------------------------------------------------------------------- claims


def test_report_approve_and_the_steward_gives_the_gift(login, fund, ana, ben, cy):
    reported = login(ben).post(
        f"/pools/{fund.slug}/claims/", {"claim-start_date": this_month().isoformat()}
    )
    claim = Claim.objects.get(membership__user=ben)
    assert reported.status_code == 302
    assert reported["Location"] == f"/pools/{fund.slug}/claims/{claim.pk}/"
    page = text(login(cy).get(f"/pools/{fund.slug}/claims/{claim.pk}/"))
    assert "0 of 1 approval needed" in page and "Approve" in page

    approved = login(cy).post(
        f"/pools/{fund.slug}/claims/{claim.pk}/decide/", {"decision": "approve"}
    )
    assert approved.status_code == 302
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.APPROVED

    run = login(ana).post(f"/pools/{fund.slug}/gifts/", {"run-month": month_value()})
    assert run.status_code == 302
    gift_run = GiftRun.objects.get(pool=fund)
    # Ana and Cy hold EUR 67.50 and EUR 90.00 against Ben's EUR 1,000 gift: cut to 15%.
    assert gift_run.cut_percent == 15
    body = text(login(ben).get(f"/pools/{fund.slug}/"))
    assert 'data-kind="pool.gift"' in body
    assert "Gifts were cut in" in body and "cut alike to 15%" in body
    claim_page = text(login(ben).get(f"/pools/{fund.slug}/claims/{claim.pk}/"))
    assert "€150.00" in claim_page  # received: EUR 1,000 cut to 15%
    # Running the month again gives nothing twice.
    again = login(ana).post(f"/pools/{fund.slug}/gifts/", {"run-month": month_value()})
    assert again.status_code == 302
    assert GiftRun.objects.filter(pool=fund).count() == 1


def test_the_claimant_gets_no_buttons_and_cannot_approve(login, fund, ben):
    claim = claim_of(fund, ben)
    page = text(login(ben).get(f"/pools/{fund.slug}/claims/{claim.pk}/"))
    assert "This is your claim" in page
    assert 'data-testid="decide"' not in page
    response = login(ben).post(
        f"/pools/{fund.slug}/claims/{claim.pk}/decide/", {"decision": "approve"}
    )
    assert response.status_code == 403
    assert "cannot approve or reject your own claim" in text(response)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PENDING
    assert not ClaimDecision.objects.exists()


def test_a_non_steward_cannot_run_the_gifts_or_refunds(login, fund, ben, cy, ana):
    claim = claim_of(fund, ben)
    services.decide_claim(claim, cy, "approve")
    journals = Journal.objects.count()
    response = login(cy).post(f"/pools/{fund.slug}/gifts/", {"run-month": month_value()})
    assert response.status_code == 403
    assert "Only a steward of the pool can do this." in text(response)
    assert not GiftRun.objects.exists()
    refused = login(cy).post(f"/pools/{fund.slug}/refunds/", {"refund-year": "2025"})
    assert refused.status_code == 403
    assert not Refund.objects.exists()
    assert Journal.objects.count() == journals
    # The steward's page has the buttons; a member's has not.
    assert 'data-testid="steward-gifts"' in text(login(ana).get(f"/pools/{fund.slug}/"))
    assert 'data-testid="steward-gifts"' not in text(login(cy).get(f"/pools/{fund.slug}/"))


def test_the_steward_refunds_nothing_below_the_cap(login, fund, ana):
    response = login(ana).post(f"/pools/{fund.slug}/refunds/", {"refund-year": "2025"})
    assert response.status_code == 302
    assert not Refund.objects.exists()


def test_a_rejection_needs_a_reason(login, fund, ben, cy):
    claim = claim_of(fund, ben)
    response = login(cy).post(
        f"/pools/{fund.slug}/claims/{claim.pk}/decide/", {"decision": "reject", "reason": ""}
    )
    assert response.status_code == 400
    assert "A rejection needs a reason." in text(response)
    assert not ClaimDecision.objects.exists()
    rejected = login(cy).post(
        f"/pools/{fund.slug}/claims/{claim.pk}/decide/",
        {"decision": "reject", "reason": "Ben was at work all week"},
    )
    assert rejected.status_code == 302
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REJECTED
    page = text(login(ana_of(fund)).get(f"/pools/{fund.slug}/claims/{claim.pk}/"))
    assert "Ben was at work all week" in page


def ana_of(pool: Pool) -> User:
    return pool.created_by


def test_deciding_twice_is_a_conflict(login, fund, ben, cy):
    claim = claim_of(fund, ben)
    login(cy).post(f"/pools/{fund.slug}/claims/{claim.pk}/decide/", {"decision": "approve"})
    again = login(cy).post(f"/pools/{fund.slug}/claims/{claim.pk}/decide/", {"decision": "approve"})
    assert again.status_code == 409
    assert ClaimDecision.objects.count() == 1


def test_remind_and_report_recovery(login, fund, ana, ben, cy):
    claim = claim_of(fund, ben)
    reminded = login(ana).post(f"/pools/{fund.slug}/claims/{claim.pk}/remind/")
    assert reminded.status_code == 302
    reminder = ClaimReminder.objects.get()
    assert {m.user for m in reminder.sent_to.all()} == {ana, cy}
    page = text(login(ben).get(f"/pools/{fund.slug}/claims/{claim.pk}/"))
    assert "Ana Steward (Member 1) reminded" in page
    # Cy is neither the claimant nor a steward: no recovery from her.
    refused = login(cy).post(
        f"/pools/{fund.slug}/claims/{claim.pk}/recovery/",
        {"recovery-recovered_on": this_month().isoformat()},
    )
    assert refused.status_code == 403
    claim.refresh_from_db()
    assert claim.recovered_on is None
    ben_client = login(ben)
    done = ben_client.post(
        f"/pools/{fund.slug}/claims/{claim.pk}/recovery/",
        {"recovery-recovered_on": this_month().isoformat()},
    )
    assert done.status_code == 302
    claim.refresh_from_db()
    assert claim.recovered_on == this_month()
    # Recovered on the first: this month has no gift either (not "from the month after").
    page = text(ben_client.get(done["Location"]))
    assert f"Recovery is recorded: no gift is given for {month_name(this_month())} or later." in (
        page
    )


def test_a_recovered_sickness_is_no_longer_listed_as_open(login, fund, ana, ben, cy):
    claim = claim_of(fund, ben)
    services.decide_claim(claim, cy, "approve")
    services.report_recovery(claim, ben, this_month())
    page = login(ana).get(f"/pools/{fund.slug}/").content.decode()
    assert 'data-testid="no-open-claims"' in page
    assert "Ben Baker (Member 2), since" in page and "</a>: recovered" in page
    claim_page = text(login(ana).get(f"/pools/{fund.slug}/claims/{claim.pk}/"))
    assert re.search(r'data-testid="claim-status">\s*Recovered\s*<', claim_page)


def test_the_only_steward_hands_stewardship_over_and_can_leave(login, fund, ana, ben, cy):
    # The leave page tells the only steward to hand stewardship over first: the pool page
    # must let them, or their reserve stays locked in the pool.
    client = login(ana)
    refused = client.post(f"/pools/{fund.slug}/leave/")
    assert fund.memberships.get(user=ana).status == MemberStatus.ACTIVE
    assert refused.status_code == 409
    page = client.get(f"/pools/{fund.slug}/").content.decode()
    assert page.count(f'action="/pools/{fund.slug}/stewards/"') == 2  # Ben and Cy
    # Ben is no steward: he cannot appoint one.
    assert login(ben).post(f"/pools/{fund.slug}/stewards/", {"member": 3}).status_code == 403
    assert fund.memberships.get(user=cy).role == "member"
    made = client.post(f"/pools/{fund.slug}/stewards/", {"member": 2})
    assert made.status_code == 302
    assert fund.memberships.get(user=ben).role == "steward"
    left = client.post(f"/pools/{fund.slug}/leave/")
    assert left.status_code == 302
    assert fund.memberships.get(user=ana).status == MemberStatus.LEFT


def test_an_outsider_cannot_claim_in_a_public_pool(login, public_fund, dee):
    response = login(dee).post(
        f"/pools/{public_fund.slug}/claims/", {"claim-start_date": this_month().isoformat()}
    )
    assert response.status_code == 403
    assert not Claim.objects.exists()


def test_a_claim_in_the_future_is_refused_on_its_field(login, fund, ben):
    from datetime import timedelta

    response = login(ben).post(
        f"/pools/{fund.slug}/claims/",
        {"claim-start_date": (this_month() + timedelta(days=70)).isoformat()},
    )
    assert response.status_code == 400
    assert "the start date cannot be in the future" in text(response).lower()
    assert not Claim.objects.exists()


# ---------------------------------------------------------------------------- votes


def test_propose_a_rule_change_preview_then_vote(login, fund, ana, ben, cy):
    client = login(ana)
    current = rules_to_json(services.current_rules(fund))
    data = {
        "tiers": "; ".join(f"{t // 100:,}.00" for t in current["tiers"]),
        "deposit_rate": "5",
        "reserve_cap_deposits": "36",
        "waiting_months": "0",
        "max_gift_months": "24",
        "approvals_required": "1",
        "grace_months": "1",
        "entry_fee": "0.00",
        "min_members": "2",
        "max_members": "50",
        "quorum": "50",
        "majority": "50.01",
    }
    preview = client.post(f"/pools/{fund.slug}/rules/", {**data, "action": "preview"})
    assert preview.status_code == 200
    assert "Monthly deposit: 4.5% of the tier → 5% of the tier." in text(preview)
    assert not Vote.objects.exists()

    proposed = client.post(f"/pools/{fund.slug}/rules/", {**data, "action": "propose"})
    vote = Vote.objects.get()
    assert proposed["Location"] == f"/pools/{fund.slug}/votes/{vote.pk}/"
    page = text(login(ben).get(f"/pools/{fund.slug}/votes/{vote.pk}/"))
    assert "Monthly deposit: 4.5% of the tier → 5% of the tier." in page
    assert "Vote yes" in page

    assert (
        login(ben)
        .post(f"/pools/{fund.slug}/votes/{vote.pk}/ballot/", {"choice": "yes"})
        .status_code
        == 302
    )
    assert (
        login(cy).post(f"/pools/{fund.slug}/votes/{vote.pk}/ballot/", {"choice": "yes"}).status_code
        == 302
    )
    vote.refresh_from_db()
    assert vote.status == VoteStatus.PASSED
    assert services.current_rules(fund).deposit_rate_bps == 500
    page = text(login(ben).get(f"/pools/{fund.slug}/votes/{vote.pk}/"))
    assert "Ben Baker (Member 2)" in page and "Yes" in page  # who voted how, to members
    assert "Monthly deposit: 4.5% of the tier → 5% of the tier." in page


def test_a_proposal_that_changes_nothing_is_refused(login, fund, ana):
    current = rules_to_json(services.current_rules(fund))
    data = {
        "tiers": "; ".join(f"{t // 100:,}.00" for t in current["tiers"]),
        "deposit_rate": "4.5",
        "reserve_cap_deposits": "36",
        "waiting_months": "0",
        "max_gift_months": "24",
        "approvals_required": "1",
        "grace_months": "1",
        "entry_fee": "0.00",
        "min_members": "2",
        "max_members": "50",
        "quorum": "50",
        "majority": "50.01",
        "action": "propose",
    }
    response = login(ana).post(f"/pools/{fund.slug}/rules/", data)
    assert response.status_code == 400
    assert "The proposal changes nothing." in text(response)
    assert not Vote.objects.exists()


def test_ballots_once_and_only_by_eligible_members(login, fund, ana, ben, dee):
    vote = services.propose_rule_change(fund, ana, {"waiting_months": 2})
    assert (
        login(ben).post(f"/pools/{fund.slug}/votes/{vote.pk}/ballot/", {"choice": "no"}).status_code
        == 302
    )
    again = login(ben).post(f"/pools/{fund.slug}/votes/{vote.pk}/ballot/", {"choice": "yes"})
    assert again.status_code == 409
    assert Ballot.objects.get().choice == "no"
    bad = login(ana).post(f"/pools/{fund.slug}/votes/{vote.pk}/ballot/", {"choice": "maybe"})
    assert bad.status_code == 400
    assert Ballot.objects.count() == 1


def test_a_vote_past_its_closing_time_offers_no_ballot(login, fund, ana, ben, dee):
    # Until the daily job counted it, its page kept Yes/No/Abstain buttons that could only
    # be refused (409).
    vote = services.propose_rule_change(fund, ana, {"waiting_months": 2})
    page = login(ben).get(f"/pools/{fund.slug}/votes/{vote.pk}/")
    assert 'data-testid="ballot"' in page.content.decode()
    ended = timezone.now() - timedelta(minutes=5)
    Vote.objects.filter(pk=vote.pk).update(closes_at=ended)
    page = login(ben).get(f"/pools/{fund.slug}/votes/{vote.pk}/")
    assert 'data-testid="ballot"' not in page.content.decode()
    assert "the result is counted in the next daily run" in text(page)
    pool_page = login(ben).get(f"/pools/{fund.slug}/").content.decode()
    assert f"/votes/{vote.pk}/ballot/" not in pool_page


# ---------------------------------------------------------------------------- rotating


def test_a_member_in_arrears_is_told_about_their_right_to_claim(login, ana, ben, cy):
    # Ben has paid nothing for two months, Cy only misses this month's deposit: with one
    # month of grace Ben may no longer claim and Cy must pay before next month.
    first = add_months(this_month(), -2)
    pool = services.create_pool(
        ana, name="Arrears", rules=small_fund_rules(), tier_gift=EUR_1500, today=first
    )
    for user in (ben, cy):
        services.apply(pool, user, tier_gift=EUR_1000, today=first)
    for k in range(3):
        services.pay_own_deposit(pool, ana, add_months(first, k))
    for k in range(2):
        services.pay_own_deposit(pool, cy, add_months(first, k))
    ben_page = text(login(ben).get(f"/pools/{pool.slug}/"))
    assert (
        f"The deposit for {month_name(first)} is unpaid: the right to claim is suspended"
        f" from {add_months(first, 1).isoformat()} until it is paid."
    ) in ben_page
    cy_page = text(login(cy).get(f"/pools/{pool.slug}/"))
    assert (
        f"The deposit for {month_name(this_month())} is unpaid: pay it before"
        f" {add_months(this_month(), 1).isoformat()} to keep the right to claim."
    ) in cy_page
    assert 'data-testid="my-claim-right"' not in text(login(ana).get(f"/pools/{pool.slug}/"))


def test_a_grant_claim_sent_twice_is_made_once(login, ana, ben, cy):
    # A double click or a reload re-sends the same form: two identical grants would each
    # be approved and paid. A refused form, corrected, can still be sent with its token.
    rules = services.default_rules("emergency", "EUR") | {"admission_by_vote": False}
    pool = services.create_pool(ana, name="Rainy Day", rules=rules, today=this_month())
    for user in (ben, cy):
        services.apply(pool, user, today=this_month())
    for user in (ana, ben, cy):
        services.pay_own_deposit(pool, user, this_month())
    client = login(ben)
    page = client.get(f"/pools/{pool.slug}/").content.decode()
    token = re.search(r'name="claim-token" value="([^"]+)"', page).group(1)
    form = {"claim-token": token, "claim-start_date": this_month().isoformat()}
    too_much = client.post(f"/pools/{pool.slug}/claims/", form | {"claim-amount": "80.00"})
    assert too_much.status_code == 400
    assert not Claim.objects.exists()
    first = client.post(f"/pools/{pool.slug}/claims/", form | {"claim-amount": "40.00"})
    claim = Claim.objects.get()
    assert first["Location"] == f"/pools/{pool.slug}/claims/{claim.pk}/"
    again = client.post(f"/pools/{pool.slug}/claims/", form | {"claim-amount": "40.00"})
    assert again.status_code == 302
    assert again["Location"] == f"/pools/{pool.slug}/#claims"
    assert Claim.objects.count() == 1


def test_a_grant_waiting_for_the_vote_says_so_on_its_page(login, ana, ben, cy):
    # Above €20.00 a grant needs a vote besides the approvals: "Approved" alone would
    # read as if it were granted.
    rules = services.default_rules("emergency", "EUR") | {
        "admission_by_vote": False,
        "vote_above": 2_000,
    }
    pool = services.create_pool(ana, name="Rainy Day", rules=rules, today=this_month())
    for user in (ben, cy):
        services.apply(pool, user, today=this_month())
    for user in (ana, ben, cy):
        services.pay_own_deposit(pool, user, this_month())
    claim = services.report_own_claim(pool, ben, start_date=this_month(), amount=4_000)
    for user in (ana, cy):
        services.decide_claim(claim, user, "approve")
    vote = claim.votes.get()
    page = text(login(ben).get(f"/pools/{pool.slug}/claims/{claim.pk}/"))
    assert (
        "a grant this large is paid only if the members' vote passes:"
        f' <a href="/pools/{pool.slug}/votes/{vote.pk}/">Grant of €40.00 to Member 2</a>'
    ) in page
    assert "Not paid yet." in page


def test_a_paid_grant_shows_what_the_fund_paid(login, ana, ben, cy):
    # A grant is paid once from the common fund, never by monthly gifts: its page must
    # not say "No gift yet" once it is paid.
    rules = services.default_rules("emergency", "EUR") | {"admission_by_vote": False}
    pool = services.create_pool(ana, name="Rainy Day", rules=rules, today=this_month())
    for user in (ben, cy):
        services.apply(pool, user, today=this_month())
    for user in (ana, ben, cy):
        services.pay_own_deposit(pool, user, this_month())
    claim = services.report_own_claim(pool, ben, start_date=this_month(), amount=4_000)
    page = text(login(ana).get(f"/pools/{pool.slug}/claims/{claim.pk}/"))
    assert "Not paid yet." in page
    for user in (ana, cy):
        services.decide_claim(claim, user, "approve")
    page = text(login(ben).get(f"/pools/{pool.slug}/claims/{claim.pk}/"))
    assert "€40.00 paid from the common fund." in page
    assert "No gift yet" not in page
    assert "€40.00 received" in text(login(ben).get(f"/pools/{pool.slug}/"))


def test_rotating_pool_cycle_and_round(login, ana, ben):
    pool = services.create_pool(
        ana,
        name="Savers",
        rules={
            "kind": "rotating_savings",
            "currency": "EUR",
            "contribution": 10_000,
            "admission_by_vote": False,
        },
    )
    services.apply(pool, ben)
    refused = login(ben).post(f"/pools/{pool.slug}/cycle/", {"cycle-first_month": month_value()})
    assert refused.status_code == 403
    assert not Round.objects.exists()
    started = login(ana).post(f"/pools/{pool.slug}/cycle/", {"cycle-first_month": month_value()})
    assert started.status_code == 302
    assert Round.objects.filter(pool=pool).count() == 2
    for user in (ana, ben):
        services.pay_own_deposit(pool, user, this_month())
    assert (
        login(ben).post(f"/pools/{pool.slug}/rounds/", {"round-month": month_value()}).status_code
        == 403
    )
    paid = login(ana).post(f"/pools/{pool.slug}/rounds/", {"round-month": month_value()})
    assert paid.status_code == 302
    assert Round.objects.get(pool=pool, month=this_month()).journal_id is not None
    page = text(login(ben).get(f"/pools/{pool.slug}/"))
    assert "paid" in page
    # Rounds pay no claims: an unpaid contribution suspends nothing, only holds the pot.
    assert "Each month of a cycle every member of it pays their contribution" in page
    assert "suspends the right to claim" not in page
