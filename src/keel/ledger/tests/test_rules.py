"""The ledger's pure rules, with worked examples."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.ledger.rules import (
    InvalidJournal,
    JournalSpec,
    LegSpec,
    PendingStateError,
    Totals,
    UnbalancedJournal,
    available_balance,
    check_partial_post,
    journal_hash,
    natural_balance,
    scale_two_leg_pending,
    validate_account,
    validate_journal,
)


def spec(*legs: LegSpec, key: str = "k1", when: object = date(2026, 1, 5)) -> JournalSpec:
    return JournalSpec(idempotency_key=key, kind="income", effective_date=when, legs=legs)  # type: ignore[arg-type]


def test_natural_balance_follows_account_kind():
    # 500 debited and 200 credited: an asset holds 300, a liability owes -300.
    assert natural_balance("asset", 500, 200) == 300
    assert natural_balance("expense", 500, 200) == 300
    assert natural_balance("liability", 500, 200) == -300
    assert natural_balance("income", 200, 500) == 300


def test_available_counts_only_pending_that_reduces():
    # Asset with 1,000 posted, 300 reserved out (pending credit), 200 pending in.
    assert available_balance("asset", 1000, 0, 200, 300) == 700
    # Liability (credit-normal) owing 1,000, 250 pending debit reduces it.
    assert available_balance("liability", 0, 1000, 250, 400) == 750


def test_balanced_journal_passes():
    validate_journal(spec(LegSpec("a:1", 1000, "USD"), LegSpec("b:1", -1000, "USD")))


def test_unbalanced_journal_names_currency_and_difference():
    with pytest.raises(UnbalancedJournal, match=r"USD off by \+1") as info:
        validate_journal(spec(LegSpec("a:1", 1001, "USD"), LegSpec("b:1", -1000, "USD")))
    assert info.value.field == "legs"


def test_each_currency_balances_on_its_own():
    legs = (
        LegSpec("a:1", 1000, "USD"),
        LegSpec("b:1", -1000, "EUR"),
    )
    with pytest.raises(UnbalancedJournal, match="EUR off by -1000, USD off by \\+1000"):
        validate_journal(spec(*legs))


@pytest.mark.parametrize(
    ("legs", "field", "message"),
    [
        ((LegSpec("a:1", 100, "USD"),), "legs", "at least two legs"),
        ((LegSpec("a:1", 1.5, "USD"), LegSpec("b:1", -1.5, "USD")), "legs[0].amount", "integer"),  # type: ignore[arg-type]
        ((LegSpec("a:1", "100", "USD"), LegSpec("b:1", -100, "USD")), "legs[0].amount", "integer"),  # type: ignore[arg-type]
        ((LegSpec("a:1", True, "USD"), LegSpec("b:1", -1, "USD")), "legs[0].amount", "integer"),  # type: ignore[arg-type]
        ((LegSpec("a:1", 0, "USD"), LegSpec("b:1", 0, "USD")), "legs[0].amount", "zero"),
        ((LegSpec("a:1", 100, "XYZ"), LegSpec("b:1", -100, "XYZ")), "legs[0].currency", "XYZ"),
        ((LegSpec("", 100, "USD"), LegSpec("b:1", -100, "USD")), "legs[0].account", "required"),
    ],
)
def test_malformed_journals_name_the_field(legs, field, message):
    with pytest.raises(InvalidJournal, match=message) as info:
        validate_journal(spec(*legs))
    assert info.value.field == field


def test_midnight_timestamp_is_not_a_date():
    legs = (LegSpec("a:1", 1, "USD"), LegSpec("b:1", -1, "USD"))
    with pytest.raises(InvalidJournal, match="calendar date") as info:
        validate_journal(spec(*legs, when=datetime(2026, 1, 5)))  # noqa: DTZ001
    assert info.value.field == "effective_date"
    with pytest.raises(InvalidJournal, match="calendar date"):
        validate_journal(spec(*legs, when="2026-01-05"))


def test_batch_position_prefixes_field():
    with pytest.raises(InvalidJournal) as info:
        validate_journal(spec(LegSpec("a:1", 1, "USD")), where="journals[7].")
    assert info.value.field == "journals[7].legs"


def test_content_hash_ignores_leg_order_but_not_amounts():
    a = spec(LegSpec("a:1", 100, "USD"), LegSpec("b:1", -100, "USD"))
    b = spec(LegSpec("b:1", -100, "USD"), LegSpec("a:1", 100, "USD"))
    c = spec(LegSpec("a:1", 101, "USD"), LegSpec("b:1", -101, "USD"))
    hash_a = journal_hash("post", a)
    assert hash_a == journal_hash("post", b)
    assert hash_a != journal_hash("post", c)
    assert hash_a != journal_hash("reserve", a)
    assert hash_a != journal_hash("post", a, pending=7)
    # A memo cannot forge a separator: these two differ only in where text sits.
    d = JournalSpec("k1", "income", date(2026, 1, 5), a.legs, memo='x"\n"')
    e = JournalSpec("k1", "income", date(2026, 1, 5), a.legs, memo="x", metadata={"": ""})
    assert journal_hash("post", d) != journal_hash("post", e)
    assert len(hash_a) == 64


def test_content_hash_of_a_known_journal_never_changes():
    # Stored hashes decide whether a replay is the same journal: any change to how the
    # hash is computed would turn every replay of an existing journal into a conflict.
    journal = JournalSpec(
        "income:7:upwork:income:700000123",
        "income.income",
        date(2024, 6, 3),
        (LegSpec("worker:7:sources:upwork:usd", 45_000, "USD"), LegSpec("b:1", -45_000, "USD")),
        memo='Milestone 2: "Landing page", révisions\n\t☂',
        metadata={"net": 45_000, "source": "upwork", "note": "é\u2028\x00", "z": [1.5, None]},
    )
    meta = validate_journal(journal)
    assert meta == '{"net":45000,"note":"é\u2028\\u0000","source":"upwork","z":[1.5,null]}'
    assert journal_hash("post", journal, meta) == (
        "8c93739095cf0f3e998e70f3209d5b2134381de280512ef00e6de40b734b8a6e"
    )
    assert journal_hash("post", journal) == journal_hash("post", journal, meta)


@given(
    kind=st.text(min_size=1, max_size=40),
    memo=st.text(max_size=60),
    metadata=st.dictionaries(
        st.text(max_size=8),
        st.one_of(st.integers(), st.text(max_size=12), st.booleans(), st.none()),
        max_size=4,
    ),
)
def test_content_hash_matches_its_json_definition(kind, memo, metadata):
    journal = JournalSpec(
        "k",
        kind,
        date(2026, 1, 5),
        (LegSpec("a:1", 1, "USD"), LegSpec("b:1", -1, "USD")),
        memo,
        metadata,
    )
    canonical = json.dumps(metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    parts = [
        "post",
        json.dumps(kind),
        "2026-01-05",
        json.dumps(memo, ensure_ascii=False),
        canonical if metadata else "{}",
        "",
        "a:1 1 USD",
        "b:1 -1 USD",
    ]
    expected = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    assert journal_hash("post", journal) == expected
    assert validate_journal(journal) == (canonical if metadata else "{}")


def test_account_codes_are_readable_segments():
    validate_account("worker:42:benefits:health", "liability", "worker", "USD")
    for bad in ("Worker:42", "worker", "worker::x", "worker:42:", "wörker:1"):
        with pytest.raises(InvalidJournal.__mro__[1], match="account code"):
            validate_account(bad, "asset", "worker", "USD")


def test_totals_track_pending_and_release():
    totals = Totals("asset", floor=0)
    totals.apply(10_000, pending=False)
    totals.apply(-3_000, pending=True)
    assert (totals.posted, totals.available) == (10_000, 7_000)
    totals.apply(-3_000, pending=True, release=True)
    totals.apply(-2_000, pending=False)
    assert (totals.posted, totals.available, totals.pending_credits) == (8_000, 8_000, 0)
    assert not totals.breaches_floor()
    totals.apply(-8_001, pending=False)
    assert totals.breaches_floor()


def test_partial_post_of_two_leg_reservation():
    pending = (LegSpec("escrow:1", -50_000, "USD"), LegSpec("cash:1", 50_000, "USD"))
    assert scale_two_leg_pending(pending, 20_000) == (
        LegSpec("cash:1", 20_000, "USD"),
        LegSpec("escrow:1", -20_000, "USD"),
    )
    with pytest.raises(PendingStateError, match="only 50000 is reserved"):
        scale_two_leg_pending(pending, 50_001)
    with pytest.raises(PendingStateError, match="positive integer"):
        scale_two_leg_pending(pending, 0)


def test_partial_post_cannot_exceed_or_flip_or_add_accounts():
    pending = (LegSpec("a:1", 300, "USD"), LegSpec("b:1", -300, "USD"))
    check_partial_post(pending, (LegSpec("a:1", 100, "USD"), LegSpec("b:1", -100, "USD")))
    with pytest.raises(PendingStateError, match="reserved"):
        check_partial_post(pending, (LegSpec("a:1", 301, "USD"), LegSpec("b:1", -301, "USD")))
    with pytest.raises(PendingStateError, match="reserved"):
        check_partial_post(pending, (LegSpec("a:1", -100, "USD"), LegSpec("b:1", 100, "USD")))
    with pytest.raises(PendingStateError, match="not part"):
        check_partial_post(pending, (LegSpec("c:1", 100, "USD"), LegSpec("b:1", -100, "USD")))
