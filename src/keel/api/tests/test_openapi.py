"""The OpenAPI document is served, complete, and truthful about errors."""

from __future__ import annotations

from django.test import Client

EXPECTED_OPERATIONS = {
    ("get", "/api/v1/health"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/scopes"),
    ("get", "/api/v1/ledger/accounts"),
    ("get", "/api/v1/ledger/accounts/{code}"),
    ("get", "/api/v1/ledger/journals"),
    ("get", "/api/v1/keys"),
    ("post", "/api/v1/keys"),
    ("delete", "/api/v1/keys/{id}"),
    ("post", "/api/v1/platform/earnings"),
    ("post", "/api/v1/platform/corrections"),
    ("get", "/api/v1/platform/corrections"),
    ("post", "/api/v1/platform/links"),
    ("get", "/api/v1/platform/links"),
    ("delete", "/api/v1/platform/links/{worker_ref}"),
    ("get", "/api/v1/platform/suspense"),
    ("get", "/api/v1/platform/policy"),
    ("get", "/api/v1/platform/clearing"),
    ("get", "/api/v1/platform/clearing/{id}"),
    ("get", "/api/v1/platform/clearing/{id}/statement.csv"),
    ("get", "/api/v1/benefits"),
    ("post", "/api/v1/platform/bundles"),
    ("get", "/api/v1/platform/bundles"),
    ("get", "/api/v1/pools"),
    ("get", "/api/v1/pools/{slug}"),
    ("get", "/api/v1/pools/{slug}/ledger"),
    ("get", "/api/v1/pools/{slug}/claims"),
    ("post", "/api/v1/pools/{slug}/claims"),
    ("post", "/api/v1/pools/{slug}/claims/{claim_id}/decision"),
    ("post", "/api/v1/pools/{slug}/votes/{vote_id}/ballot"),
    ("post", "/api/v1/pools/simulate"),
}
ERROR_REF = "#/components/schemas/ErrorOut"
UNSAFE = {"post", "put", "patch", "delete"}


def load(db=None) -> dict:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def test_document_lists_every_operation(db):
    document = load()
    assert document["info"]["title"] == "Keel API"
    assert {(method, path) for method, path, _ in operations(document)} == EXPECTED_OPERATIONS


def test_every_operation_declares_its_error_responses(db):
    document = load()
    for method, path, operation in operations(document):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        success = [int(code) for code in responses if int(code) < 400]
        errors = {int(code) for code in responses if int(code) >= 400}
        assert len(success) == 1, where
        assert 500 in errors, where
        if operation.get("parameters") or operation.get("requestBody"):
            assert 422 in errors, where
        if operation.get("security"):
            # Unauthenticated, and refused (scope, CSRF, key on a session-only endpoint).
            assert {401, 403} <= errors, where
        if "{" in path:
            assert 404 in errors, where
        for code in errors:
            schema = responses[str(code)]["content"]["application/json"]["schema"]
            assert schema == {"$ref": ERROR_REF}, (where, code)


def test_error_schema_is_the_documented_shape(db):
    schemas = load()["components"]["schemas"]
    assert set(schemas["ErrorOut"]["properties"]) == {"error"}
    assert set(schemas["ErrorBody"]["properties"]) == {"code", "message", "field", "details"}
    assert set(schemas["ErrorDetail"]["properties"]) == {"code", "message", "field"}


def test_security_schemes_cover_keys_and_sessions(db):
    document = load()
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKeyBearer"] == {"type": "http", "scheme": "bearer"}
    assert schemes["ApiKeyHeader"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["SessionAuth"] == {"type": "apiKey", "in": "cookie", "name": "sessionid"}
    by_operation = {(m, p): op.get("security") for m, p, op in operations(document)}
    assert by_operation[("get", "/api/v1/health")] is None
    assert by_operation[("post", "/api/v1/keys")] == [{"SessionAuth": []}]
    assert by_operation[("get", "/api/v1/ledger/accounts")] == [
        {"ApiKeyBearer": []},
        {"ApiKeyHeader": []},
        {"SessionAuth": []},
    ]


def test_money_fields_are_integers(db):
    schemas = load()["components"]["schemas"]
    for name in ("posted", "pending", "available", "pending_debits", "pending_credits"):
        assert schemas["BalanceOut"]["properties"][name]["type"] == "integer"
    assert schemas["LegOut"]["properties"]["amount"]["type"] == "integer"


def test_docs_page_loads(db):
    assert Client().get("/api/v1/docs").status_code == 200
