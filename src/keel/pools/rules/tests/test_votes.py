"""Votes (quorum, majority, one member one vote) and claim approvals, by hand."""

from __future__ import annotations

import pytest

from keel.pools.rules.pool_rules import RotatingSavingsRules, RulesError, broodfonds_default
from keel.pools.rules.votes import (
    Approval,
    Ballot,
    Outcome,
    check_approver,
    claim_approval,
    quorum_needed,
    tally,
    yes_needed,
)

RULES = broodfonds_default()  # quorum 50% of members, majority 50.01% of yes + no
MEMBERS = [f"m{i:02d}" for i in range(1, 21)]


def ballots(yes: int = 0, no: int = 0, abstain: int = 0) -> list[Ballot]:
    choices = ["yes"] * yes + ["no"] * no + ["abstain"] * abstain
    return [Ballot(member, choice) for member, choice in zip(MEMBERS, choices, strict=False)]


def test_quorum_and_majority_arithmetic():
    # 50% of 20 members = 10 ballots; 50% of 21 = 10.5, rounded up to 11.
    assert quorum_needed(20, 5_000) == 10
    assert quorum_needed(21, 5_000) == 11
    # 50.01% of 12 yes-or-no votes = 6.0012, so 7 yes are needed: a tie fails.
    assert yes_needed(12, 5_001) == 7
    assert yes_needed(11, 5_001) == 6
    assert yes_needed(0, 5_001) == 1


def test_quorum_not_met():
    # 9 of 20 voted, 10 needed: fails even though every ballot is yes.
    outcome = tally(MEMBERS, ballots(yes=9), RULES, closed=True)
    assert outcome == Outcome(
        "failed", "Quorum not met: 9 of 20 members voted, 10 needed.", 20, 9, 0, 0, 10
    )


def test_majority_not_met_on_a_tie():
    # 6 yes, 6 no: 6 x 10000 = 60000 < 5001 x 12 = 60012.
    outcome = tally(MEMBERS, ballots(yes=6, no=6), RULES, closed=True)
    assert outcome.status == "failed"
    assert outcome.reason == "Majority not met: 6 yes, 6 no, 0 abstaining; 7 yes of 12 needed."


def test_passed():
    # Turnout 12 >= 10; 7 x 10000 = 70000 >= 5001 x (7 + 4) = 55011. The abstention counts
    # toward the quorum only.
    outcome = tally(MEMBERS, ballots(yes=7, no=4, abstain=1), RULES, closed=True)
    assert outcome == Outcome(
        "passed", "Passed: 7 yes, 4 no, 1 abstaining, 12 of 20 members voted.", 20, 7, 4, 1, 10
    )
    assert outcome.turnout == 12


def test_abstentions_make_the_quorum():
    # 4 yes, 1 no, 5 abstaining: 10 ballots reach the quorum; 4 of 5 cast is a majority.
    assert tally(MEMBERS, ballots(yes=4, no=1, abstain=5), RULES, closed=True).status == "passed"


def test_all_abstaining_fails():
    outcome = tally(MEMBERS, ballots(abstain=12), RULES, closed=True)
    assert (outcome.status, outcome.reason) == (
        "failed",
        "No majority: 0 yes, 0 no, 12 abstaining; nobody voted yes or no.",
    )


def test_open_vote_decided_early_when_the_rest_cannot_change_it():
    # 11 yes of 20: even if the 9 others all vote no, 110000 >= 5001 x 20 = 100020.
    early = tally(MEMBERS, ballots(yes=11), RULES, closed=False)
    assert (early.status, early.reason) == (
        "passed",
        "Passed: 11 yes, 0 no, 0 abstaining; the 9 outstanding votes cannot change it.",
    )
    # 10 no of 20: even with the other 10 yes it is a tie, and a tie fails.
    assert tally(MEMBERS, ballots(no=10), RULES, closed=False).status == "failed"


def test_open_vote_still_open():
    outcome = tally(MEMBERS, ballots(yes=5), RULES, closed=False)
    assert (outcome.status, outcome.reason) == (
        "open",
        "5 of 20 members have voted; 10 needed for quorum.",
    )
    outcome = tally(MEMBERS, ballots(yes=6, no=5), RULES, closed=False)
    assert (outcome.status, outcome.reason) == (
        "open",
        "6 yes, 5 no, 0 abstaining; 9 members have not voted yet.",
    )


def test_everyone_voted_closes_the_vote():
    assert tally(MEMBERS, ballots(yes=10, no=10), RULES, closed=False).status == "failed"


def test_two_thirds_majority_written_as_6666_bps():
    # 2 of 3: 20000 >= 6666 x 3 = 19998; 3 of 5: 30000 < 6666 x 5 = 33330.
    rules = RotatingSavingsRules(currency="EUR", contribution=10_000, majority_bps=6_666)
    three = ["a", "b", "c"]
    assert tally(three, [("a", "yes"), ("b", "yes"), ("c", "no")], rules, closed=True).status == (
        "passed"
    )
    five = ["a", "b", "c", "d", "e"]
    votes = [("a", "yes"), ("b", "yes"), ("c", "yes"), ("d", "no"), ("e", "no")]
    assert tally(five, votes, rules, closed=True).status == "failed"


def test_one_member_one_vote():
    with pytest.raises(RulesError) as exc:
        tally(MEMBERS, [Ballot("m01", "yes"), Ballot("m01", "yes")], RULES, closed=True)
    assert exc.value.errors == [("ballots[1].voter", "'m01' has already voted")]


def test_only_eligible_members_vote_and_only_yes_no_abstain():
    with pytest.raises(RulesError) as exc:
        tally(MEMBERS, [Ballot("outsider", "yes")], RULES, closed=True)
    assert exc.value.errors == [("ballots[0].voter", "'outsider' may not vote on this")]
    with pytest.raises(RulesError) as exc:
        tally(MEMBERS, [Ballot("m01", "maybe")], RULES, closed=True)
    assert exc.value.errors == [("ballots[0].choice", "must be yes, no or abstain: 'maybe'")]
    with pytest.raises(RulesError, match="at least one eligible member"):
        tally([], [], RULES, closed=True)


# --------------------------------------------------------------------------- approvals


def test_a_claim_approved_by_too_few_members_stays_pending():
    approval = claim_approval(["m02", "m03"], {}, "m01", 3)
    assert approval == Approval("pending", ("m02", "m03"), (), 3, ())
    assert approval.still_needed == 1


def test_the_claimant_cannot_approve():
    # m01's own approval is ignored and reported: two approvals count, three are needed.
    approval = claim_approval(["m01", "m02", "m03"], {}, "m01", 3)
    assert approval.status == "pending"
    assert approval.approvals == ("m02", "m03")
    assert approval.ignored == ("'m01' is the claimant: their own approval does not count.",)
    # The action that records approvals refuses it outright.
    with pytest.raises(RulesError) as exc:
        check_approver("m01", "m01")
    assert exc.value.errors == [("approver", "the claimant cannot approve their own claim")]
    check_approver("m02", "m01")


def test_distinct_approvers_reach_the_requirement():
    approval = claim_approval(["m02", "m02", "m03", "m04"], {}, "m01", 3)
    assert (approval.status, approval.approvals, approval.still_needed) == (
        "approved",
        ("m02", "m03", "m04"),
        0,
    )


def test_a_rejection_needs_a_reason():
    with pytest.raises(RulesError) as exc:
        claim_approval([], {"m05": "  "}, "m01", 3)
    assert exc.value.errors == [("rejecters['m05']", "a rejection needs a reason")]


def test_rejected_by_enough_members():
    reasons = {"m02": "seen at work", "m03": "no doctor's note", "m04": "seen at work"}
    approval = claim_approval(["m05"], reasons, "m01", 3)
    assert approval.status == "rejected"
    assert approval.rejections == (
        ("m02", "seen at work"),
        ("m03", "no doctor's note"),
        ("m04", "seen at work"),
    )


def test_a_member_cannot_both_approve_and_reject():
    with pytest.raises(RulesError, match="also approved"):
        claim_approval(["m02"], {"m02": "changed my mind"}, "m01", 3)
