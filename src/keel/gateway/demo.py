"""The gateway's part of the demo world: three platforms with different published policies
(DoorDash-style percentage with a quarterly threshold, Lyft-style tiers, Alia-style per job
with a monthly minimum), a year of earnings events for the demo worker and many others,
a few references nobody has linked yet (suspense), weekly and monthly clearing with
settlements (one short, one over), uses of the benefits, a micro-contract bundle and the
plan catalogue.

Everything is drawn from generators seeded by (seed, platform, reference, day), and every
write is idempotent, so loading again adds nothing and a later load adds only new days.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import F

from keel.accounts.models import User

from . import services
from .models import Bundle, EarningsEvent, LinkStatus, Plan, Platform, WorkerLink
from .rules import clearing as clearing_rules

EVENT_DAYS = 365
BATCH = 1_000


@dataclass(frozen=True)
class DemoPlatform:
    name: str
    cadence: str
    policy: dict[str, Any]
    # A typical job: gross in cents and its spread, tips share, jobs on a working day.
    job_gross: int
    spread: float
    tips_bps: int
    jobs_per_day: tuple[int, int]
    work_days: int  # working days a week


PLATFORMS = (
    DemoPlatform(
        "DashEats",
        "weekly",
        {
            "currency": "USD",
            "rate_bps": 400,
            # Pre-tip earnings are base pay and promotions: bonuses (the bundle's weekly
            # guarantee top-ups among them) count, tips do not.
            "include_bonus": True,
            "threshold": 100_000,
            "threshold_period": "quarter",
            "backdate": True,
        },
        job_gross=950,
        spread=0.35,
        tips_bps=2_200,
        jobs_per_day=(4, 11),
        work_days=4,
    ),
    DemoPlatform(
        "RideCo",
        "weekly",
        {
            "currency": "USD",
            "rate_bps": 200,
            "threshold": 50_000,
            "threshold_period": "quarter",
            "tiers": [
                {"status": "platinum", "rate_bps": 700},
                {"status": "gold", "rate_bps": 400},
            ],
        },
        job_gross=1_800,
        spread=0.5,
        tips_bps=800,
        jobs_per_day=(3, 9),
        work_days=3,
    ),
    DemoPlatform(
        "Tidy",
        "monthly",
        {
            "currency": "USD",
            "per_job": 500,
            "monthly_minimum": 500,
            "time_off_unit": 12_000,
        },
        job_gross=9_000,
        spread=0.2,
        tips_bps=500,
        jobs_per_day=(1, 2),
        work_days=2,
    ),
)
TIERS = ("platinum", "gold", "silver")
UNLINKED_REFS = 4


def _ref(platform: DemoPlatform, user: User) -> str:
    return f"{platform.name[:4].lower()}-{user.pk:05d}"


def _platform(spec: DemoPlatform, operator: User, start: date) -> Platform:
    existing = Platform.objects.filter(name=spec.name).first()
    if existing is not None:
        return existing
    return services.create_platform(
        spec.name,
        operator=operator,
        policy=spec.policy,
        policy_name=f"{spec.name} portable benefits",
        effective_from=start,
        clearing_cadence=spec.cadence,
    )


def _link(platform: Platform, ref: str, user: User, tier: str) -> None:
    link = WorkerLink.objects.filter(platform=platform, worker_ref=ref).first()
    if link is not None and link.status == LinkStatus.ACTIVE:
        return
    services.link_with_code(platform, ref, services.create_link_code(user), worker_status=tier)


def _events(
    seed: int, spec: DemoPlatform, ref: str, tier: str, start: date, end: date
) -> list[dict[str, Any]]:
    out = []
    day = start
    while day <= end:
        rng = random.Random(f"{seed}:gateway:{spec.name}:{ref}:{day.isoformat()}")
        if rng.random() < spec.work_days / 7:
            jobs = rng.randint(*spec.jobs_per_day)
            gross = sum(
                max(300, int(rng.gauss(spec.job_gross, spec.job_gross * spec.spread)))
                for _ in range(jobs)
            )
            moment = datetime.combine(day, time(18, rng.randint(0, 59)), tzinfo=UTC)
            event: dict[str, Any] = {
                "event_id": f"{ref}-{day.isoformat()}",
                "worker_ref": ref,
                "occurred_at": moment.isoformat(),
                "gross": gross,
                "tips": gross * spec.tips_bps // 10_000,
                "currency": "USD",
                "jobs": jobs,
                "description": f"{jobs} {'cleanings' if spec.name == 'Tidy' else 'jobs'}",
            }
            if tier and "tiers" in spec.policy:
                event["worker_status"] = tier
            out.append(event)
        day += timedelta(days=1)
    return out


def _record(platform: Platform, events: Sequence[dict[str, Any]]) -> int:
    created = 0
    for i in range(0, len(events), BATCH):
        result = services.record_events(platform, events[i : i + BATCH])
        created += result.created
    return created


def _periods(cadence: str, start: date, end: date) -> list[tuple[date, date]]:
    periods: list[tuple[date, date]] = []
    day = start
    while True:
        first, last = clearing_rules.period_for(day, cadence)
        if last >= end:
            return periods
        periods.append((first, last))
        day = last + timedelta(days=1)


def _clear(platform: Platform, start: date, end: date) -> None:
    """Close every whole period and settle all but the last; now and then a payment came
    in short or over, so the console shows both differences. Which ones depends only on
    the period, so a later load settles the same batch with the same payment."""
    periods = _periods(platform.clearing_cadence, start, end)
    for index, (first, last) in enumerate(periods):
        for batch in services.close_period(platform, first, last):
            if index == len(periods) - 1 or batch.owed == 0:
                continue
            amount = batch.owed
            if last.toordinal() % 11 == 0:
                amount -= 1_234
            elif last.toordinal() % 11 == 5:
                amount += 500
            services.record_settlement(
                batch,
                reference=f"{platform.slug}-{last.isoformat()}",
                amount=max(amount, 1),
                received_on=min(last + timedelta(days=3), end),
            )


@dataclass
class GatewaySummary:
    platforms: int = 0
    events_created: int = 0


def load_gateway_demo(
    *,
    seed: int,
    demo_worker: User,
    others: Sequence[User],
    operator: User,
    end: date,
    progress: Callable[[str], None] = lambda line: None,
) -> GatewaySummary:
    summary = GatewaySummary()
    start = end - timedelta(days=EVENT_DAYS)
    policy_start = start.replace(day=1) - timedelta(days=1)
    policy_start = policy_start.replace(day=1)
    loaded_at = datetime.now(tz=UTC)
    for index, spec in enumerate(PLATFORMS):
        platform = _platform(spec, operator, policy_start)
        summary.platforms += 1
        # The demo worker works for all three; the others for one or two of them.
        crew = [demo_worker] + [
            u for n, u in enumerate(others) if (n + index) % 3 != 0 and u.home_currency == "USD"
        ]
        events: list[dict[str, Any]] = []
        for n, user in enumerate(crew):
            ref = _ref(spec, user)
            tier = TIERS[0] if user == demo_worker else TIERS[n % len(TIERS)]
            _link(platform, ref, user, tier)
            events += _events(seed, spec, ref, tier, start, end - timedelta(days=1))
        for n in range(UNLINKED_REFS):
            ref = f"{spec.name[:4].lower()}-new-{n + 1}"
            events += _events(seed, spec, ref, TIERS[2], end - timedelta(days=60), end)
        summary.events_created += _record(platform, events)
        # Events arrive the evening they happen; the demo loads them all at once, so give
        # them their own arrival time and let clearing batch them by period.
        EarningsEvent.objects.filter(platform=platform, received_at__gte=loaded_at).update(
            received_at=F("occurred_at")
        )
        month = policy_start
        while month < date(end.year, end.month, 1):
            services.close_month_minimums(platform, month)
            month = (month + timedelta(days=32)).replace(day=1)
        EarningsEvent.objects.filter(
            platform=platform, kind="minimum", received_at__gte=loaded_at
        ).update(received_at=F("occurred_at"))
        _clear(platform, start, end)
        progress(f"{spec.name}: {len(events):,} earnings events, clearing up to {end}")
    _upcoming_change(operator, end)
    _uses(demo_worker, end)
    _bundle(demo_worker, end)
    _plans([demo_worker, *others], end)
    return summary


def _upcoming_change(operator: User, end: date) -> None:
    """RideCo raises its base rate from 2% to 3% from the first of next month, so the
    workers' pages show a version that is coming and the console a version not yet in
    effect."""
    platform = Platform.objects.get(name="RideCo")
    if platform.policies.count() > 1:
        return  # a later load keeps the change the first one published
    spec = next(p for p in PLATFORMS if p.name == "RideCo")
    services.publish_policy(
        platform,
        {**spec.policy, "rate_bps": 300},
        name="RideCo portable benefits 2.0",
        effective_from=(end.replace(day=1) + timedelta(days=32)).replace(day=1),
        by=operator,
    )


def _bundle(worker: User, end: date) -> None:
    """DashEats committed to 30 deliveries a week at $6.00 with a $190.00 weekly
    guarantee for 12 weeks; Maya accepted. Weeks that came in short were topped up."""
    platform = Platform.objects.get(name="DashEats")
    link = WorkerLink.objects.get(platform=platform, worker=worker)
    start = end - timedelta(days=end.weekday()) - timedelta(weeks=8)
    # A later load keeps the bundle of the first (its reference names its start).
    existing = Bundle.objects.filter(platform=platform, link=link).first()
    bundle = existing or services.offer_bundle(
        platform,
        link.worker_ref,
        f"steady-{start.isoformat()}",
        "Steady deliveries: 30 a week for 12 weeks",
        {
            "start": start.isoformat(),
            "weeks": 12,
            "min_tasks_per_week": 30,
            "rate_per_task": 600,
            "min_weekly_earnings": 19_000,
        },
    )
    if bundle.status == "offered":
        services.respond(worker, bundle.pk, True, on=start)
    for week in services.bundle_delivery(bundle, end):
        if week.owed > 0:
            services.settle_shortfall(platform, bundle, week.index, as_of=end)


PLANS = (
    (
        "Freelancers Mutual",
        "telehealth and urgent care",
        "Telehealth plus",
        6_000,
        [(10, 4_800), (50, 4_000), (200, 3_400)],
        "Unlimited video visits, urgent care at a $25 copay.",
    ),
    (
        "Brightsmile",
        "dental",
        "Dental basic",
        4_200,
        [(5, 3_600), (25, 3_100)],
        "Two cleanings a year, fillings at 80%.",
    ),
    (
        "ClearView",
        "vision",
        "Vision plus",
        1_800,
        [(20, 1_400)],
        "Yearly exam and $150 towards frames or lenses.",
    ),
)


def _plans(people: Sequence[User], end: date) -> None:
    """A catalogue of three plans; a dozen demo workers took the telehealth plan (past the
    first group tier), a few the dental plan; premiums for the last three months."""
    plans = []
    for provider, kind, name, price, tiers, description in PLANS:
        plan = Plan.objects.filter(name=name).first() or services.add_plan(
            provider, kind, name, "USD", price, tiers, description=description
        )
        plans.append(plan)
    first_month = (end.replace(day=1) - timedelta(days=62)).replace(day=1)
    usd = [p for p in people if p.home_currency == "USD"]
    for plan, members in ((plans[0], usd[:12]), (plans[1], usd[1:7:2])):
        for person in members:
            if services.open_enrollment(person, plan) is None:
                services.enroll(person, plan, first_month)
    month = first_month
    while month <= end:
        services.charge_premiums(month)
        month = (month + timedelta(days=32)).replace(day=1)


def _uses(worker: User, end: date) -> None:
    """Maya took a week off in the spring and moved money to her retirement plan."""
    balances = {b.bucket: b.balance for b in services.bucket_balances(worker)}
    if balances.get("time_off", 0) >= 12_000:
        services.use_benefit(
            worker,
            "time_off",
            12_000,
            on=end - timedelta(days=40),
            note="A week off",
            idempotency_key="demo:maya:time-off-1",
        )
    if balances.get("retirement", 0) >= 20_000:
        services.use_benefit(
            worker,
            "retirement",
            20_000,
            on=end - timedelta(days=20),
            provider="Vanguard IRA",
            idempotency_key="demo:maya:retirement-1",
        )
