"""`keel pools ...`: simulate, run, refund, list."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from click.testing import CliRunner, Result
from django.utils import timezone

from keel.accounts.services import create_worker
from keel.cli import main, main_group
from keel.ledger.models import Account, Journal
from keel.pools import services
from keel.pools.models import (
    Claim,
    ClaimKind,
    ClaimStatus,
    Deposit,
    GiftRun,
    Pool,
    RulesVersion,
    Vote,
    VoteStatus,
)
from keel.pools.rules.pool_rules import broodfonds_default, rules_to_json

SIMULATE = [
    "simulate",
    "--members", "20",
    "--gift", "1500",
    "--deposit-rate", "0.045",
    "--incidence", "0.069",
    "--mean-months", "7.1",
    "--max-months", "24",
    "--years", "2",
    "--scenarios", "2000",
    "--seed", "11",
]  # fmt: skip


def keel(*args: str) -> Result:
    return CliRunner().invoke(
        main_group, ["pools", *args], catch_exceptions=False, prog_name="keel"
    )


def test_simulate_json_is_the_same_for_the_same_seed() -> None:
    first = keel(*SIMULATE, "--json")
    second = keel(*SIMULATE, "--json")
    assert first.exit_code == 0, first.output
    assert first.output == second.output
    out = json.loads(first.output)
    # 4.5% of €1,500 is exactly 450 bps; the gift in cents.
    assert out["inputs"]["deposit_rate_bps"] == 450
    assert out["inputs"]["gifts"] == [150_000] * 20
    assert 0 <= out["cut_probability"] <= 1
    assert out["cut_probability_se"] > 0
    other = json.loads(keel(*SIMULATE[:-1], "12", "--json").output)
    assert other["inputs"]["seed"] == 12
    assert other["cut_probability"] != out["cut_probability"]


def test_simulate_prints_the_report_in_words() -> None:
    result = keel(*SIMULATE)
    assert result.exit_code == 0, result.output
    assert "Probability gifts must be cut in some month:" in result.output
    assert "± " in result.output
    assert "gift €1,500.00 (20 members)" in result.output
    # Both buffers alone: at the pool's own confidence and at the fixed 95% benchmark.
    assert re.search(
        r"alone, as sure as the pool \(\d+%\) €[\d,.]+; alone, 95% sure €[\d,.]+", result.output
    )
    out = json.loads(keel(*SIMULATE, "--json").output)
    # A new 20-member fund avoids a cut in far fewer than 95% of futures, and says so.
    assert 1 - out["cut_probability"] < 0.95
    assert "The pool itself is fragile: it avoids a cut in only" in result.output
    assert "--target 0.95 finds the deposit rate it would need" in result.output
    assert out["benchmark_confidence"] == 0.95
    assert out["tiers"][0]["self_insurance_reserve_at_benchmark"] > 0


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--deposit-rate", "0.04512", "--deposit-rate"),
        ("--gift", "15.001", "--gift"),
        ("--currency", "XYZ", "--currency"),
        ("--epidemic", "often", "--epidemic"),
    ],
)
def test_simulate_refuses_bad_input_naming_the_option(
    option: str, value: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = list(SIMULATE)
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    assert main(["pools", *args]) != 0
    assert named in capsys.readouterr().err


def test_run_refuses_a_day_after_today(db: None, capsys: pytest.CaptureFixture[str]) -> None:
    # It ran that month at once (deposits not yet due, a gift run for a month to come),
    # and the real run of the month then found it done.
    steward = create_worker("s@example.org", name="S", password=None, currency="EUR")
    pool = services.create_pool(
        steward,
        name="Fund",
        rules=rules_to_json(broodfonds_default("EUR")),
        tier_gift=75_000,
        today=date(2026, 11, 1),
    )
    later = (timezone.localdate() + timedelta(days=1)).isoformat()
    journals = Journal.objects.count()
    assert main(["pools", "run", "--date", later]) != 0
    assert f"date: {later} is after today" in capsys.readouterr().err
    assert Journal.objects.count() == journals
    assert not GiftRun.objects.filter(pool=pool).exists()


def test_run_makes_this_months_gift_run_once(db: None) -> None:
    steward = create_worker("s@example.org", name="S", password=None, currency="EUR")
    pool = services.create_pool(
        steward,
        name="Fund",
        rules=rules_to_json(broodfonds_default("EUR")),
        tier_gift=75_000,
        today=date(2026, 11, 1),
    )
    first = keel("run", "--date", "2026-11-20")
    assert first.exit_code == 0, first.output
    assert f"gift runs made for: {pool.slug}" in first.output
    journals = Journal.objects.count()
    second = keel("run", "--date", "2026-11-21")
    assert "gift runs made for: none" in second.output
    assert GiftRun.objects.filter(pool=pool).count() == 1
    assert Journal.objects.count() == journals
    listed = json.loads(keel("list", "--json").output)
    assert [(row["slug"], row["members"]) for row in listed] == [(pool.slug, 1)]


def two_funds() -> tuple[Pool, Pool]:
    """Two sick-leave funds of three members each, September's deposits paid: the first
    is given something wrong by the test, the second is sound."""
    rules = rules_to_json(broodfonds_default("EUR")) | {
        "admission_by_vote": False,
        "min_members": 2,
        "approvals_required": 1,
        "waiting_months": 0,
    }
    funds = []
    for name in ("Broken", "Sound"):
        people = [
            create_worker(
                f"{name}{i}@example.org", name=f"{name}{i}", password=None, currency="EUR"
            )
            for i in range(3)
        ]
        pool = services.create_pool(
            people[0], name=name, rules=rules, tier_gift=75_000, today=date(2026, 9, 1)
        )
        for person in people[1:]:
            services.apply(pool, person, tier_gift=75_000, today=date(2026, 9, 1))
        for member in services.active_members(pool):
            services.pay_deposit(member, date(2026, 9, 1), on=date(2026, 9, 1))
        funds.append(pool)
    return funds[0], funds[1]


def run_november() -> Result:
    return CliRunner().invoke(
        main_group, ["pools", "run", "--date", "2026-11-20"], prog_name="keel"
    )


def test_run_refuses_a_pool_whose_claims_overlap_and_runs_the_others(db: None) -> None:
    # Two approved claims of one member due in the same month can only be rows written
    # before report_claim refused overlapping sicknesses; the run must not pay both, and
    # the other pools' runs must still be made.
    broken, sound = two_funds()
    sick = services.active_members(broken)[0]
    for start in (date(2026, 9, 2), date(2026, 9, 5)):
        Claim.objects.create(
            pool=broken,
            membership=sick,
            kind=ClaimKind.SICKNESS,
            status=ClaimStatus.APPROVED,
            start_date=start,
            decided_at=timezone.now(),
        )
    result = run_november()
    assert result.exit_code == 1
    assert f"gift runs made for: {sound.slug}" in result.stdout
    # The log has the traceback; the last line says which pool and why.
    assert result.stderr.splitlines()[-1] == (
        f"error: {broken.slug}: claims[1].member: member {sick.pk} already has a claim"
        " paid for November 2026"
    )
    assert not GiftRun.objects.filter(pool=broken).exists()
    assert GiftRun.objects.filter(pool=sound).count() == 1
    # The broken pool's run wrote nothing: no gift to either of its claims.
    assert not Journal.objects.filter(kind="pool.gift").exists()


def test_run_refuses_a_pool_whose_gift_the_ledger_refuses_and_runs_the_others(db: None) -> None:
    broken, sound = two_funds()
    sick, giver, _ = services.active_members(broken)
    claim = services.report_claim(sick, start_date=date(2026, 9, 2), today=date(2026, 9, 2))
    services.decide_claim(claim, giver.user, "approve")
    # A floor no reserve reaches: the ledger refuses the giver's leg (as it would refuse
    # any corruption the run's own checks cannot see).
    code = services.reserve_code(giver)
    Account.objects.filter(code=code).update(floor=10**9)
    result = run_november()
    assert result.exit_code == 1
    assert f"gift runs made for: {sound.slug}" in result.stdout
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"error: {broken.slug}: account {code} would go below its floor")
    assert not GiftRun.objects.filter(pool=broken).exists()
    assert GiftRun.objects.filter(pool=sound).count() == 1
    assert not Journal.objects.filter(kind="pool.gift").exists()


def test_run_leaves_open_a_passed_grant_the_fund_cannot_pay_and_runs_the_others(
    db: None,
) -> None:
    # A grant above the vote threshold is approved and put to a vote; while the vote is
    # open a smaller grant drains the fund. When the vote's week is up it has passed but
    # cannot be paid: the vote stays open (tried again the next day) and the other
    # pools' deposits and gift runs are still made.
    first, sound = two_funds()
    people = [
        create_worker(f"e{i}@example.org", name=f"E{i}", password=None, currency="EUR")
        for i in range(5)
    ]
    rules = services.default_rules("emergency", "EUR") | {
        "admission_by_vote": False,
        "approvals_required": 1,
    }
    grants = services.create_pool(people[0], name="Grants", rules=rules, today=date(2026, 6, 1))
    for person in people[1:]:
        services.apply(grants, person, today=date(2026, 6, 1))
    for month in range(6, 11):
        for member in services.active_members(grants):
            services.pay_deposit(member, date(2026, month, 1), on=date(2026, month, 1))
    fund = services.fund_code(grants)
    # 5 members x 5 months x EUR 25 = EUR 625; the vote is above EUR 500.
    assert services.balances(grants)[fund] == 62_500
    big = services.report_own_claim(grants, people[1], start_date=date(2026, 10, 5), amount=60_000)
    services.decide_claim(big, people[0], "approve")
    vote = Vote.objects.get(claim=big)
    small = services.report_own_claim(
        grants, people[2], start_date=date(2026, 10, 6), amount=10_000
    )
    services.decide_claim(small, people[0], "approve")
    # Two yes of four eligible: quorum, but the two outstanding could still tie it.
    for voter in (people[0], people[2]):
        services.cast_ballot(vote, voter, "yes")
    Vote.objects.filter(pk=vote.pk).update(closes_at=timezone.now() - timedelta(days=1))
    result = run_november()
    assert result.exit_code == 1
    assert f"gift runs made for: {first.slug}, {sound.slug}" in result.stdout
    assert result.stderr.splitlines()[-1] == (
        f"error: {grants.slug}: vote {vote.pk}: The fund holds €525.00, less than the"
        " €600.00 asked for."
    )
    vote.refresh_from_db()
    assert vote.status == VoteStatus.OPEN
    assert services.balances(grants)[fund] == 52_500
    assert GiftRun.objects.filter(pool=sound).count() == 1


def test_run_refuses_a_pool_whose_member_holds_a_dropped_tier_and_runs_the_others(
    db: None,
) -> None:
    # Rules written before rule changes were checked for held tiers: the broken pool's
    # members are on €750, which its rules no longer list. Its deposits cannot be
    # reckoned; the other pools' deposits and runs must still be made.
    broken, sound = two_funds()
    rules = services.current_rules(broken)
    RulesVersion.objects.create(
        pool=broken,
        version=2,
        rules=rules_to_json(rules) | {"tiers": [100_000]},
        effective_from=date(2026, 10, 1),
    )
    result = run_november()
    assert result.exit_code == 1
    assert f"gift runs made for: {sound.slug}" in result.stdout
    assert result.stderr.splitlines()[-1] == (
        f"error: {broken.slug}: tier_gift: €750.00 is not one of the fund's tiers"
    )
    assert not GiftRun.objects.filter(pool=broken).exists()
    assert not Deposit.objects.filter(membership__pool=broken, month=date(2026, 11, 1)).exists()
    assert GiftRun.objects.filter(pool=sound).count() == 1
