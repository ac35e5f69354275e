"""Emergency grants, health cost-sharing and rotating savings, by hand."""

from __future__ import annotations

from datetime import date

import pytest

from keel.pools.rules.emergency import GrantCheck, PastGrant, assess_grant, remaining_limit
from keel.pools.rules.pool_rules import (
    EmergencyRules,
    HealthSharingRules,
    RotatingSavingsRules,
    RulesError,
)
from keel.pools.rules.rotating import (
    Round,
    agreed_order,
    check_cycle,
    lottery_order,
    pot,
    schedule,
    taker,
)
from keel.pools.rules.sharing import NeedShare, PastShare, SharePart, share_need, split_shared

# --------------------------------------------------------------------------- emergency

EMERGENCY = EmergencyRules(
    currency="USD", contribution=2_500, grant_limit_per_year=100_000, vote_above=50_000
)
# 300.00 last December does not count in 2025; 400.00 in March does.
PAST = [PastGrant(date(2024, 12, 20), 30_000), PastGrant(date(2025, 3, 1), 40_000)]


def test_remaining_limit_counts_the_calendar_year_only():
    # 1,000.00 - 400.00 = 600.00 left in 2025; the whole 1,000.00 again in 2026.
    assert remaining_limit(EMERGENCY, PAST, date(2025, 6, 1)) == 60_000
    assert remaining_limit(EMERGENCY, PAST, date(2026, 1, 1)) == 100_000
    assert remaining_limit(EMERGENCY, [PastGrant(date(2025, 1, 1), 100_000)], date(2025, 2, 1)) == 0


def test_a_grant_above_vote_above_needs_a_vote():
    # 600.00 fits the 600.00 left, and is above 500.00: approvals and a vote.
    assert assess_grant(EMERGENCY, 60_000, PAST, date(2025, 6, 1), 1_000_000) == GrantCheck(
        True, True, 60_000, "Needs 2 approvals and a passing vote: it is above $500.00."
    )
    # Exactly 500.00 is not above it.
    assert assess_grant(EMERGENCY, 50_000, PAST, date(2025, 6, 1), 1_000_000) == GrantCheck(
        True, False, 60_000, "Needs 2 approvals."
    )


def test_a_grant_over_the_yearly_limit_is_refused():
    check = assess_grant(EMERGENCY, 60_001, PAST, date(2025, 6, 1), 1_000_000)
    assert not check.allowed
    assert check.reason == (
        "$600.01 is above the $600.00 left of this member's $1,000.00 limit for 2025."
    )


def test_a_grant_over_the_fund_balance_waits():
    check = assess_grant(EMERGENCY, 30_000, [], date(2025, 6, 1), 20_000)
    assert (check.allowed, check.reason) == (
        False,
        "The fund holds $200.00, less than the $300.00 asked for.",
    )


def test_grant_inputs_are_checked():
    with pytest.raises(RulesError) as exc:
        assess_grant(EMERGENCY, 0, [], date(2025, 6, 1), 1)
    assert exc.value.errors == [("amount", "must be more than zero")]
    with pytest.raises(RulesError) as exc:
        remaining_limit(EMERGENCY, [PastGrant(date(2025, 1, 1), 10.0)], date(2025, 2, 1))  # type: ignore[arg-type]
    assert exc.value.errors == [("past_grants[0].amount", "must be a whole number, not float")]


# --------------------------------------------------------------------------- health sharing

HEALTH = HealthSharingRules(
    currency="EUR",
    monthly_share=15_000,
    unshared_amount=50_000,
    cap_per_need=500_000,
    cap_per_year=800_000,
)


def test_a_small_need_is_the_members_own():
    # 300.00 is below the 500.00 the member pays first: nothing is shared.
    assert share_need(HEALTH, 30_000, [], date(2025, 5, 1)) == NeedShare(
        need=30_000,
        unshared=30_000,
        above_caps=0,
        shared=0,
        member_pays=30_000,
        year_cap_left=800_000,
        capped_by=None,
    )


def test_a_need_capped_per_need():
    # 7,000.00: the member pays 500.00 first; 6,500.00 is shareable, capped at 5,000.00;
    # the member pays 500.00 + 1,500.00 = 2,000.00; 3,000.00 of the year cap is left.
    assert share_need(HEALTH, 700_000, [], date(2025, 5, 1)) == NeedShare(
        need=700_000,
        unshared=50_000,
        above_caps=150_000,
        shared=500_000,
        member_pays=200_000,
        year_cap_left=300_000,
        capped_by="need",
    )


def test_a_need_capped_by_what_is_left_of_the_year():
    # 5,000.00 already shared this year (last year's does not count): 3,000.00 left.
    # 4,000.00 need: 500.00 first, 3,500.00 shareable, 3,000.00 shared, 1,000.00 paid.
    past = [PastShare(date(2024, 11, 1), 700_000), PastShare(date(2025, 5, 1), 500_000)]
    share = share_need(HEALTH, 400_000, past, date(2025, 9, 1))
    assert (share.shared, share.member_pays, share.year_cap_left, share.capped_by) == (
        300_000,
        100_000,
        0,
        "year",
    )


def test_the_shared_part_is_split_equally_among_the_others():
    # 1.00 over the 3 members other than m1: 33 each and 1 cent left, to m2 (listed first).
    assert split_shared(100, "m1", ["m1", "m2", "m3", "m4"]) == [
        SharePart("m2", 34),
        SharePart("m3", 33),
        SharePart("m4", 33),
    ]
    with pytest.raises(RulesError, match="no other member"):
        split_shared(100, "m1", ["m1"])


# --------------------------------------------------------------------------- rotating

ROSCA = RotatingSavingsRules(currency="KES", contribution=500_000)
CIRCLE = ["amina", "baraka", "chebet", "daudi"]


def test_the_pot_is_the_contribution_times_the_members():
    # 4 x KES 5,000.00 = KES 20,000.00.
    assert pot(ROSCA, 4) == 2_000_000


def test_lottery_order_is_reproducible_from_its_seed():
    order = lottery_order(CIRCLE, seed=2025)
    assert order == lottery_order(CIRCLE, seed=2025)
    assert sorted(order) == sorted(CIRCLE)
    # Pinned so that a change of shuffling would show: members re-run published draws.
    assert order == ("daudi", "baraka", "chebet", "amina")
    assert len({lottery_order(CIRCLE, seed=s) for s in range(10)}) > 1


def test_agreed_order_holds_every_member_once():
    assert agreed_order(CIRCLE, ["daudi", "amina", "chebet", "baraka"])[0] == "daudi"
    cases = [
        (["amina", "baraka", "amina", "daudi"], "order[2]"),
        (["amina", "baraka", "chebet"], "order"),
        (["amina", "zuri", "chebet", "daudi"], "order[1]"),
    ]
    for agreed, field in cases:
        with pytest.raises(RulesError) as exc:
            check_cycle(agreed, CIRCLE)
        assert exc.value.field == field
    with pytest.raises(RulesError) as exc:
        check_cycle(["amina", "baraka", "amina", "daudi"], CIRCLE)
    assert exc.value.errors == [
        ("order[2]", "'amina' is listed twice: nobody takes the pot twice a cycle")
    ]


def test_who_takes_the_pot_in_round_k():
    order = ("chebet", "amina", "daudi", "baraka")
    assert [taker(order, k) for k in (1, 2, 3, 4)] == list(order)
    with pytest.raises(RulesError, match="between 1 and 4"):
        taker(order, 5)


def test_schedule_one_round_a_month():
    rounds = schedule(("chebet", "amina", "daudi", "baraka"), date(2025, 11, 1), ROSCA)
    assert rounds == [
        Round(1, date(2025, 11, 1), "chebet", 2_000_000),
        Round(2, date(2025, 12, 1), "amina", 2_000_000),
        Round(3, date(2026, 1, 1), "daudi", 2_000_000),
        Round(4, date(2026, 2, 1), "baraka", 2_000_000),
    ]
