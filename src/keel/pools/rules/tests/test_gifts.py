"""Sick-leave gifts by hand: the 20-member fund, mixed tiers, a cut with shortfalls,
the reserve cap, exit and missed deposits."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from keel.money import percent_of_bps
from keel.pools.rules.gifts import (
    Claim,
    ClaimGift,
    GiftRun,
    GiftTransfer,
    Member,
    NotDue,
    Refund,
    Shortfall,
    add_months,
    annual_refunds,
    claim_right,
    cut_percent,
    exit_payout,
    first_month_after_recovery,
    gift_due,
    monthly_deposit,
    monthly_gifts,
    not_due_reason,
    reserve_cap,
)
from keel.pools.rules.pool_rules import (
    RulesError,
    SickLeaveRules,
    amend_rules,
    broodfonds_default,
)

RULES = broodfonds_default()  # EUR tiers 75000..250000 cents, 4.5%, wait 1 month, max 24


def run_months(
    claims: list[Claim], members: list[Member], months: list[date]
) -> tuple[list[GiftRun], list[Member]]:
    """Thread reserves and months paid through a series of runs, as the service does."""
    runs = []
    for month in months:
        run = monthly_gifts(claims, members, RULES, month)
        runs.append(run)
        members = [
            Member(
                m.id,
                m.tier_gift,
                m.reserve
                - run.given_by(m.id)
                + sum(g.received for g in run.claims if g.claimant == m.id),
            )
            for m in members
        ]
        paid = {g.claim for g in run.claims if g.received > 0}
        claims = [
            Claim(c.id, c.member, c.start, c.approved, c.recovered_on, c.months_paid + 1)
            if c.id in paid
            else c
            for c in claims
        ]
    return runs, members


# --------------------------------------------------------------------------- deposits


def test_broodfonds_deposits_are_4_5_percent_of_the_eight_tiers():
    # 4.5% of 750.00 = 33.75; each €250 step adds 11.25: 33.75, 45.00, ... 112.50.
    assert [monthly_deposit(gift, RULES) for gift in RULES.tiers] == [
        3375,
        4500,
        5625,
        6750,
        7875,
        9000,
        10125,
        11250,
    ]


def test_monthly_deposit_refuses_a_gift_that_is_not_a_tier():
    with pytest.raises(RulesError) as exc:
        monthly_deposit(160_000, RULES)
    assert exc.value.errors == [("tier_gift", "€1,600.00 is not one of the fund's tiers")]


def test_reserve_cap_is_36_deposits():
    # 36 x 67.50 = 2,430.00 for the €1,500 tier; 36 x 112.50 = 4,050.00 for €2,500.
    assert reserve_cap(150_000, RULES) == 243_000
    assert reserve_cap(250_000, RULES) == 405_000


# --------------------------------------------------------------------------- gift months


def claim(start: date, recovered_on: date | None = None, **kw: object) -> Claim:
    return Claim("c1", "m01", start, True, recovered_on, **kw)  # type: ignore[arg-type]


def test_add_months_clamps_to_the_end_of_the_month():
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 11, 15), 3) == date(2026, 2, 15)
    assert add_months(date(2025, 3, 10), 0) == date(2025, 3, 10)


def test_gift_months_whole_months_after_the_wait_until_recovery():
    # Sick 10 March to 15 June, one month's wait: the wait ends 10 April, so April (which
    # begins before it) is unpaid; May and June begin inside the covered time; July begins
    # after recovery.
    c = claim(date(2025, 3, 10), date(2025, 6, 15))
    due = [gift_due(c, date(2025, m, 1), RULES, 0) for m in range(3, 8)]
    assert due == [False, False, True, True, False]
    assert not_due_reason(c, date(2025, 4, 1), RULES, 0) == (
        "the waiting period ends on 2025-04-10: the first gift is for May 2025"
    )
    assert not_due_reason(c, date(2025, 7, 1), RULES, 0) == "recovered on 2025-06-15"


def test_sickness_from_the_first_of_a_month_is_paid_from_the_next_month():
    # Wait ends 1 February, exactly on the first day of February: February is paid.
    c = claim(date(2025, 1, 1))
    assert not gift_due(c, date(2025, 1, 1), RULES, 0)
    assert gift_due(c, date(2025, 2, 1), RULES, 0)


def test_the_first_month_without_a_gift_after_recovery():
    assert first_month_after_recovery(date(2026, 5, 15)) == date(2026, 6, 1)
    assert first_month_after_recovery(date(2026, 5, 1)) == date(2026, 5, 1)
    assert first_month_after_recovery(date(2026, 12, 31)) == date(2027, 1, 1)


def test_recovery_on_the_first_of_a_month_ends_gifts_before_that_month():
    c = claim(date(2025, 1, 1), date(2025, 5, 1))
    assert gift_due(c, date(2025, 4, 1), RULES, 2)
    assert not gift_due(c, date(2025, 5, 1), RULES, 3)


def test_waiting_period_ending_on_a_clamped_day():
    # 31 January + 1 month = 28 February, after 1 February: the first gift is for March.
    c = claim(date(2025, 1, 31))
    assert not gift_due(c, date(2025, 2, 1), RULES, 0)
    assert gift_due(c, date(2025, 3, 1), RULES, 0)


def test_no_gift_after_24_paid_months():
    c = claim(date(2023, 1, 1))
    assert gift_due(c, date(2025, 1, 1), RULES, 23)
    assert not gift_due(c, date(2025, 2, 1), RULES, 24)
    assert not_due_reason(c, date(2025, 2, 1), RULES, 24) == (
        "all 24 months of gifts have been paid"
    )


def test_gift_due_needs_the_first_day_of_a_month():
    with pytest.raises(RulesError) as exc:
        gift_due(claim(date(2025, 1, 1)), date(2025, 3, 15), RULES, 0)
    assert exc.value.errors == [("month", "must be the first day of a month, not 2025-03-15")]


# --------------------------------------------------------------------------- worked examples


def twenty_at_1500(reserve: int = 100_000) -> list[Member]:
    return [Member(f"m{i:02d}", 150_000, reserve) for i in range(1, 21)]


def test_twenty_members_at_1500_one_sick_for_three_months_after_the_wait():
    # m01 is sick from 1 January and recovers on 1 May: the wait ends 1 February, so the
    # gifts are for February, March and April, and none for January or May.
    # Each month 19 members give 1,500.00 / 19: 150000 / 19 = 7894 remainder 14. All
    # tiers are equal, so all remainders tie and the 14 extra cents go to the first 14
    # givers in member order, m02..m15 (7895 each); m16..m20 give 7894.
    # 14 x 7895 + 5 x 7894 = 110530 + 39470 = 150000.
    members = twenty_at_1500()
    sick = Claim("c1", "m01", date(2025, 1, 1), True, date(2025, 5, 1))
    months = [date(2025, m, 1) for m in range(1, 7)]
    runs, after = run_months([sick], members, months)

    january, *paid, may, june = runs
    assert (january.claims, january.transfers) == ((), ())
    assert january.not_due == (
        NotDue("c1", "the waiting period ends on 2025-02-01: the first gift is for February 2025"),
    )
    for run in paid:
        assert run.cut_percent == 100
        assert run.claims == (ClaimGift("c1", "m01", 150_000, 150_000, 150_000, 0),)
        assert run.shortfalls == ()
        gifts = {t.giver: t.amount for t in run.transfers}
        assert gifts == {f"m{i:02d}": 7895 if i <= 15 else 7894 for i in range(2, 21)}
        assert "m01" not in gifts  # the claimant never gives to their own gift
        assert all(t.claim == "c1" and t.claimant == "m01" for t in run.transfers)
    assert may.not_due == (NotDue("c1", "recovered on 2025-05-01"),)
    assert june.transfers == ()

    # Over the three months: m02 gave 3 x 78.95 = 236.85, m20 3 x 78.94 = 236.82;
    # m01 received 3 x 1,500.00 = 4,500.00 on top of their untouched 1,000.00.
    reserves = {m.id: m.reserve for m in after}
    assert reserves["m02"] == 100_000 - 23_685
    assert reserves["m15"] == 100_000 - 23_685
    assert reserves["m16"] == 100_000 - 23_682
    assert reserves["m01"] == 100_000 + 450_000
    assert sum(reserves.values()) == 20 * 100_000


def test_mixed_tiers_give_in_proportion_to_their_own_tier():
    # x (tier 2,500.00) is sick. Givers' tiers 750, 1,000, 1,500, 2,500: weights sum 5,750.
    #   a: 250000 x 75000 / 575000  = 32608 r 400000
    #   b: 250000 x 100000 / 575000 = 43478 r 150000
    #   c: 250000 x 150000 / 575000 = 65217 r 225000
    #   d: 250000 x 250000 / 575000 = 108695 r 375000
    # The floors sum to 249998; the 2 cents left go to the largest remainders, a and d.
    members = [
        Member("x", 250_000, 0),
        Member("a", 75_000, 50_000),
        Member("b", 100_000, 50_000),
        Member("c", 150_000, 100_000),
        Member("d", 250_000, 200_000),
    ]
    run = monthly_gifts(
        [Claim("cx", "x", date(2025, 1, 1), True)], members, RULES, date(2025, 3, 1)
    )
    assert run.transfers == (
        GiftTransfer("a", "cx", "x", 32_609),
        GiftTransfer("b", "cx", "x", 43_478),
        GiftTransfer("c", "cx", "x", 65_217),
        GiftTransfer("d", "cx", "x", 108_696),
    )
    assert run.claims == (ClaimGift("cx", "x", 250_000, 250_000, 250_000, 0),)


def test_reserves_too_small_cut_both_claims_alike_and_record_shortfalls():
    # Six members at 1,000.00; p1 and p2 are sick, so 2,000.00 of gifts are needed.
    # The four givers hold 600 + 600 + 400 + 100 = 1,700.00 together.
    # Cut: 170000 x 100 // 200000 = 85; 86% would need 2 x 860.00 = 1,720.00 > 1,700.00.
    # Each cut gift is 850.00, 212.50 from each of the four givers (equal tiers), so each
    # giver owes 425.00 in all.
    #   g1, g2 (600.00) give 212.50 to each claim.
    #   g3 (400.00) gives it all, 200.00 to each claim: 12.50 short on each.
    #   g4 (100.00) gives it all, 50.00 to each claim: 162.50 short on each.
    # Each claim receives 212.50 + 212.50 + 200.00 + 50.00 = 675.00 = 850.00 - 175.00.
    members = [
        Member("p1", 100_000, 30_000),
        Member("p2", 100_000, 0),
        Member("g1", 100_000, 60_000),
        Member("g2", 100_000, 60_000),
        Member("g3", 100_000, 40_000),
        Member("g4", 100_000, 10_000),
    ]
    claims = [
        Claim("k1", "p1", date(2025, 1, 5), True),
        Claim("k2", "p2", date(2025, 1, 20), True),
    ]
    run = monthly_gifts(claims, members, RULES, date(2025, 3, 1))
    assert (run.needed, run.available, run.cut_percent) == (200_000, 170_000, 85)
    assert run.claims == (
        ClaimGift("k1", "p1", 100_000, 85_000, 67_500, 17_500),
        ClaimGift("k2", "p2", 100_000, 85_000, 67_500, 17_500),
    )
    assert run.shortfalls == (
        Shortfall("g3", "k1", 21_250, 20_000, 1_250),
        Shortfall("g3", "k2", 21_250, 20_000, 1_250),
        Shortfall("g4", "k1", 21_250, 5_000, 16_250),
        Shortfall("g4", "k2", 21_250, 5_000, 16_250),
    )
    assert {(t.giver, t.claim): t.amount for t in run.transfers} == {
        ("g1", "k1"): 21_250,
        ("g1", "k2"): 21_250,
        ("g2", "k1"): 21_250,
        ("g2", "k2"): 21_250,
        ("g3", "k1"): 20_000,
        ("g3", "k2"): 20_000,
        ("g4", "k1"): 5_000,
        ("g4", "k2"): 5_000,
    }
    assert [run.given_by(g) for g in ("g1", "g2", "g3", "g4", "p1")] == [
        42_500,
        42_500,
        40_000,
        10_000,
        0,
    ]
    assert run.cut_notice() == (
        "Gifts for March 2025 are cut to 85% of the full gift: the givers' reserves hold "
        "€1,700.00, the full gifts come to €2,000.00."
    )


def test_a_cut_alone_can_be_enough():
    # Four givers with 400.00 each (1,600.00) for two gifts of 1,000.00: cut to 80%,
    # 800.00 per claim, 200.00 per giver per claim; each giver owes exactly 400.00.
    members = [Member("p1", 100_000, 0), Member("p2", 100_000, 0)] + [
        Member(f"g{i}", 100_000, 40_000) for i in range(1, 5)
    ]
    claims = [
        Claim("k1", "p1", date(2025, 1, 1), True),
        Claim("k2", "p2", date(2025, 1, 1), True),
    ]
    run = monthly_gifts(claims, members, RULES, date(2025, 3, 1))
    assert run.cut_percent == 80
    assert [g.received for g in run.claims] == [80_000, 80_000]
    assert run.shortfalls == ()
    assert all(t.amount == 20_000 for t in run.transfers)


def test_cut_percent_rounds_down_but_uses_the_room_rounding_leaves():
    # Two gifts of 1.99 and 3.90 available: the ratio is 390 / 398 = 97.98%, so 97% fits;
    # 98% of 1.99 is 1.9502, rounded down 1.95, and 2 x 1.95 = 3.90 fits as well;
    # 99% would be 2 x 1.97 = 3.94. So 98.
    assert cut_percent([199, 199], 390) == 98
    assert cut_percent([100_000, 100_000], 200_000) == 100
    assert cut_percent([100_000], 0) == 0
    assert cut_percent([], 0) == 100


def test_nobody_left_to_give():
    # Both members are sick: nobody gives, the gifts are cut to nothing and nothing moves.
    members = [Member("a", 100_000, 50_000), Member("b", 100_000, 50_000)]
    claims = [
        Claim("ka", "a", date(2025, 1, 1), True),
        Claim("kb", "b", date(2025, 1, 1), True),
    ]
    run = monthly_gifts(claims, members, RULES, date(2025, 3, 1))
    assert (run.available, run.cut_percent, run.transfers) == (0, 0, ())
    assert [(g.cut_gift, g.received, g.shortfall) for g in run.claims] == [(0, 0, 0), (0, 0, 0)]


def test_who_gives_members_in_their_wait_or_unapproved_still_give():
    # m1 is paid; m2's sickness began this month (still waiting) and m3's claim is not
    # approved: both still give. 4 givers at equal tiers give 1,000.00 / 4 = 250.00.
    members = [Member(f"m{i}", 100_000, 100_000) for i in range(1, 6)]
    claims = [
        Claim("k1", "m1", date(2025, 1, 1), True),
        Claim("k2", "m2", date(2025, 3, 1), True),
        Claim("k3", "m3", date(2025, 1, 1), False),
    ]
    run = monthly_gifts(claims, members, RULES, date(2025, 3, 1))
    assert {t.giver: t.amount for t in run.transfers} == {
        "m2": 25_000,
        "m3": 25_000,
        "m4": 25_000,
        "m5": 25_000,
    }
    assert run.not_due == (
        NotDue("k2", "the waiting period ends on 2025-04-01: the first gift is for April 2025"),
        NotDue("k3", "not approved yet"),
    )


def test_two_paid_claimants_do_not_give_to_each_other():
    members = [Member(f"m{i}", 100_000, 100_000) for i in range(1, 5)]
    claims = [
        Claim("k1", "m1", date(2025, 1, 1), True),
        Claim("k2", "m2", date(2025, 1, 1), True),
    ]
    run = monthly_gifts(claims, members, RULES, date(2025, 3, 1))
    assert {t.giver for t in run.transfers} == {"m3", "m4"}
    assert [g.received for g in run.claims] == [100_000, 100_000]


def test_refused_inputs_name_the_field():
    members = [Member("m1", 100_000, 0), Member("m2", 100_000, 0)]
    ok = Claim("k1", "m1", date(2025, 1, 1), True)
    cases = [
        (
            ([ok], [*members, Member("m1", 100_000, 0)]),
            ("members[2].id", "member 'm1' is listed twice"),
        ),
        (
            ([ok], [Member("m1", 110_000, 0), members[1]]),
            ("members[0].tier_gift", "€1,100.00 is not one of the fund's tiers"),
        ),
        (
            ([Claim("k1", "zz", date(2025, 1, 1), True)], members),
            ("claims[0].member", "'zz' is not a member of the fund"),
        ),
        (([ok, ok], members), ("claims[1].id", "claim 'k1' is listed twice")),
        (
            ([ok, Claim("k2", "m1", date(2025, 1, 2), True)], members),
            ("claims[1].member", "member 'm1' already has a claim paid for March 2025"),
        ),
    ]
    for (claims, people), error in cases:
        with pytest.raises(RulesError) as exc:
            monthly_gifts(claims, people, RULES, date(2025, 3, 1))
        assert exc.value.errors == [error]


def test_inputs_refuse_floats_negatives_and_timestamps():
    with pytest.raises(RulesError, match="reserve: must not be negative"):
        Member("m1", 100_000, -1)
    with pytest.raises(RulesError, match="tier_gift: must be a whole number, not float"):
        Member("m1", 1000.0, 0)  # type: ignore[arg-type]
    with pytest.raises(RulesError, match="start: must be a calendar date, not datetime"):
        Claim("k", "m1", datetime(2025, 1, 1), True)  # noqa: DTZ001
    with pytest.raises(RulesError, match="recovered_on: must not be before start"):
        Claim("k", "m1", date(2025, 2, 1), True, date(2025, 1, 1))


# --------------------------------------------------------------------------- refunds, exit


def test_annual_refund_of_the_reserve_above_36_deposits():
    # €1,500 tier: cap 36 x 67.50 = 2,430.00; a 2,500.00 reserve gets 70.00 back.
    # €750 tier: cap 36 x 33.75 = 1,215.00; a 1,500.00 reserve gets 285.00 back.
    # A reserve exactly at its cap, or below it, gets nothing.
    members = [
        Member("a", 150_000, 250_000),
        Member("b", 150_000, 243_000),
        Member("c", 75_000, 150_000),
        Member("d", 250_000, 1_000),
    ]
    assert annual_refunds(members, RULES) == [
        Refund("a", 250_000, 243_000, 7_000),
        Refund("c", 150_000, 121_500, 28_500),
    ]


def test_exit_takes_the_whole_reserve():
    assert exit_payout(243_000) == 243_000
    assert exit_payout(0) == 0
    with pytest.raises(RulesError, match="reserve: must not be negative"):
        exit_payout(-1)


# --------------------------------------------------------------------------- missed deposits


def test_missed_deposit_suspends_the_right_to_claim_after_the_grace_month():
    # January's deposit (due 1 January) is unpaid; one month's grace runs to 1 February.
    unpaid = [date(2025, 1, 1)]
    assert claim_right([], RULES, date(2025, 1, 20)) == (True, "All deposits are paid.")
    allowed, reason = claim_right(unpaid, RULES, date(2025, 1, 31))
    assert allowed
    assert reason == (
        "The deposit for January 2025 is unpaid: pay it before 2025-02-01 to keep the right "
        "to claim."
    )
    assert claim_right(unpaid, RULES, date(2025, 2, 1)) == (
        False,
        "The deposit for January 2025 is unpaid: the right to claim is suspended from "
        "2025-02-01 until it is paid.",
    )
    # The oldest unpaid month decides, whatever the order given.
    assert not claim_right([date(2025, 2, 1), date(2025, 1, 1)], RULES, date(2025, 2, 10))[0]


def test_no_grace_suspends_on_the_due_date():
    strict = amend_rules(RULES, {"grace_months": 0})
    assert isinstance(strict, SickLeaveRules)
    assert not claim_right([date(2025, 3, 1)], strict, date(2025, 3, 1)).allowed


def test_claim_right_refuses_months_not_yet_due():
    with pytest.raises(RulesError) as exc:
        claim_right([date(2025, 4, 1)], RULES, date(2025, 3, 31))
    assert exc.value.errors == [("unpaid_months[0]", "is not due yet")]


def test_deposits_match_money_percent_of_bps():
    assert all(monthly_deposit(g, RULES) == percent_of_bps(g, 450) for g in RULES.tiers)
