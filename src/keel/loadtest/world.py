"""The world the load test's traffic needs, built through the real services in the run's
own database (never a database that holds anyone's books).

* Workers with a password for the log-in form, a personal API key (`ledger:read`) and a
  year of income from two of the demo's sources (keel.demo's payment plans), each linked
  to both platforms.
* Two platforms with the demo's published policies (DashEats' 4% over a quarterly
  threshold, Tidy's $5 a job with a monthly minimum) and an `earnings:write` key each,
  plus references nobody has linked (their contributions wait in suspense).
* Two pools of the first workers: a Broodfonds-style sick-leave fund with sickness claims
  waiting for approvals, and an emergency fund with a year of contributions and small
  grant requests waiting for approvals (members add more during the run).

Run as a child process with the run's environment (`KEEL_DATA_DIR`, `KEEL_DATABASE_URL`):

    python -m keel.loadtest.world --migrate --workers 40 --members 24 --out world.json

The JSON holds the run's password and keys; it is written readable by its owner only and
lives in the run's directory.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

DOMAIN = "load.keel.example"
DEFAULT_WORKERS = 40
DEFAULT_MEMBERS = 24
HISTORY_MONTHS = 12
# keel.demo's sources a load worker earns from (few payments a month each, so building
# the world stays quick): project work from Upwork and a client on a retainer.
INCOME_SOURCES = ("upwork", "client")
# keel.gateway.demo's platforms whose policies the load platforms publish.
PLATFORM_SPECS = ("DashEats", "Tidy")
UNLINKED_REFS = 5
SICK_FUND = "Load Sick-Leave Fund"
EMERGENCY_FUND = "Load Emergency Fund"
# A sick-leave claim needs three approvals, so its fund needs a claimant and three others.
MIN_MEMBERS = 4
# Enough money in the emergency fund, and a limit per member high enough, that the small
# grants the run asks for (EUR 5-25 each) are never refused for want of either.
EMERGENCY_CONTRIBUTION = 10_000
EMERGENCY_LIMIT = 500_000
EMERGENCY_VOTE_ABOVE = 50_000


def progress(message: str) -> None:
    print(f"progress: {message}", file=sys.stderr, flush=True)


def worker_email(n: int) -> str:
    return f"worker{n:04d}@{DOMAIN}"


def build_world(*, workers: int, members: int, seed: int = 2026) -> dict[str, Any]:
    """Create everything and return what the traffic needs to act (secrets included)."""
    from django.db import transaction
    from django.utils import timezone

    from keel.accounts.services import create_worker
    from keel.api.services import create_key
    from keel.gateway import services as gateway
    from keel.gateway.demo import PLATFORMS

    if not MIN_MEMBERS <= members <= workers:
        raise ValueError(f"members must be {MIN_MEMBERS} to workers ({workers}), not {members}")
    from keel.accounts.models import User

    if User.objects.exists():
        # Load traffic books journals; it belongs in a database made for it, never in
        # one that holds someone's books.
        raise ValueError("the database already has people in it: build the world in an empty one")
    today = timezone.localdate()
    start = (today.replace(day=1) - timedelta(days=365)).replace(day=1)
    password = secrets.token_urlsafe(18)
    run = secrets.token_hex(4)

    operator = create_worker(f"operator@{DOMAIN}", name="Load Operator", password=None)
    specs = {spec.name: spec for spec in PLATFORMS}
    platforms: list[dict[str, Any]] = []
    for name in PLATFORM_SPECS:
        spec = specs[name]
        platform = gateway.create_platform(
            f"{spec.name} (load)",
            operator=operator,
            policy=spec.policy,
            policy_name=f"{spec.name} portable benefits",
            effective_from=start,
            clearing_cadence=spec.cadence,
        )
        _, key = gateway.create_platform_key(platform, operator, "load test", ["earnings:write"])
        platforms.append(
            {
                "name": platform.name,
                "slug": platform.slug,
                "key": key,
                "job_gross": spec.job_gross,
                "linked": [],
                "unlinked": [f"{platform.slug}-stranger-{n}" for n in range(UNLINKED_REFS)],
            }
        )

    people = []
    for n in range(1, workers + 1):
        with transaction.atomic():
            user = create_worker(worker_email(n), name=f"Load Worker {n}", password=password)
            _, key = create_key(user, "load test", ["ledger:read"])
            for entry in platforms:
                platform = gateway.get_platform(entry["slug"])
                ref = f"{entry['slug']}-{n:05d}"
                gateway.link_with_code(platform, ref, gateway.create_link_code(user))
                entry["linked"].append(ref)
            _book_income(user, seed, start, today)
        people.append({"email": user.email, "name": user.name, "key": key, "user": user})
        if n % 10 == 0 or n == workers:
            progress(f"world: {n}/{workers} workers with income and links")

    pools = _pools([p["user"] for p in people[:members]], start, today, seed)
    progress(f"world: {len(pools)} pools of {members} members with claims waiting")
    return {
        "run": run,
        "password": password,
        "platforms": platforms,
        "workers": [{k: v for k, v in p.items() if k != "user"} for p in people],
        # The first `members` workers are the pools' members.
        "members": members,
        "pools": pools,
    }


def _book_income(user: Any, seed: int, start: date, end: date) -> None:
    # keel.demo's own payment plans, so a load worker's income pages look like a demo
    # worker's: the same generators, seeded by worker and source.
    from keel.demo import OTHER_SOURCES, plan_source
    from keel.income import services as income

    for source in (s for s in OTHER_SOURCES if s.slug in INCOME_SOURCES):
        plan = plan_source(seed, user, source, start, end)
        record = income.ensure_source(
            user,
            source.name,
            kind=source.kind,
            default_stream=source.stream,
            currency=source.currency,
        )
        income.book_rows(user, record, plan.rows)


def _pools(people: Sequence[Any], start: date, today: date, seed: int) -> list[dict[str, Any]]:
    from keel.pools import services as pools
    from keel.pools.demo import TIER_CYCLE
    from keel.pools.rules.gifts import add_months
    from keel.pools.rules.pool_rules import broodfonds_default, rules_to_json

    rng = random.Random(f"{seed}:pools")
    sick_rules = rules_to_json(broodfonds_default("EUR")) | {
        "admission_by_vote": False,
        "waiting_months": 0,
        "approvals_required": 3,
        "min_members": 4,
    }
    sick = pools.create_pool(
        people[0], name=SICK_FUND, rules=sick_rules, tier_gift=TIER_CYCLE[0], today=start
    )
    emergency_rules = pools.default_rules("emergency", "EUR") | {
        "admission_by_vote": False,
        "contribution": EMERGENCY_CONTRIBUTION,
        "grant_limit_per_year": EMERGENCY_LIMIT,
        "vote_above": EMERGENCY_VOTE_ABOVE,
        "approvals_required": 2,
        "min_members": 3,
    }
    emergency = pools.create_pool(
        people[0], name=EMERGENCY_FUND, rules=emergency_rules, today=start
    )
    for n, user in enumerate(people[1:], start=1):
        pools.apply(sick, user, tier_gift=TIER_CYCLE[n % len(TIER_CYCLE)], today=start)
        pools.apply(emergency, user, today=start)
    for pool in (sick, emergency):
        members = pools.active_members(pool)
        month = start
        while month <= today.replace(day=1):
            for member in members:
                pools.pay_deposit(member, month, on=min(today, month + timedelta(days=1)))
            month = add_months(month, 1)
    # Claims waiting for approvals: a third of the sick-leave fund is off sick, and half
    # of the emergency fund's members ask for a small grant.
    for member in pools.active_members(sick):
        if member.number % 3 == 0:
            pools.report_claim(
                member, start_date=today - timedelta(days=2), description="Flu", today=today
            )
    for member in pools.active_members(emergency):
        if member.number % 2 == 0:
            pools.report_claim(
                member,
                start_date=today,
                amount=rng.randrange(500, 2_500),
                description="Boiler repair",
                today=today,
            )
    return [{"slug": pool.slug, "name": pool.name, "kind": pool.kind} for pool in (sick, emergency)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--members", type=int, default=DEFAULT_MEMBERS)
    parser.add_argument("--migrate", action="store_true", help="Migrate the database first.")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keel.settings")
    from keel.cli import setup_django

    setup_django()
    if args.migrate:
        from django.core.management import call_command

        progress("world: migrating the run's database")
        call_command("migrate", interactive=False, verbosity=0)
    world = build_world(workers=args.workers, members=args.members)
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(world, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
