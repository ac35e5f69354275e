"""The caller's ledger through the API: exact balances, and nothing of anyone else's."""

from __future__ import annotations

from datetime import date

import pytest

from keel.api import services
from keel.ledger import services as ledger
from keel.ledger.rules import JournalSpec, LegSpec

from .conftest import key_client, post


@pytest.fixture
def paid(alice_books):
    """$1,000 from Upwork on 2 March with a $100 fee, then $250 on 9 March."""
    b = alice_books
    first = post(
        "upwork:T1",
        (b["cash"], 90_000),
        (b["fees"], 10_000),
        (b["income"], -100_000),
        memo="Logo project",
        metadata={"contract": "T1"},
    )
    second = post("upwork:T2", (b["cash"], 25_000), (b["income"], -25_000), on=date(2026, 3, 9))
    return {"first": first, "second": second, **b}


def test_accounts_lists_my_balances_in_minor_units(session, alice, paid):
    response = session.get("/api/v1/ledger/accounts")
    assert response.status_code == 200
    uid = alice.pk
    assert response.json() == [
        {
            "account": f"worker:{uid}:cash",
            "kind": "asset",
            "currency": "USD",
            "posted": 115_000,
            "pending": 0,
            "pending_debits": 0,
            "pending_credits": 0,
            "available": 115_000,
            "floor": 0,
            "as_of": None,
        },
        {
            "account": f"worker:{uid}:cash:eur",
            "kind": "asset",
            "currency": "EUR",
            "posted": 0,
            "pending": 0,
            "pending_debits": 0,
            "pending_credits": 0,
            "available": 0,
            "floor": 0,
            "as_of": None,
        },
        {
            "account": f"worker:{uid}:expenses:fees",
            "kind": "expense",
            "currency": "USD",
            "posted": 10_000,
            "pending": 0,
            "pending_debits": 0,
            "pending_credits": 0,
            "available": 10_000,
            "floor": None,
            "as_of": None,
        },
        {
            "account": f"worker:{uid}:income:upwork",
            "kind": "income",
            "currency": "USD",
            "posted": 125_000,
            "pending": 0,
            "pending_debits": 0,
            "pending_credits": 0,
            "available": 125_000,
            "floor": None,
            "as_of": None,
        },
    ]
    assert all(
        isinstance(value, int)
        for row in response.json()
        for value in row.values()
        if not isinstance(value, str) and value is not None
    )


def test_accounts_by_key_with_scope(make_key, alice, paid):
    _, plaintext = make_key(("ledger:read",))
    response = key_client(plaintext).get("/api/v1/ledger/accounts")
    assert response.status_code == 200
    assert [row["account"] for row in response.json()] == [
        f"worker:{alice.pk}:cash",
        f"worker:{alice.pk}:cash:eur",
        f"worker:{alice.pk}:expenses:fees",
        f"worker:{alice.pk}:income:upwork",
    ]


def test_accounts_do_not_include_other_peoples(session, alice, paid, bob_books):
    codes = [row["account"] for row in session.get("/api/v1/ledger/accounts").json()]
    assert all(code.startswith(f"worker:{alice.pk}:") for code in codes)
    assert bob_books["cash"] not in codes


def test_one_account_now_and_as_of(session, paid):
    now = session.get(f"/api/v1/ledger/accounts/{paid['cash']}")
    assert now.status_code == 200
    assert (now.json()["posted"], now.json()["as_of"]) == (115_000, None)
    before = session.get(f"/api/v1/ledger/accounts/{paid['cash']}", {"as_of": "2026-03-08"})
    assert before.status_code == 200
    assert (before.json()["posted"], before.json()["as_of"]) == (90_000, "2026-03-08")
    earlier = session.get(f"/api/v1/ledger/accounts/{paid['cash']}", {"as_of": "2026-03-01"})
    assert earlier.json()["posted"] == 0


def test_pending_reservation_shows_in_available(session, paid):
    ledger.reserve(
        JournalSpec(
            idempotency_key="hold:1",
            kind="transfer",
            effective_date=date(2026, 3, 10),
            legs=(LegSpec(paid["fees"], 5_000, "USD"), LegSpec(paid["cash"], -5_000, "USD")),
        )
    )
    body = session.get(f"/api/v1/ledger/accounts/{paid['cash']}").json()
    assert (body["posted"], body["pending_credits"], body["pending"], body["available"]) == (
        115_000,
        5_000,
        -5_000,
        110_000,
    )


@pytest.mark.parametrize(
    "as_of", ["2026-13-01", "yesterday", "1700000000", "2026-03-02T00:00:00", "2026-3-2"]
)
def test_bad_as_of_is_422_naming_as_of(session, paid, as_of):
    response = session.get(f"/api/v1/ledger/accounts/{paid['cash']}", {"as_of": as_of})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["field"] == "as_of"
    assert [d["field"] for d in error["details"]] == ["as_of"]


def test_someone_elses_account_is_404_like_a_missing_one(session, alice, bob_books):
    theirs = session.get(f"/api/v1/ledger/accounts/{bob_books['cash']}")
    missing = session.get(f"/api/v1/ledger/accounts/worker:{alice.pk}:nope")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == {
        "error": {
            "code": "unknown_account",
            "message": f"account {bob_books['cash']} does not exist",
            "field": "code",
            "details": [],
        }
    }
    assert missing.json()["error"]["code"] == "unknown_account"


def test_journals_newest_first_with_legs(session, alice, paid):
    response = session.get("/api/v1/ledger/journals")
    assert response.status_code == 200
    body = response.json()
    assert body["next_before_id"] is None
    assert [j["id"] for j in body["items"]] == [paid["second"], paid["first"]]
    first = body["items"][1]
    assert {k: first[k] for k in ("kind", "status", "effective_date", "memo", "metadata")} == {
        "kind": "income",
        "status": "posted",
        "effective_date": "2026-03-02",
        "memo": "Logo project",
        "metadata": {"contract": "T1"},
    }
    # Legs in the order they were posted.
    assert [(leg["account"], leg["amount"], leg["currency"]) for leg in first["legs"]] == [
        (paid["cash"], 90_000, "USD"),
        (paid["fees"], 10_000, "USD"),
        (paid["income"], -100_000, "USD"),
    ]
    assert all(leg["own"] for leg in first["legs"])


def test_journals_are_keyset_paginated(session, alice_books):
    b = alice_books
    ids = [post(f"gig:{n}", (b["cash"], 100 + n), (b["income"], -(100 + n))) for n in range(5)]
    page1 = session.get("/api/v1/ledger/journals", {"limit": 2}).json()
    assert [j["id"] for j in page1["items"]] == [ids[4], ids[3]]
    assert page1["next_before_id"] == ids[3]
    page2 = session.get(
        "/api/v1/ledger/journals", {"limit": 2, "before_id": page1["next_before_id"]}
    ).json()
    assert [j["id"] for j in page2["items"]] == [ids[2], ids[1]]
    page3 = session.get(
        "/api/v1/ledger/journals", {"limit": 2, "before_id": page2["next_before_id"]}
    ).json()
    assert [j["id"] for j in page3["items"]] == [ids[0]]
    assert page3["next_before_id"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"before_id": 0}, "before_id"),
    ],
)
def test_journal_paging_parameters_are_validated(session, params, field):
    response = session.get("/api/v1/ledger/journals", params)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


def test_no_one_sees_anothers_journals(session, alice, paid, bob, bob_books, make_key):
    theirs = post("bob:1", (bob_books["cash"], 700), (bob_books["income"], -700))
    mine = [j["id"] for j in session.get("/api/v1/ledger/journals").json()["items"]]
    assert theirs not in mine
    _, bobs_key = make_key(user=bob)
    bobs = key_client(bobs_key).get("/api/v1/ledger/journals").json()["items"]
    assert [j["id"] for j in bobs] == [theirs]
    assert key_client(bobs_key).get(f"/api/v1/ledger/accounts/{paid['cash']}").status_code == 404


def test_shared_journal_marks_the_legs_that_are_not_mine(session, alice, paid, bob_books):
    shared = post("split:1", (paid["cash"], 300), (bob_books["income"], -300))
    item = session.get("/api/v1/ledger/journals").json()["items"][0]
    assert item["id"] == shared
    assert [(leg["account"], leg["own"]) for leg in item["legs"]] == [
        (paid["cash"], True),
        (bob_books["income"], False),
    ]


def test_journals_need_the_scope(make_key, paid):
    _, plaintext = make_key(("clearing:read",))
    response = key_client(plaintext).get("/api/v1/ledger/journals")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


def test_platform_key_reads_the_platforms_books_not_its_operators(alice, paid):
    ledger.open_account(
        "platform:7:clearing",
        owner_type="platform",
        owner_id=7,
        kind="liability",
        currency="USD",
    )
    ledger.open_account(
        "platform:7:expense", owner_type="platform", owner_id=7, kind="expense", currency="USD"
    )
    contribution = post("acme:c1", ("platform:7:expense", 4_000), ("platform:7:clearing", -4_000))
    _, plaintext = services.create_key(
        alice, "acme payroll", ["ledger:read"], owner_type="platform", owner_id=7
    )
    client = key_client(plaintext)
    me = client.get("/api/v1/me").json()
    assert (me["owner_type"], me["owner_id"]) == ("platform", 7)
    accounts = client.get("/api/v1/ledger/accounts").json()
    assert [(a["account"], a["posted"]) for a in accounts] == [
        ("platform:7:clearing", 4_000),
        ("platform:7:expense", 4_000),
    ]
    assert client.get(f"/api/v1/ledger/accounts/{paid['cash']}").status_code == 404
    journals = client.get("/api/v1/ledger/journals").json()["items"]
    assert [j["id"] for j in journals] == [contribution]
