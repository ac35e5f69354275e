"""Pool rules as data: the Broodfonds template, validation errors naming fields, JSON
round trips, the plain-language description and the diff shown on a rule-change vote."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from keel.money import percent_of_bps
from keel.pools.rules.pool_rules import (
    CUT_RULE,
    EmergencyRules,
    HealthSharingRules,
    RotatingSavingsRules,
    RulesError,
    SickLeaveRules,
    amend_rules,
    broodfonds_default,
    describe,
    diff_rules,
    format_percent,
    parse_rules,
    rules_to_json,
)

TEMPLATE_JSON: dict[str, Any] = {
    "kind": "sick_leave",
    "currency": "EUR",
    "quorum_bps": 5000,
    "majority_bps": 5001,
    "admission_by_vote": True,
    "public": False,
    "min_members": 20,
    "max_members": 50,
    "tiers": [75000, 100000, 125000, 150000, 175000, 200000, 225000, 250000],
    "deposit_rate_bps": 450,
    "reserve_cap_deposits": 36,
    "waiting_months": 1,
    "max_gift_months": 24,
    "approvals_required": 3,
    "grace_months": 1,
    "entry_fee": 0,
    "cut": "equal_whole_percent",
}

EMERGENCY = {
    "kind": "emergency",
    "currency": "USD",
    "contribution": 2_500,
    "grant_limit_per_year": 100_000,
    "vote_above": 50_000,
}

HEALTH = {
    "kind": "health_sharing",
    "currency": "EUR",
    "monthly_share": 15_000,
    "unshared_amount": 50_000,
    "cap_per_need": 500_000,
    "cap_per_year": 800_000,
}

ROTATING = {"kind": "rotating_savings", "currency": "KES", "contribution": 500_000}


def errors_of(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(RulesError) as exc:
        parse_rules(data)
    return exc.value.errors


# --------------------------------------------------------------------------- template


def test_broodfonds_template():
    rules = broodfonds_default()
    assert rules_to_json(rules) == TEMPLATE_JSON
    # 750.00 to 2,500.00 in 250.00 steps, in cents.
    assert rules.tiers == tuple(range(75_000, 250_001, 25_000))
    # 4.5% of each tier: 33.75, 45.00, 56.25, 67.50, 78.75, 90.00, 101.25, 112.50.
    assert [percent_of_bps(g, rules.deposit_rate_bps) for g in rules.tiers] == [
        3375,
        4500,
        5625,
        6750,
        7875,
        9000,
        10125,
        11250,
    ]


def test_broodfonds_template_in_a_currency_without_cents():
    assert broodfonds_default("JPY").tiers == tuple(range(750, 2_501, 250))
    with pytest.raises(RulesError) as exc:
        broodfonds_default("eur")
    assert exc.value.errors == [("currency", "must be an ISO 4217 code such as EUR, not 'eur'")]


def test_describe_the_template():
    assert describe(broodfonds_default()) == [
        "This is a sick-leave fund in EUR. Each member picks one of 8 tiers: the monthly gift "
        "they receive when sick (€750.00, €1,000.00, €1,250.00, €1,500.00, €1,750.00, "
        "€2,000.00, €2,250.00, €2,500.00).",
        "Each month a member deposits 4.5% of their tier's gift (€33.75 to €112.50) into "
        "their own reserve, which stays theirs.",
        "A reserve holds at most 36 monthly deposits; anything above that is refunded once a year.",
        "A sick member receives a gift for each calendar month that begins at least 1 month "
        "after the sickness began and before they recover, for at most 24 months per "
        "sickness.",
        "Every other member gives a share of the sick member's gift from their own reserve, "
        "in proportion to their own tier; members who receive gifts that month do not give.",
        "A member whose reserve cannot cover their share gives what it holds; the shortfall "
        "is recorded.",
        CUT_RULE,
        "A claim is paid once 3 members other than the claimant approve it.",
        "A deposit still unpaid 1 month after its due date suspends the right to claim until "
        "it is paid.",
        "Gifts given for months that began on or after a sick member's recovery (a recovery "
        "reported late) are owed back: each giver gets back what they gave, in proportion to "
        "what they are still owed when it is paid in parts; the members may waive it by a "
        "vote.",
        "A member who leaves takes their whole reserve with them, less any gifts they still "
        "owe back, which go from it to the members who gave them first; what it cannot "
        "cover stays owed.",
        "There is no entry fee.",
        "The pool has 20 to 50 members.",
        "New members are admitted by a vote.",
        "A vote counts when at least 50% of the members cast a ballot (abstaining counts), "
        "and passes with more than half of the votes cast; each member has one vote.",
        "These rules change only through a vote.",
        "The pool is private: only its members can see it.",
    ]
    assert "rounded down" in CUT_RULE and "alike" in CUT_RULE


def test_describe_the_other_kinds():
    emergency = describe(parse_rules(EMERGENCY))
    assert emergency[:3] == [
        "This is an emergency fund in USD. Each member pays $25.00 a month into the common fund.",
        "A member can receive one-off grants of up to $1,000.00 in total per calendar year.",
        "A grant needs the approval of 2 members other than the one who asks; a grant above "
        "$500.00 also needs a vote of the members.",
    ]
    health = describe(parse_rules(HEALTH))
    assert health[1:3] == [
        "For each medical need the member pays the first €500.00 themselves; the pool shares "
        "the rest.",
        "The pool shares at most €5,000.00 per need and €8,000.00 per member per calendar "
        "year; the shared part is paid from the common fund the monthly shares build, and"
        " stands for equal parts of the other members' shares.",
    ]
    rotating = describe(parse_rules({**ROTATING, "public": True, "order": "agreement"}))
    assert rotating[:2] == [
        "This is a rotating savings pool in KES. Each month every member pays KES5,000.00 "
        "and one member takes the whole pot (the contribution times the number of members).",
        "The order of the takers is agreed by the members; nobody takes the pot twice in a cycle.",
    ]
    assert rotating[-1] == (
        "The pool is public: outsiders can read its page and ledger, with members shown by "
        "pseudonym."
    )


def test_format_percent():
    assert [format_percent(b) for b in (450, 5001, 10_000, 1, 6666)] == [
        "4.5%",
        "50.01%",
        "100%",
        "0.01%",
        "66.66%",
    ]


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("data", [TEMPLATE_JSON, EMERGENCY, HEALTH, ROTATING])
def test_rules_round_trip_through_json(data: dict[str, Any]):
    rules = parse_rules(data)
    assert parse_rules(rules_to_json(rules)) == rules
    assert next(iter(rules_to_json(rules))) == "kind"


def test_defaults_fill_in_missing_governance():
    rules = parse_rules(ROTATING)
    assert isinstance(rules, RotatingSavingsRules)
    assert (rules.quorum_bps, rules.majority_bps, rules.order) == (5000, 5001, "lottery")
    assert (rules.min_members, rules.max_members) == (2, 50)
    assert isinstance(parse_rules(EMERGENCY), EmergencyRules)
    assert isinstance(parse_rules(HEALTH), HealthSharingRules)


# --------------------------------------------------------------------------- validation


def test_tiers_must_rise():
    data = {**TEMPLATE_JSON, "tiers": [75_000, 100_000, 125_000, 125_000, 120_000]}
    assert errors_of(data) == [
        ("tiers[3]", "must be greater than tiers[2]"),
        ("tiers[4]", "must be greater than tiers[3]"),
    ]


def test_the_error_message_names_each_field():
    with pytest.raises(RulesError) as exc:
        parse_rules({**TEMPLATE_JSON, "tiers": [75_000, 75_000], "deposit_rate_bps": 0})
    assert str(exc.value) == "deposit_rate_bps: must be between 1 and 10000"
    with pytest.raises(RulesError) as exc:
        parse_rules({**TEMPLATE_JSON, "tiers": [75_000, 75_000]})
    assert str(exc.value) == "tiers[1]: must be greater than tiers[0]"
    assert exc.value.field == "tiers[1]"


def test_tiers_must_be_positive_whole_amounts():
    data = {**TEMPLATE_JSON, "tiers": [0, 750.5, True]}
    assert errors_of(data) == [
        ("tiers[0]", "must be more than zero (in minor units)"),
        ("tiers[1]", "must be a whole number, not 750.5"),
        ("tiers[2]", "must be a whole number, not True"),
    ]
    assert errors_of({**TEMPLATE_JSON, "tiers": []}) == [("tiers", "must list at least one tier")]
    assert errors_of({**TEMPLATE_JSON, "tiers": "750"}) == [("tiers", "must be a list, not str")]


def test_amounts_above_the_ledgers_largest_are_refused():
    # 10**15 minor units is the most one ledger leg can carry; 10**20 would not even fit
    # the database's 64-bit integers.
    too_big = 10**15 + 1
    assert errors_of({**TEMPLATE_JSON, "tiers": [75_000, too_big]}) == [
        ("tiers[1]", "must be at most 1,000,000,000,000,000 (in minor units)")
    ]
    assert errors_of({**TEMPLATE_JSON, "entry_fee": 10**20}) == [
        ("entry_fee", "must be at most 1,000,000,000,000,000 (in minor units)")
    ]
    assert parse_rules({**TEMPLATE_JSON, "tiers": [75_000, 10**15]}).tiers[-1] == 10**15


def test_deposit_rate_bounds():
    for bad in (0, 10_001):
        assert errors_of({**TEMPLATE_JSON, "deposit_rate_bps": bad}) == [
            ("deposit_rate_bps", "must be between 1 and 10000")
        ]


def test_a_deposit_that_rounds_to_nothing_is_refused():
    # 0.01% of 1.00 is 0.0001 cents: the member would build no reserve.
    data = {**TEMPLATE_JSON, "tiers": [100, 75_000], "deposit_rate_bps": 1}
    assert errors_of(data) == [("tiers[0]", "its deposit (0.01% of it) rounds to nothing")]


def test_currency_kind_and_unknown_fields():
    assert errors_of({**TEMPLATE_JSON, "currency": "XAU"}) == [
        ("currency", "must be an ISO 4217 code such as EUR, not 'XAU'")
    ]
    assert errors_of({"currency": "EUR"}) == [
        ("kind", "is required: one of sick_leave, emergency, health_sharing, rotating_savings")
    ]
    assert errors_of({**TEMPLATE_JSON, "kind": "tontine"}) == [
        (
            "kind",
            "must be one of sick_leave, emergency, health_sharing, rotating_savings, not 'tontine'",
        )
    ]
    assert errors_of({**EMERGENCY, "tiers": [75_000]}) == [
        ("tiers", "is not a rule of this kind of pool")
    ]
    assert errors_of([1, 2]) == [("", "rules must be an object, not list")]


def test_missing_and_mistyped_fields_all_reported_at_once():
    data = {"kind": "emergency", "currency": "USD", "vote_above": -5, "public": "yes"}
    assert errors_of(data) == [
        ("public", "must be true or false, not 'yes'"),
        ("contribution", "is required"),
        ("grant_limit_per_year", "is required"),
        ("vote_above", "must not be negative"),
    ]


def test_cross_field_rules():
    assert errors_of({**TEMPLATE_JSON, "approvals_required": 20}) == [
        (
            "approvals_required",
            "must be less than min_members (20): the claimant cannot approve their own claim",
        )
    ]
    assert errors_of({**EMERGENCY, "vote_above": 100_001, "min_members": 9, "max_members": 8}) == [
        ("max_members", "must be at least min_members (9)"),
        ("vote_above", "must not exceed grant_limit_per_year"),
    ]
    assert errors_of({**HEALTH, "cap_per_need": 900_000}) == [
        ("cap_per_need", "must not exceed cap_per_year")
    ]
    assert errors_of({**ROTATING, "order": "seniority"}) == [
        ("order", "must be 'lottery' or 'agreement'")
    ]
    assert errors_of({**ROTATING, "quorum_bps": 0, "min_members": 1}) == [
        ("quorum_bps", "must be between 1 and 10000"),
        ("min_members", "must be between 2 and 10000"),
    ]


def test_constructing_rules_directly_validates_too():
    with pytest.raises(ValidationError, match="must be greater than tiers"):
        SickLeaveRules(currency="EUR", tiers=(100_000, 75_000))


def test_amend_rules_validates_the_change():
    amended = amend_rules(broodfonds_default(), {"waiting_months": 2, "entry_fee": 2_500})
    assert isinstance(amended, SickLeaveRules)
    assert (amended.waiting_months, amended.entry_fee, amended.tiers) == (
        2,
        2_500,
        broodfonds_default().tiers,
    )
    with pytest.raises(RulesError) as exc:
        amend_rules(broodfonds_default(), {"waiting_months": -1, "max_members": 10})
    assert exc.value.errors == [
        ("waiting_months", "must be between 0 and 24"),
    ]
    with pytest.raises(RulesError) as exc:
        amend_rules(broodfonds_default(), {"max_members": 10})
    assert exc.value.errors == [("max_members", "must be at least min_members (20)")]


def test_rules_are_frozen():
    rules = broodfonds_default()
    with pytest.raises(ValidationError):
        rules.waiting_months = 0


# --------------------------------------------------------------------------- diff


def test_diff_lists_each_change_in_words():
    old = broodfonds_default()
    new = parse_rules(
        {
            **TEMPLATE_JSON,
            "tiers": [*TEMPLATE_JSON["tiers"][1:], 275_000],
            "deposit_rate_bps": 500,
            "waiting_months": 2,
            "public": True,
            "majority_bps": 6_666,
        }
    )
    assert diff_rules(old, new) == [
        "Tiers: added €2,750.00; removed €750.00.",
        "Monthly deposit: 4.5% of the tier → 5% of the tier.",
        "Waiting period: 1 month → 2 months.",
        "Majority: more than half of the votes cast → at least 66.66% of the votes cast.",
        "Visibility: private → public.",
    ]


def test_diff_of_identical_rules_is_empty():
    assert diff_rules(broodfonds_default(), parse_rules(TEMPLATE_JSON)) == []


def test_diff_across_kinds():
    lines = diff_rules(parse_rules(EMERGENCY), parse_rules({**HEALTH, "currency": "USD"}))
    assert lines[0] == "Kind of pool: an emergency fund → a health cost-sharing pool."
    assert "Monthly contribution: no longer a rule (was $25.00)." in lines
    assert "Monthly share: new rule, $150.00." in lines
