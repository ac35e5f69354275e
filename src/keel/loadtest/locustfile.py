"""The people of the load test, as Locust users: platforms, workers and pool members.

They act on the world `keel.loadtest.world` built (its JSON file is named by the
KEEL_LOAD_WORLD environment variable, or handed to `use_world`). `keel.loadtest.drive`
runs them headless; Locust's own command runs them too:

    KEEL_LOAD_WORLD=/path/world.json locust -f src/keel/loadtest/locustfile.py \\
        --host http://127.0.0.1:8000 --headless --users 20 --run-time 2m

Every answer is checked, not just its status: a log-in must redirect (a form shown again
is a refused password), a page must be the page (not a redirect to the log-in), and a
batch must create every event it sent. Each simulated person runs each of their
operations once when they start, then picks by the task weights.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from locust import HttpUser, between, task

from keel.loadtest import (
    LOG_IN,
    LOG_IN_PAGE,
    PLATFORM_BATCH,
    PLATFORM_RESEND,
    PLATFORM_SINGLE,
    POOL_APPROVE,
    POOL_CLAIM_PAGE,
    POOL_CLAIMS_API,
    POOL_PAGE,
    POOL_REPORT,
    WORKER_API_ACCOUNTS,
    WORKER_API_BENEFITS,
    WORKER_BENEFITS,
    WORKER_DASHBOARD,
    WORKER_INCOME,
)

WORLD_ENV = "KEEL_LOAD_WORLD"
EARNINGS = "/api/v1/platform/earnings"
BATCH_SIZES = (100, 1_000)
UNLINKED_SHARE = 0.1

_world: dict[str, Any] | None = None
# Numbers the simulated people in order of arrival: they pick their platform, worker or
# member by it, and it keeps their event ids apart.
_arrivals: Iterator[int] = itertools.count()
# Event ids differ between two runs of this file against one world, too.
_session = secrets.token_hex(3)
# Earnings events the platforms' requests created (answers that said so), for the
# throughput in events rather than requests.
_created_events = 0


def created_events() -> int:
    return _created_events


def use_world(world: dict[str, Any]) -> None:
    global _world
    _world = world


def world() -> dict[str, Any]:
    global _world
    if _world is None:
        path = os.environ.get(WORLD_ENV)
        if not path:
            raise RuntimeError(f"set {WORLD_ENV} to the world file keel.loadtest.world wrote")
        _world = json.loads(Path(path).read_text(encoding="utf-8"))
    return _world


def _page(user: HttpUser, path: str, name: str) -> str | None:
    """GET a page that must answer 200 itself; its text."""
    with user.client.get(path, name=name, allow_redirects=False, catch_response=True) as answer:
        if answer.status_code != 200:
            answer.failure(f"{answer.status_code} {answer.headers.get('Location', '')}")
            return None
        return str(answer.text)


def _csrf(user: HttpUser) -> str:
    return str(user.client.cookies.get("csrftoken") or "")


def _log_in(user: HttpUser, email: str, password: str) -> None:
    _page(user, "/accounts/login/", LOG_IN_PAGE)
    form = {"username": email, "password": password, "csrfmiddlewaretoken": _csrf(user)}
    with user.client.post(
        "/accounts/login/", data=form, name=LOG_IN, allow_redirects=False, catch_response=True
    ) as answer:
        # A refused password shows the form again (200); a lock-out answers 429.
        if answer.status_code != 302:
            answer.failure(f"log-in answered {answer.status_code}, not a redirect")


class PlatformUser(HttpUser):
    """A platform's systems posting earnings events with the platform's key: batches of
    100 to 1,000 events, single events as gigs finish, and now and then an event sent
    again (a retry after a lost answer), which must be recognised, not booked twice."""

    weight = 1
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.number = next(_arrivals)
        w = world()
        self.run_id = w["run"]
        self.platform = w["platforms"][self.number % len(w["platforms"])]
        self.headers = {"Authorization": f"Bearer {self.platform['key']}"}
        self.rng = random.Random(f"{self.run_id}:platform:{self.number}")
        self.sent = 0
        self.last: dict[str, Any] | None = None
        self.post_batch()
        self.post_single()
        self.send_again()

    def _event(self) -> dict[str, Any]:
        self.sent += 1
        rng, platform = self.rng, self.platform
        refs = platform["unlinked"] if rng.random() < UNLINKED_SHARE else platform["linked"]
        typical = platform["job_gross"]
        gross = max(100, round(rng.gauss(typical, typical * 0.35)))
        moment = datetime.now(UTC) - timedelta(seconds=rng.randrange(0, 6 * 3600))
        event: dict[str, Any] = {
            "event_id": f"load-{self.run_id}-{_session}-{self.number}-{self.sent}",
            "worker_ref": rng.choice(refs),
            "occurred_at": moment.isoformat().replace("+00:00", "Z"),
            "gross": gross,
            "currency": "USD",
            "jobs": 1,
            "description": "load test",
        }
        if rng.random() < 0.4:
            event["tips"] = rng.randrange(100, 800)
        return event

    def _post(self, events: list[dict[str, Any]], name: str, *, created: int) -> bool:
        """Post events, `created` of them new; whether the answer said exactly that."""
        global _created_events
        with self.client.post(
            EARNINGS, json={"events": events}, headers=self.headers, name=name, catch_response=True
        ) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code}: {answer.text[:300]}")
                return False
            counts = answer.json()["counts"]
            expected = {"events": len(events), "created": created, "exists": len(events) - created}
            if counts != expected:
                answer.failure(
                    f"sent {len(events)} events ({created} new), answer counted {counts}"
                )
                return False
            _created_events += created
            return True

    @task(1)
    def post_batch(self) -> None:
        events = [self._event() for _ in range(self.rng.randint(*BATCH_SIZES))]
        self._post(events, PLATFORM_BATCH, created=len(events))

    @task(6)
    def post_single(self) -> None:
        event = self._event()
        if self._post([event], PLATFORM_SINGLE, created=1):
            self.last = event

    @task(1)
    def send_again(self) -> None:
        if self.last is not None:
            self._post([self.last], PLATFORM_RESEND, created=0)


class WorkerUser(HttpUser):
    """A worker signed in to Keel reading their dashboard, income and benefits, and a
    program of theirs reading the API with their own key."""

    weight = 3
    wait_time = between(2, 5)

    def on_start(self) -> None:
        self.number = next(_arrivals)
        w = world()
        person = w["workers"][self.number % len(w["workers"])]
        self.api = {"Authorization": f"Bearer {person['key']}"}
        _log_in(self, person["email"], w["password"])
        self.dashboard()
        self.income()
        self.benefits()
        self.api_benefits()
        self.api_accounts()

    @task(3)
    def dashboard(self) -> None:
        _page(self, "/dashboard/", WORKER_DASHBOARD)

    @task(2)
    def income(self) -> None:
        _page(self, "/income/", WORKER_INCOME)

    @task(2)
    def benefits(self) -> None:
        _page(self, "/benefits/", WORKER_BENEFITS)

    @task(1)
    def api_benefits(self) -> None:
        self.client.get("/api/v1/benefits", headers=self.api, name=WORKER_API_BENEFITS)

    @task(1)
    def api_accounts(self) -> None:
        self.client.get("/api/v1/ledger/accounts", headers=self.api, name=WORKER_API_ACCOUNTS)


class PoolMemberUser(HttpUser):
    """A member of the load pools: opens a pool's page, reads its claims, approves other
    members' claims waiting for approval and asks the emergency fund for small grants
    (which the others then approve, and the grant is paid)."""

    weight = 2
    wait_time = between(2, 5)

    def on_start(self) -> None:
        self.number = next(_arrivals)
        w = world()
        person = w["workers"][self.number % w["members"]]
        # How the pools name this person to a fellow member: "Name (Member n)".
        self.me = f"{person['name']} ("
        self.pools = [p["slug"] for p in w["pools"]]
        self.emergency = next(p["slug"] for p in w["pools"] if p["kind"] == "emergency")
        self.rng = random.Random(f"{w['run']}:member:{self.number}")
        self.decided: set[int] = set()
        _log_in(self, person["email"], w["password"])
        self.open_pool()
        self.read_claims()
        self.report()
        self.approve()

    def _claims(self, slug: str) -> list[dict[str, Any]]:
        with self.client.get(
            f"/api/v1/pools/{slug}/claims", name=POOL_CLAIMS_API, catch_response=True
        ) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code}: {answer.text[:300]}")
                return []
            claims: list[dict[str, Any]] = answer.json()
            return claims

    @task(3)
    def open_pool(self) -> None:
        _page(self, f"/pools/{self.rng.choice(self.pools)}/", POOL_PAGE)

    @task(2)
    def read_claims(self) -> None:
        self._claims(self.rng.choice(self.pools))

    @task(3)
    def approve(self) -> None:
        for slug in self.rng.sample(self.pools, len(self.pools)):
            waiting = [
                c
                for c in self._claims(slug)
                if c["status"] == "pending"
                and c["id"] not in self.decided
                and not str(c["member"]).startswith(self.me)
            ]
            if waiting:
                break
        else:
            # Nothing left to approve: ask for a grant, so there is something again.
            self.report()
            return
        claim = self.rng.choice(waiting)["id"]
        path = f"/pools/{slug}/claims/{claim}/"
        _page(self, path, POOL_CLAIM_PAGE)
        form = {"decision": "approve", "reason": "", "csrfmiddlewaretoken": _csrf(self)}
        with self.client.post(
            f"{path}decide/",
            data=form,
            name=POOL_APPROVE,
            allow_redirects=False,
            catch_response=True,
        ) as answer:
            # 409: the approvals another member gave in the meantime already decided it.
            if answer.status_code in (302, 409):
                self.decided.add(claim)
                answer.success()
            else:
                answer.failure(f"approving answered {answer.status_code}")

    @task(1)
    def report(self) -> None:
        form = {
            "claim-start_date": datetime.now(UTC).date().isoformat(),
            "claim-amount": f"{self.rng.randrange(5, 25)}.00",
            "claim-description": "Boiler repair",
            "csrfmiddlewaretoken": _csrf(self),
        }
        with self.client.post(
            f"/pools/{self.emergency}/claims/",
            data=form,
            name=POOL_REPORT,
            allow_redirects=False,
            catch_response=True,
        ) as answer:
            if answer.status_code != 302:
                answer.failure(f"reporting answered {answer.status_code}")
