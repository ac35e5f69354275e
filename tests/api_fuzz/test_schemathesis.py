"""Schemathesis fuzzes the whole API against the OpenAPI document it serves.

The document comes from `/api/v1/openapi.json` of the WSGI application itself, so what is
fuzzed is what clients read. Every operation in it is called, authenticated the way its
real callers are: a worker's own API key (ledger, benefits, pools, `/me`), a platform's key
holding every platform scope (`/platform/...`), a signed-in person's session with its CSRF
token (`/keys`, which keys cannot reach). Every response must pass `not_a_server_error`,
`response_schema_conformance`, `status_code_conformance` and `negative_data_rejection`
(data the schema forbids gets a 4xx).

The document declares no OpenAPI links; the stateful test follows the links Schemathesis
infers from it (a pool's slug from `GET /pools` into the pool's paths, a claim id into its
decision, a clearing batch id into its statement, a key id into its revocation).

Bounded and repeatable: a fixed seed, derandomized generation, no example database, a fixed
number of generated cases per operation on top of Schemathesis' deterministic coverage cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis import checks

from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.api import services as api_keys
from keel.gateway import services as gateway
from keel.pools import services as pools
from keel.pools.rules.pool_rules import broodfonds_default, rules_to_json

SEED = 20260301
# Generated cases per operation in the fuzzing phase; the coverage phase adds its own
# boundary and schema-violating cases, as many as each operation's schema calls for.
EXAMPLES_PER_OPERATION = 15
STATEFUL_SCENARIOS = 25
STATEFUL_STEPS = 10
CHECKS = [
    checks.not_a_server_error,
    checks.response_schema_conformance,
    checks.status_code_conformance,
    checks.negative_data_rejection,
]
PLATFORM_SCOPES = ["bundles:write", "clearing:read", "earnings:write", "workers:link"]
WORKER_SCOPES = ["ledger:read", "pools:read", "pools:write"]
# Who calls each tag's operations. A new router's tag must be added here, or its operations
# fail the fuzz test below: every operation is fuzzed with its real callers' credentials.
CALLER_BY_TAG = {
    "system": "worker",
    "ledger": "worker",
    "benefits": "worker",
    "pools": "worker",
    "platform": "platform",
    "keys": "session",
}

config = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {
            "max-examples": EXAMPLES_PER_OPERATION,
            "deterministic": True,
            "database": "none",
            # Credentials come from the world below; fuzzing them would only test that a
            # missing key is refused, which the API's own auth tests do exactly.
            "with-security-parameters": False,
        },
    }
)
schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", get_wsgi_application(), config=config
)


@dataclass(frozen=True)
class Credentials:
    headers: dict[str, str]
    cookies: dict[str, str] | None = None

    def kwargs(self) -> dict[str, Any]:
        return {"headers": dict(self.headers), "cookies": dict(self.cookies or {})}


@dataclass(frozen=True)
class World:
    callers: dict[str, Credentials]

    def credentials(self, operation: Any) -> Credentials:
        [tag] = operation.tags or ["untagged"]
        assert tag in CALLER_BY_TAG, f"{operation.label}: no caller for the tag {tag!r}"
        return self.callers[CALLER_BY_TAG[tag]]


def _person(email: str, name: str) -> User:
    return create_worker(email, name=name, password="fuzz-harbour-2026", currency="EUR")


def _build_world() -> World:
    """Something behind every path: a linked worker with contributions, a clearing batch
    and a bundle on the platform, a pool with a claim to decide and an open vote, keys to
    list and revoke."""
    today = timezone.localdate()
    worker = create_worker("maya@example.org", name="Maya", password="fuzz-harbour-2026")
    operator = create_worker("ops@dash.example", name="Dash Ops", password="fuzz-harbour-2026")
    platform = gateway.create_platform(
        "Dash",
        operator=operator,
        policy={"currency": "USD", "rate_bps": 400},
        effective_from=today - timedelta(days=60),
    )
    gateway.link_with_code(platform, "dasher-1", gateway.create_link_code(worker))
    yesterday = today - timedelta(days=1)
    gateway.record_events(
        platform,
        [
            {
                "event_id": f"trip-{ref}",
                "worker_ref": ref,
                "occurred_at": f"{yesterday.isoformat()}T12:00:00Z",
                "gross": 24_500,
                "currency": "USD",
            }
            # One credited to Maya, one held in suspense for a reference nobody linked.
            for ref in ("dasher-1", "dasher-2")
        ],
    )
    # Closed today, the day the events were received: a batch the platform has part paid.
    [batch] = gateway.close_period(platform, today, today)
    gateway.record_settlement(batch, reference="wire-1", amount=500, received_on=today)
    gateway.offer_bundle(
        platform,
        "dasher-1",
        "bundle-1",
        "Lunch rush",
        {
            "start": (today + timedelta(days=7 - today.weekday())).isoformat(),
            "weeks": 4,
            "min_tasks_per_week": 20,
            "rate_per_task": 600,
            "min_weekly_earnings": 12_000,
        },
    )

    # Maya acts in pools as herself: steward of a small fund with two more members.
    ben, cy = _person("ben@example.org", "Ben Baker"), _person("cy@example.org", "Cy Carpenter")
    rules = rules_to_json(broodfonds_default("EUR"))
    rules.update(
        {"min_members": 2, "approvals_required": 1, "admission_by_vote": False, "waiting_months": 0}
    )
    # Members since the first of the month, so a sickness from then is covered.
    month = today.replace(day=1)
    fund = pools.create_pool(
        worker, name="Bakers Fund", rules=rules, tier_gift=150_000, today=month
    )
    pools.apply(fund, ben, tier_gift=100_000, today=month)
    pools.apply(fund, cy, tier_gift=200_000, today=month)
    for member in (worker, ben, cy):
        pools.pay_own_deposit(fund, member, month)
    pools.report_own_claim(fund, ben, start_date=month)
    pools.propose_rule_change(fund, cy, {"deposit_rate_bps": 500})

    _, worker_key = api_keys.create_key(worker, "fuzz", WORKER_SCOPES)
    _, platform_key = gateway.create_platform_key(platform, operator, "fuzz", PLATFORM_SCOPES)
    # The session belongs to someone else than the key's worker, so revoking keys through
    # /keys never revokes the key the other operations authenticate with.
    kim = create_worker("kim@example.org", name="Kim", password="fuzz-harbour-2026")
    for name in ("payroll sync", "tax export"):
        api_keys.create_key(kim, name, ["ledger:read"])
    browser = Client()
    browser.force_login(kim)
    csrf = "fuzzCSRFtokenfuzzCSRFtokenfuzzCS"  # 32 characters of the token alphabet
    return World(
        callers={
            "worker": Credentials({"Authorization": f"Bearer {worker_key}"}),
            "platform": Credentials({"Authorization": f"Bearer {platform_key}"}),
            "session": Credentials(
                {"X-CSRFToken": csrf},
                {"sessionid": browser.cookies["sessionid"].value, "csrftoken": csrf},
            ),
        }
    )


@pytest.fixture(scope="module")
def shared_world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    """Built once for the module inside a transaction rolled back at its end; each test's
    own transaction (the `db` fixture) nests in it as a savepoint, so every test starts
    from this world and leaves nothing behind (as Django's setUpTestData does)."""
    # A real WSGI handler closes "old" database connections when a request starts and ends,
    # which would close the transaction under the test; Django's test client detaches the
    # same receiver for the same reason. The calls run in this thread, on this connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with django_db_blocker.unblock(), transaction.atomic():
            yield _build_world()
            transaction.set_rollback(True)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def world(shared_world: World, db: None) -> World:
    # API keys are rate limited per key id, counted in the cache: every test uses the same
    # keys, and one test's requests must not be charged to the next.
    cache.clear()
    return shared_world


def _authenticated(response: Any, case: Any) -> None:
    # Every call carries its caller's valid credentials: a 401 means the harness (or the
    # API's authentication) is broken, and the fuzzing would silently test nothing.
    assert response.status_code != 401, f"{case.operation.label}: {response.text}"


@schema.parametrize()
# One operation's generated cases share the test's database on purpose: what earlier cases
# wrote (claims, links, keys) is more for later ones to trip over. The other health checks
# judge how fast data is generated on a busy machine, not the API.
@settings(suppress_health_check=list(HealthCheck))
def test_every_operation_survives_fuzzing(case: Any, world: World) -> None:
    response = case.call_and_validate(**world.credentials(case.operation).kwargs(), checks=CHECKS)
    _authenticated(response, case)


def test_linked_operations_survive_stateful_fuzzing(world: World) -> None:
    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return world.credentials(case.operation).kwargs()

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)
            _authenticated(response, case)

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )


def test_every_documented_operation_is_fuzzed_with_a_caller() -> None:
    documented = {
        (method.upper(), path)
        for path, item in schema.raw_schema["paths"].items()
        for method in item
    }
    # An operation Schemathesis could not load would be left out of the fuzzing silently.
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(operation.method.upper(), operation.path) for operation in operations} == documented
    tags = {tag for operation in operations for tag in operation.tags or ["untagged"]}
    assert tags == set(CALLER_BY_TAG)
