"""Fixtures of the pool pages' and API's tests: people, and pools built through the real
services (never mocks). A small sick-leave fund lets three members claim and give at
once: two members make it whole, one approval pays a claim, no waiting period."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.pools import services
from keel.pools.models import Pool
from keel.pools.rules.pool_rules import broodfonds_default, rules_to_json

PASSWORD = "quiet-harbour-1987"
EUR_1000, EUR_1500, EUR_2000 = 100_000, 150_000, 200_000


def person(email: str, name: str) -> User:
    return create_worker(email, name=name, password=PASSWORD, currency="EUR")


def small_fund_rules(**changes: Any) -> dict[str, Any]:
    rules = rules_to_json(broodfonds_default("EUR"))
    rules.update(
        {
            "min_members": 2,
            "approvals_required": 1,
            "admission_by_vote": False,
            "waiting_months": 0,
            **changes,
        }
    )
    return rules


def this_month() -> date:
    return timezone.localdate().replace(day=1)


@pytest.fixture
def ana(db: None) -> User:
    return person("ana@example.org", "Ana Steward")


@pytest.fixture
def ben(db: None) -> User:
    return person("ben@example.org", "Ben Baker")


@pytest.fixture
def cy(db: None) -> User:
    return person("cy@example.org", "Cy Carpenter")


@pytest.fixture
def dee(db: None) -> User:
    """Someone outside the fund (a member of another pool)."""
    return person("dee@example.org", "Dee Outsider")


@pytest.fixture
def fund(ana: User, ben: User, cy: User) -> Pool:
    """A private sick-leave fund: Ana (steward, EUR 1,500), Ben (EUR 1,000), Cy (EUR 2,000),
    members since the first of the month, each with this month's deposit paid."""
    pool = services.create_pool(
        ana, name="Bakers Fund", rules=small_fund_rules(), tier_gift=EUR_1500, today=this_month()
    )
    services.apply(pool, ben, tier_gift=EUR_1000, today=this_month())
    services.apply(pool, cy, tier_gift=EUR_2000, today=this_month())
    for user in (ana, ben, cy):
        services.pay_own_deposit(pool, user, this_month())
    return pool


@pytest.fixture
def public_fund(ana: User, ben: User) -> Pool:
    pool = services.create_pool(
        ana,
        name="Open Fund",
        rules=small_fund_rules(public=True),
        tier_gift=EUR_1500,
        today=this_month(),
    )
    services.apply(pool, ben, tier_gift=EUR_1000, today=this_month())
    for user in (ana, ben):
        services.pay_own_deposit(pool, user, this_month())
    return pool


@pytest.fixture
def other_fund(dee: User) -> Pool:
    """Dee's own private pool, which nobody of ``fund`` is in."""
    return services.create_pool(dee, name="Dee Fund", rules=small_fund_rules(), tier_gift=EUR_1500)


@pytest.fixture
def login() -> Callable[[User | None], Client]:
    def make(user: User | None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make
