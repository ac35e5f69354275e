"""Every error is {"error": {"code", "message", "field", "details"}}."""

from __future__ import annotations

import logging

import pytest
from django.db import DatabaseError
from django.http import Http404
from django.test import Client, RequestFactory

import keel
from keel.api.api import api
from keel.api.errors import dotted, field_from_loc
from keel.ledger.rules import FloorBreached, IdempotencyConflict, UnknownAccount

from .conftest import csrf_token


def post_key(session, payload, **extra):
    token = csrf_token(session)
    return session.post(
        "/api/v1/keys",
        payload,
        content_type="application/json",
        headers={"X-CSRFToken": token},
        **extra,
    )


def test_validation_errors_list_every_field_with_dotted_paths(session):
    response = post_key(session, {"scopes": ["ledger:read", 7]})
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "validation_error",
            "message": "name: Field required (and 1 more)",
            "field": "name",
            "details": [
                {"code": "missing", "message": "Field required", "field": "name"},
                {
                    "code": "string_type",
                    "message": "Input should be a valid string",
                    "field": "scopes.1",
                },
            ],
        }
    }


def test_missing_body_names_each_required_field(session):
    response = post_key(session, None)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("validation_error", "name")
    assert [(d["code"], d["field"]) for d in error["details"]] == [
        ("missing", "name"),
        ("missing", "scopes"),
    ]


def test_unparseable_body_is_400(session):
    token = csrf_token(session)
    response = session.post(
        "/api/v1/keys",
        "{not json",
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


def test_unknown_api_path_is_json_404(db):
    response = Client().get("/api/v1/no/such/thing")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": "no API endpoint at /api/v1/no/such/thing",
            "field": None,
            "details": [],
        }
    }


def test_health(db):
    response = Client().get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "version": keel.__version__}


def test_health_is_503_when_the_database_is_down(db, monkeypatch):
    monkeypatch.setattr("keel.api.services.database_ok", lambda: False)
    response = Client().get("/api/v1/health")
    assert response.status_code == 503
    assert response.json() == {
        "error": {
            "code": "database_unavailable",
            "message": "the database is unreachable",
            "field": None,
            "details": [],
        }
    }


def test_database_ok_reports_a_failing_query(db, monkeypatch):
    from keel.api import services

    class Broken:
        def __enter__(self):
            raise DatabaseError("connection refused")

        def __exit__(self, *exc):
            return False

    with monkeypatch.context() as patch:
        patch.setattr(services.connection, "cursor", lambda: Broken())
        assert services.database_ok() is False
    assert services.database_ok() is True


def _request():
    request = RequestFactory().get("/api/v1/anything")
    request.resolver_match = None
    return request


def test_unexpected_exception_is_500_without_internals(caplog):
    with caplog.at_level(logging.ERROR, logger="keel.api"):
        response = api.on_exception(_request(), RuntimeError("password=hunter2 at line 7"))
    assert response.status_code == 500
    body = response.content.decode()
    assert '"code": "internal_error"' in body or '"code":"internal_error"' in body
    assert "hunter2" not in body
    assert "RuntimeError" not in body
    assert "hunter2" in caplog.text  # logged for operators


def test_http404_hides_its_message():
    response = api.on_exception(_request(), Http404("No Account matches the given query."))
    assert response.status_code == 404
    assert b"Account" not in response.content
    assert b'"not_found"' in response.content


@pytest.mark.parametrize(
    ("exc", "status", "code", "field"),
    [
        (
            IdempotencyConflict("key k reused", field="idempotency_key"),
            409,
            "idempotency_conflict",
            "idempotency_key",
        ),
        (
            FloorBreached("below floor", field="journals[3].legs[0].amount"),
            422,
            "floor_breached",
            "journals.3.legs.0.amount",
        ),
        # Named in a body, not the URL: the request is wrong, the resource is not missing.
        (
            UnknownAccount("account x does not exist", field="legs[1].account"),
            422,
            "unknown_account",
            "legs.1.account",
        ),
    ],
)
def test_ledger_errors_keep_their_code_and_field(exc, status, code, field):
    import json

    response = api.on_exception(_request(), exc)
    assert response.status_code == status
    assert json.loads(response.content) == {
        "error": {"code": code, "message": exc.message, "field": field, "details": []}
    }


def test_field_paths():
    assert field_from_loc(("query", "as_of")) == "as_of"
    assert field_from_loc(("body", "payload", "legs", 0, "amount")) == "legs.0.amount"
    assert field_from_loc(("body", "payload")) == "payload"
    assert field_from_loc(("path", "id")) == "id"
    assert field_from_loc(()) is None
    assert dotted("legs[0].amount") == "legs.0.amount"
    assert dotted("journals[12].legs[3]") == "journals.12.legs.3"
    assert dotted(None) is None
