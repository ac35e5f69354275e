"""Properties of the monthly gift run over random funds: exact sums, no giver over their
reserve, one cut for every claim, and every cent either given or recorded short."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from keel.pools.rules.gifts import (
    Claim,
    GiftRun,
    GiftTransfer,
    Member,
    cut_percent,
    monthly_gifts,
)
from keel.pools.rules.pool_rules import broodfonds_default

RULES = broodfonds_default()
MONTH = date(2025, 6, 1)


@st.composite
def funds(draw: st.DrawFn) -> tuple[list[Claim], list[Member]]:
    n = draw(st.integers(min_value=1, max_value=14))
    members = [
        Member(
            f"m{i}",
            draw(st.sampled_from(RULES.tiers)),
            # Small reserves as often as large ones, so cuts and shortfalls are common.
            draw(st.one_of(st.integers(0, 5_000), st.integers(0, 400_000))),
        )
        for i in range(n)
    ]
    sick = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=min(n, 4)))
    claims = []
    for k, i in enumerate(sick):
        # Some claims are due (started early), some still waiting or unapproved.
        start = draw(st.sampled_from([date(2025, 1, 1), date(2025, 5, 20), date(2025, 6, 1)]))
        approved = draw(st.booleans())
        claims.append(Claim(f"k{k}", f"m{i}", start, approved))
    return claims, members


def check(run: GiftRun, claims: list[Claim], members: list[Member]) -> None:
    by_id = {m.id: m for m in members}
    receivers = {g.claimant for g in run.claims}
    givers = [m for m in members if m.id not in receivers]

    assert len(run.claims) + len(run.not_due) == len(claims)
    # One row of gives per claim, one entry per giver (members in order, claimants out);
    # the transfers are its entries above zero, giver by giver.
    assert run.givers == tuple(m.id for m in givers)
    assert len(run.gives) == len(run.claims)
    assert all(len(row) == len(givers) for row in run.gives)
    assert run.transfers == tuple(
        GiftTransfer(giver, g.claim, g.claimant, row[i])
        for i, giver in enumerate(run.givers)
        for g, row in zip(run.claims, run.gives, strict=True)
        if row[i]
    )
    assert run.needed == sum(g.gross for g in run.claims)
    assert run.available == sum(m.reserve for m in givers)
    assert all(t.amount > 0 for t in run.transfers)
    assert all(s.missing > 0 and s.given >= 0 for s in run.shortfalls)

    # One cut for every claim: the largest whole percent whose cut gifts fit.
    p = run.cut_percent
    assert 0 <= p <= 100
    assert p == cut_percent([g.gross for g in run.claims], run.available)
    for g in run.claims:
        assert g.gross == by_id[g.claimant].tier_gift
        assert g.cut_gift == g.gross * p // 100
        assert g.received == run.received_by(g.claim)
        assert g.received + g.shortfall == g.cut_gift
        assert g.shortfall == sum(s.missing for s in run.shortfalls if s.claim == g.claim)
        assert g.received >= 0
    assert sum(g.cut_gift for g in run.claims) <= run.available
    if p < 100:
        assert sum(g.gross * (p + 1) // 100 for g in run.claims) > run.available

    for m in members:
        given = run.given_by(m.id)
        assert given <= m.reserve
        if m.id in receivers:
            assert given == 0
        if any(s.giver == m.id for s in run.shortfalls):
            # Short givers give everything they have.
            assert given == m.reserve

    # Shares are in proportion to tiers: a giver who was not short gives each claim its
    # proportional share to within one minor unit.
    weight = sum(m.tier_gift for m in givers)
    short = {s.giver for s in run.shortfalls}
    for t in run.transfers:
        if t.giver not in short:
            gift = next(g.cut_gift for g in run.claims if g.claim == t.claim)
            exact = gift * by_id[t.giver].tier_gift
            assert abs(t.amount * weight - exact) < weight


@given(funds())
def test_monthly_gifts_keep_their_invariants(fund: tuple[list[Claim], list[Member]]) -> None:
    claims, members = fund
    run = monthly_gifts(claims, members, RULES, MONTH)
    check(run, claims, members)


@given(funds())
def test_a_run_is_a_pure_function_of_its_inputs(fund: tuple[list[Claim], list[Member]]) -> None:
    claims, members = fund
    assert monthly_gifts(claims, members, RULES, MONTH) == monthly_gifts(
        claims, members, RULES, MONTH
    )


@given(
    st.lists(st.integers(1, 10**9), min_size=1, max_size=8),
    st.integers(0, 10**10),
)
def test_cut_percent_is_the_largest_whole_percent_that_fits(gifts: list[int], available: int):
    p = cut_percent(gifts, available)
    assert sum(g * p // 100 for g in gifts) <= available
    if p < 100:
        assert sum(g * (p + 1) // 100 for g in gifts) > available
    else:
        assert sum(gifts) <= available
