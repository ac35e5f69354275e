"""The pools API: sessions and personal keys with pools:read / pools:write, confinement
(another tenant's private pool is 404 everywhere), pseudonyms for outsiders of a public
pool, claims, decisions and ballots with the services' refusals mapped to 403, 409 and
422, and the bounded synchronous simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from keel.api import services as api_keys
from keel.gateway import services as gateway
from keel.pools import services
from keel.pools.models import Ballot, Claim, ClaimDecision, VoteStatus
from keel.pools.rules.simulate import SimulationInput, simulate

from .conftest import EUR_1000, EUR_1500, this_month

NAMES = ("Ana Steward", "Ben Baker", "Cy Carpenter")
EMAILS = ("ana@example.org", "ben@example.org", "cy@example.org")


def key_client(user, *scopes: str) -> Client:
    _, plaintext = api_keys.create_key(user, "script", list(scopes))
    return Client(headers={"Authorization": f"Bearer {plaintext}"})


def post(client: Client, path: str, body: Any) -> Any:
    return client.post(f"/api/v1{path}", json.dumps(body), content_type="application/json")


def error(response) -> dict[str, Any]:
    return response.json()["error"]


def test_my_pools(login, fund, public_fund, ben, dee):
    body = login(ben).get("/api/v1/pools").json()
    assert [(p["slug"], p["my_status"], p["my_role"], p["members"]) for p in body] == [
        (fund.slug, "active", "member", 3),
        (public_fund.slug, "active", "member", 2),
    ]
    assert login(dee).get("/api/v1/pools").json() == []
    assert Client().get("/api/v1/pools").status_code == 401


def test_keys_need_the_pools_scopes(fund, ben):
    reader = key_client(ben, "pools:read")
    assert reader.get(f"/api/v1/pools/{fund.slug}").status_code == 200
    ledger_only = key_client(ben, "ledger:read")
    refused = ledger_only.get(f"/api/v1/pools/{fund.slug}")
    assert refused.status_code == 403 and error(refused)["code"] == "insufficient_scope"
    claim = post(reader, f"/pools/{fund.slug}/claims", {"start_date": this_month().isoformat()})
    assert claim.status_code == 403 and error(claim)["code"] == "insufficient_scope"
    assert not Claim.objects.exists()


def test_a_platforms_key_cannot_act_in_pools(fund, ana):
    platform = gateway.create_platform("Dash", operator=ana, policy={"currency": "EUR"})
    _, plaintext = api_keys.create_key(ana, "p", ["pools:read"], "platform", platform.pk)
    response = Client(headers={"X-API-Key": plaintext}).get("/api/v1/pools")
    assert response.status_code == 403 and error(response)["code"] == "worker_only"


def test_a_pool_for_a_member_names_everyone(login, fund, ben):
    body = login(ben).get(f"/api/v1/pools/{fund.slug}").json()
    assert body["names_visible"] is True
    assert [(m["name"], m["tier_gift"], m["reserve"]) for m in body["members"]] == [
        ("Ana Steward (Member 1)", EUR_1500, 6_750),
        ("Ben Baker (Member 2)", EUR_1000, 4_500),
        ("Cy Carpenter (Member 3)", 200_000, 9_000),
    ]
    assert body["me"] == {"number": 2, "role": "member", "status": "active"}
    assert body["money_held"] == 20_250
    assert body["rules"]["approvals_required"] == 1
    assert body["rules_text"][0].startswith("This is a sick-leave fund in EUR.")


def test_another_tenants_private_pool_is_not_found(login, fund, ben, dee, other_fund):
    claim = services.report_own_claim(fund, ben, start_date=this_month())
    vote = services.propose_rule_change(fund, ben, {"waiting_months": 1})
    client = login(dee)
    for path in (
        f"/api/v1/pools/{fund.slug}",
        f"/api/v1/pools/{fund.slug}/ledger",
        f"/api/v1/pools/{fund.slug}/claims",
        "/api/v1/pools/no-such-pool",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert error(response)["code"] == "not_found"
    for path, body in (
        (f"/pools/{fund.slug}/claims", {"start_date": this_month().isoformat()}),
        (f"/pools/{fund.slug}/claims/{claim.pk}/decision", {"decision": "approve"}),
        (f"/pools/{fund.slug}/votes/{vote.pk}/ballot", {"choice": "yes"}),
        # Dee's own pool does not reach another pool's claim or vote.
        (f"/pools/{other_fund.slug}/claims/{claim.pk}/decision", {"decision": "approve"}),
        (f"/pools/{other_fund.slug}/votes/{vote.pk}/ballot", {"choice": "yes"}),
    ):
        assert post(client, path, body).status_code == 404, path
    assert Claim.objects.count() == 1
    assert not ClaimDecision.objects.exists() and not Ballot.objects.exists()


def test_an_outsider_of_a_public_pool_sees_pseudonyms(login, public_fund, ana, ben, dee):
    claim = services.report_own_claim(
        public_fund, ben, start_date=this_month(), description="Ben Baker has the flu"
    )
    services.decide_claim(claim, ana, "approve")
    services.steward_run_month(public_fund, ana, this_month())
    client = login(dee)
    for path in ("", "/ledger", "/claims"):
        response = client.get(f"/api/v1/pools/{public_fund.slug}{path}")
        assert response.status_code == 200
        raw = response.content.decode()
        for text in (*NAMES, *EMAILS):
            assert text not in raw, (path, text)
    body = client.get(f"/api/v1/pools/{public_fund.slug}").json()
    assert [m["name"] for m in body["members"]] == [None, None]
    assert [m["pseudonym"] for m in body["members"]] == ["Member 1", "Member 2"]
    [claim_out] = client.get(f"/api/v1/pools/{public_fund.slug}/claims").json()
    assert claim_out["member"] == "Member 2" and claim_out["description"] is None
    gift = next(
        e
        for e in client.get(f"/api/v1/pools/{public_fund.slug}/ledger").json()
        if e["kind"] == "pool.gift"
    )
    assert {leg["who"] for leg in gift["legs"]} == {"Member 1", "Pool"}


def test_report_decide_and_the_ledger(login, fund, ana, ben, cy):
    reported = post(
        login(ben), f"/pools/{fund.slug}/claims", {"start_date": this_month().isoformat()}
    )
    assert reported.status_code == 201
    claim = reported.json()
    assert (claim["status"], claim["approvals"], claim["still_needed"]) == ("pending", 0, 1)

    own = post(
        login(ben), f"/pools/{fund.slug}/claims/{claim['id']}/decision", {"decision": "approve"}
    )
    assert own.status_code == 403 and error(own)["code"] == "forbidden"
    assert not ClaimDecision.objects.exists()

    no_reason = post(
        login(cy), f"/pools/{fund.slug}/claims/{claim['id']}/decision", {"decision": "reject"}
    )
    assert no_reason.status_code == 422
    assert (error(no_reason)["code"], error(no_reason)["field"]) == ("pool_error", "reason")

    approved = post(
        key_client(cy, "pools:write"),
        f"/pools/{fund.slug}/claims/{claim['id']}/decision",
        {"decision": "approve"},
    )
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    again = post(
        login(ana), f"/pools/{fund.slug}/claims/{claim['id']}/decision", {"decision": "approve"}
    )
    assert again.status_code == 409 and error(again)["code"] == "conflict"

    services.steward_run_month(fund, ana, this_month())
    ledger = login(cy).get(f"/api/v1/pools/{fund.slug}/ledger").json()
    gift = ledger[0]
    assert gift["kind"] == "pool.gift"
    # Ben's EUR 1,000 gift cut to 15%, given by Ana (1,500) and Cy (2,000) by tier.
    assert [(leg["who"], leg["change"]) for leg in gift["legs"]] == [
        ("Ana Steward (Member 1)", -6_429),
        ("Cy Carpenter (Member 3)", -8_571),
        ("Pool", -15_000),
    ]
    assert sum(leg["amount"] for leg in gift["legs"]) == 0
    claims = login(cy).get(f"/api/v1/pools/{fund.slug}/claims").json()
    assert claims[0]["gifts_received"] == 15_000


def test_claim_validation_errors_name_their_field(login, fund, ben):
    future = post(login(ben), f"/pools/{fund.slug}/claims", {"start_date": "2999-01-01"})
    assert future.status_code == 422 and error(future)["field"] == "start_date"
    missing = post(login(ben), f"/pools/{fund.slug}/claims", {})
    assert missing.status_code == 422 and error(missing)["field"] == "start_date"
    assert not Claim.objects.exists()


def test_an_outsider_cannot_claim_in_a_public_pool(login, public_fund, dee):
    response = post(
        login(dee), f"/pools/{public_fund.slug}/claims", {"start_date": this_month().isoformat()}
    )
    assert response.status_code == 403
    assert not Claim.objects.exists()


def test_ballots(login, fund, ana, ben, cy):
    vote = services.propose_rule_change(fund, ana, {"deposit_rate_bps": 500})
    cast = post(login(ben), f"/pools/{fund.slug}/votes/{vote.pk}/ballot", {"choice": "yes"})
    assert cast.status_code == 200
    assert cast.json()["tally"]["yes"] == 1
    twice = post(login(ben), f"/pools/{fund.slug}/votes/{vote.pk}/ballot", {"choice": "no"})
    assert twice.status_code == 409
    bad = post(login(cy), f"/pools/{fund.slug}/votes/{vote.pk}/ballot", {"choice": "maybe"})
    assert bad.status_code == 422 and error(bad)["field"] == "choice"
    passed = post(login(cy), f"/pools/{fund.slug}/votes/{vote.pk}/ballot", {"choice": "yes"})
    assert passed.json()["status"] == VoteStatus.PASSED
    assert services.current_rules(fund).deposit_rate_bps == 500
    closed = post(login(ana), f"/pools/{fund.slug}/votes/{vote.pk}/ballot", {"choice": "no"})
    assert closed.status_code == 409
    assert Ballot.objects.count() == 2


def test_simulate_agrees_with_the_simulator(login, ana):
    body = {"gifts": [150_000] * 10, "years": 2, "scenarios": 500, "seed": 3}
    response = post(login(ana), "/pools/simulate", body)
    assert response.status_code == 200
    expected = simulate(SimulationInput(gifts=(150_000,) * 10, years=2, scenarios=500, seed=3))
    answer = response.json()
    assert answer["cut_probability"] == expected.cut_probability
    assert answer["cut_probability_se"] == expected.cut_probability_se
    assert answer["required_deposit_rate_bps"] is None
    assert len(answer["result"]["reserves"]["p50"]) == 24
    priced = post(login(ana), "/pools/simulate", {**body, "target_no_cut_probability": 0.9})
    assert isinstance(priced.json()["required_deposit_rate_bps"], int)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"gifts": [150_000] * 10, "scenarios": 20_001}, "scenarios"),
        (
            {"gifts": [150_000] * 10, "scenarios": 6_000, "target_no_cut_probability": 0.9},
            "scenarios",
        ),
        ({"gifts": [150_000] * 1_000, "scenarios": 2_000}, "scenarios"),
        ({"gifts": [150_000]}, "gifts"),
        ({"gifts": [150_000, -5]}, "gifts"),
        ({"gifts": [150_000] * 3, "years": 0}, "years"),
        ({"gifts": [150_000] * 3, "target_no_cut_probability": 2}, "target_no_cut_probability"),
    ],
)
def test_simulate_refuses_bad_input_naming_the_field(login, ana, body, field):
    response = post(login(ana), "/pools/simulate", body)
    assert response.status_code == 422
    assert error(response)["field"] == field


def test_every_pools_operation_is_documented():
    text = (Path(__file__).parents[4] / "docs" / "api.md").read_text()
    section = text[text.index("## Pools") :]
    documented = {line.split("`")[1] for line in section.splitlines() if line.startswith("| `")}
    assert documented >= {
        "GET /pools",
        "GET /pools/{slug}",
        "GET /pools/{slug}/ledger",
        "GET /pools/{slug}/claims",
        "POST /pools/{slug}/claims",
        "POST /pools/{slug}/claims/{id}/decision",
        "POST /pools/{slug}/votes/{id}/ballot",
        "POST /pools/simulate",
    }
