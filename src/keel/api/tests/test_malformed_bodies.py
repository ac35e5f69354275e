"""Bodies the server cannot parse are the client's error (4xx), found by Schemathesis
(tests/api_fuzz): a form Content-Type without its multipart boundary made the session's
CSRF check raise, and the API answered 500."""

from __future__ import annotations

from keel.api.models import ApiKey

from .conftest import csrf_token


def test_a_multipart_body_without_a_boundary_is_a_400(session, alice):
    token = csrf_token(session)

    response = session.post(
        "/api/v1/keys",
        b'{"name": "payroll sync", "scopes": ["ledger:read"]}',
        content_type="multipart/form-data",
        headers={"X-CSRFToken": token},
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "bad_request",
            "message": "the request body could not be parsed: Invalid boundary in multipart: None",
            "field": None,
            "details": [],
        }
    }
    assert not ApiKey.objects.filter(user=alice).exists()
