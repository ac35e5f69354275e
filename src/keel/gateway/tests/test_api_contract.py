"""The gateway API's OpenAPI contract, where Schemathesis (tests/api_fuzz) found it untrue: a
body that is not JSON is answered 400, which the operations did not declare."""

from __future__ import annotations

import pytest
from django.test import Client

from keel.accounts.models import User
from keel.gateway import services
from keel.gateway.models import Bundle, Platform, WorkerLink

PLATFORM_SCOPES = ("earnings:write", "workers:link", "clearing:read", "bundles:write")


@pytest.mark.parametrize("path", ["/api/v1/platform/links", "/api/v1/platform/bundles"])
def test_a_body_that_is_not_json_is_a_declared_400(
    platform: Platform, operator: User, link: WorkerLink, path: str
) -> None:
    _, key = services.create_platform_key(platform, operator, "test", PLATFORM_SCOPES)
    before = (WorkerLink.objects.count(), Bundle.objects.count())

    response = Client().post(
        path,
        b'{"worker_ref": ',
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    document = Client().get("/api/v1/openapi.json").json()
    assert "400" in document["paths"][path]["post"]["responses"]
    assert (WorkerLink.objects.count(), Bundle.objects.count()) == before
