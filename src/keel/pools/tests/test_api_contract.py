"""The pools API's OpenAPI contract, where Schemathesis (tests/api_fuzz) found it untrue:
schema names that replaced other domains' schemas in the document, and 400 answers the
operations did not declare."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from keel.pools import services
from keel.pools.models import Ballot, Claim, ClaimDecision

from .conftest import this_month


def document() -> dict[str, Any]:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def component(doc: dict[str, Any], ref: str) -> dict[str, Any]:
    prefix = "#/components/schemas/"
    assert ref.startswith(prefix), ref
    return doc["components"]["schemas"][ref.removeprefix(prefix)]


def ok_schema(doc: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    responses = doc["paths"][path][method]["responses"]
    [status] = [code for code in responses if int(code) < 400]
    return responses[status]["content"]["application/json"]["schema"]


def item_ref(schema: dict[str, Any], field: str) -> str:
    """The $ref of `field` in an object schema: a list's items, or a nullable's object."""
    prop = schema["properties"][field]
    if "items" in prop:
        return str(prop["items"]["$ref"])
    [ref] = [option["$ref"] for option in prop.get("anyOf", [prop]) if "$ref" in option]
    return str(ref)


def test_pool_schemas_leave_the_system_and_ledger_schemas_alone(db):
    doc = document()
    me = component(doc, ok_schema(doc, "get", "/api/v1/me")["$ref"])
    assert set(me["required"]) == {
        "id",
        "email",
        "name",
        "home_currency",
        "roles",
        "via",
        "scopes",
        "owner_type",
        "owner_id",
    }
    page = component(doc, ok_schema(doc, "get", "/api/v1/ledger/journals")["$ref"])
    journal = component(doc, page["properties"]["items"]["items"]["$ref"])
    ledger_leg = component(doc, item_ref(journal, "legs"))
    assert set(ledger_leg["required"]) == {"account", "amount", "currency", "own"}

    pool = component(doc, ok_schema(doc, "get", "/api/v1/pools/{slug}")["$ref"])
    membership = component(doc, item_ref(pool, "me"))
    assert set(membership["required"]) == {"number", "role", "status"}
    entries = ok_schema(doc, "get", "/api/v1/pools/{slug}/ledger")
    entry = component(doc, entries["items"]["$ref"])
    pool_leg = component(doc, item_ref(entry, "legs"))
    assert set(pool_leg["required"]) == {"account", "who", "amount", "change"}


POSTS = [
    "/api/v1/pools/simulate",
    "/api/v1/pools/{slug}/claims",
    "/api/v1/pools/{slug}/claims/{claim_id}/decision",
    "/api/v1/pools/{slug}/votes/{vote_id}/ballot",
]


@pytest.mark.parametrize("path", POSTS)
def test_a_body_that_is_not_json_is_a_declared_400(login, fund, ana, ben, path):
    claim = services.report_own_claim(fund, ben, start_date=this_month())
    vote = services.propose_rule_change(fund, ben, {"deposit_rate_bps": 500})
    before = (Claim.objects.count(), ClaimDecision.objects.count(), Ballot.objects.count())
    url = path.format(slug=fund.slug, claim_id=claim.pk, vote_id=vote.pk)

    response = login(ana).post(url, b'{"start_date": ', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    assert "400" in document()["paths"][path]["post"]["responses"]
    after = (Claim.objects.count(), ClaimDecision.objects.count(), Ballot.objects.count())
    assert after == before
