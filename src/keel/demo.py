"""A deterministic, believable demo world: workers, the platforms and clients they earn
from, and three years of journals.

Each day's activity is drawn from a random generator seeded by (seed, worker, source, day),
so loading again adds nothing and loading on a later day only adds the new days.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction

from keel.accounts.models import Role, User
from keel.accounts.services import create_worker, grant_role, worker_account_code
from keel.career.demo import load_career_demo
from keel.gateway.demo import load_gateway_demo
from keel.income import services as income
from keel.income.importers.base import ParsedRow, RowKind
from keel.income.models import ExchangeRate
from keel.income.rules import tax as tax_rules
from keel.ledger import services as ledger
from keel.ledger.rules import JournalSpec, LegSpec, exchange_journal
from keel.money import apply_rate
from keel.pools.demo import load_pools_demo

DEMO_PASSWORD = "keel-demo-2026"  # noqa: S105 - printed to the user; demo data only
DEMO_WORKER = "demo@keel.example"
DEMO_OPERATOR = "operator@keel.example"
YEARS = 3
BATCH = 2_000
# Per month, in the home currency's minor units.
LIVING_COSTS = 560_000
SALARY = 600_000
BUFFER_KEEP = 300_000
ESSENTIAL_EXPENSES = 480_000
TAX_RATE_BPS = 2_500


@dataclass(frozen=True)
class DemoSource:
    slug: str
    name: str
    currency: str
    stream: str  # recurring, project or micro
    # How a payment arrives: cadence in days (0 = several a week), typical gross in minor
    # units, spread, fee in basis points plus a fixed fee.
    cadence: int
    gross: int
    spread: float
    fee_bps: int = 0
    fee_fixed: int = 0
    kind: str = "platform"  # platform, client, shop or membership


DEMO_SOURCES = (
    DemoSource("upwork", "Upwork", "USD", "project", 9, 85_000, 0.6, fee_bps=1000),
    DemoSource(
        "northwind",
        "Northwind Studio (retainer)",
        "USD",
        "recurring",
        30,
        250_000,
        0.0,
        kind="client",
    ),
    DemoSource(
        "memberships",
        "Membership site via Stripe",
        "USD",
        "recurring",
        7,
        14_000,
        0.25,
        fee_bps=290,
        fee_fixed=30,
    ),
    DemoSource("dashmile", "DashMile deliveries", "USD", "micro", 0, 2_600, 0.5),
    DemoSource(
        "etsy", "Etsy shop (templates)", "USD", "micro", 4, 2_800, 0.7, fee_bps=650, fee_fixed=20
    ),
    DemoSource(
        "acme", "Acme Robotics (milestones)", "USD", "project", 75, 480_000, 0.3, kind="client"
    ),
    DemoSource("verlag", "Berliner Verlag", "EUR", "project", 45, 160_000, 0.4, kind="client"),
)
OTHER_SOURCES = (
    DemoSource("upwork", "Upwork", "USD", "project", 10, 60_000, 0.6, fee_bps=1000),
    DemoSource("dashmile", "DashMile deliveries", "USD", "micro", 0, 3_800, 0.5),
    DemoSource("fiverr", "Fiverr", "USD", "micro", 5, 9_000, 0.5, fee_bps=2000),
    DemoSource("client", "Direct client", "USD", "recurring", 30, 180_000, 0.1, kind="client"),
    DemoSource("verlag", "Berliner Verlag", "EUR", "project", 40, 120_000, 0.4, kind="client"),
    DemoSource(
        "stripe",
        "Course sales via Stripe",
        "EUR",
        "recurring",
        7,
        9_000,
        0.4,
        fee_bps=290,
        fee_fixed=25,
    ),
)
OTHER_WORKERS = (
    ("Sam Okafor", "USD"),
    ("Lena Fischer", "EUR"),
    ("Priya Raman", "USD"),
    ("Jonas Berg", "EUR"),
    ("Ana Souza", "USD"),
    ("Tom Whitaker", "USD"),
    ("Mei Lin", "USD"),
    ("Kofi Mensah", "USD"),
    ("Sofia Marino", "EUR"),
    ("Diego Herrera", "USD"),
    ("Hana Sato", "USD"),
    ("Emma Laurent", "EUR"),
    ("Ravi Patel", "USD"),
    ("Noor Haddad", "USD"),
    ("Lucas Meyer", "EUR"),
    ("Grace Kim", "USD"),
    ("Omar Farouk", "USD"),
    ("Ines Costa", "EUR"),
    ("Ben Carter", "USD"),
    ("Yara Nasser", "USD"),
)
# Monthly EUR→USD rates, a gentle deterministic drift around 1.08.
EUR_USD_BASE = Decimal("1.0800")


@dataclass
class DemoSummary:
    worker_email: str = DEMO_WORKER
    operator_email: str = DEMO_OPERATOR
    workers: int = 0
    journals_created: int = 0
    journals_existing: int = 0
    start: date | None = None
    end: date | None = None
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"Demo world: {self.workers} workers, {self.start} to {self.end};"
            f" {self.journals_created} journals added, {self.journals_existing} already there."
            + "".join(f"\n{note}." for note in self.notes)
        )


def _user(email: str, name: str, currency: str, joined: date) -> User:
    existing = User.objects.filter(email=email).first()
    if existing is not None:
        return existing
    user = create_worker(email, name=name, password=DEMO_PASSWORD, currency=currency)
    # Their history starts when they joined; a later load regenerates from the same day,
    # so the books it recomputes are identical and only new days are added.
    user.date_joined = datetime.combine(joined, time(), tzinfo=UTC)
    user.save(update_fields=["date_joined"])
    return user


def _operator() -> User:
    user = User.objects.filter(email=DEMO_OPERATOR).first()
    if user is None:
        user = User.objects.create_superuser(DEMO_OPERATOR, DEMO_PASSWORD, name="Olu Operator")
        grant_role(user, Role.PLATFORM_OPERATOR)
    return user


def _cash_code(user: User, currency: str) -> str:
    if currency == user.home_currency:
        return worker_account_code(user.pk, "cash")
    return worker_account_code(user.pk, "cash", currency.lower())


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def _payments(seed: int, user: User, source: DemoSource, day: date, start: date) -> list[int]:
    """Gross amounts (minor units) this source pays on this day."""
    rng = random.Random(f"{seed}:{user.email}:{source.slug}:{day.isoformat()}")
    # Each source's activity ramps up over the first months, as a real career does.
    months_in = (day.year - start.year) * 12 + day.month - start.month
    growth = min(1.0, 0.55 + months_in / 30)
    seasonal = 0.85 if day.month in (7, 8, 12) else 1.0
    if source.cadence == 0:
        if day.weekday() >= 5 or rng.random() < 0.35:
            return []
        count = rng.randint(2, 6)
        return [
            max(300, int(rng.gauss(source.gross, source.gross * source.spread) * growth))
            for _ in range(count)
        ]
    if source.cadence == 30:
        return [source.gross] if day.day == 1 else []
    if rng.random() >= seasonal / source.cadence:
        return []
    amount = rng.gauss(source.gross, source.gross * source.spread) * growth
    return [max(1_000, int(amount) // 100 * 100)]


def _fee(source: DemoSource, gross: int) -> int:
    return (
        (gross * source.fee_bps + 5_000) // 10_000 + source.fee_fixed
        if source.fee_bps or source.fee_fixed
        else 0
    )


@dataclass
class SourcePlan:
    source: DemoSource
    rows: list[ParsedRow]
    # Payouts reaching the worker's cash, by day, in the source's currency.
    payouts: dict[date, int]
    # The tax set-aside the income service moves out of cash for each day's payments.
    set_asides: dict[date, int]


def plan_source(seed: int, user: User, source: DemoSource, start: date, end: date) -> SourcePlan:
    """Payments as the platform's export would list them, and a payout of what is held
    there every Friday. Also the load-test world's income (keel.loadtest.world), so a
    load worker's pages look like the demo worker's."""
    rows: list[ParsedRow] = []
    payouts: dict[date, int] = {}
    set_asides: dict[date, int] = defaultdict(int)
    held = 0
    for day in _days(start, end):
        for n, gross in enumerate(_payments(seed, user, source, day, start)):
            fee = _fee(source, gross)
            held += gross - fee
            set_asides[day] += tax_rules.set_aside(gross - fee, TAX_RATE_BPS)
            rows.append(
                ParsedRow(
                    line=len(rows) + 2,
                    kind=RowKind.INCOME,
                    occurred_on=day,
                    currency=source.currency,
                    gross=gross,
                    fee=fee,
                    net=gross - fee,
                    external_id=f"demo-{day.isoformat()}-{n}",
                    description=f"{source.name}: payment",
                    stream_hint=source.stream,
                )
            )
        if day.weekday() == 4 and held > 0:
            rows.append(
                ParsedRow(
                    line=len(rows) + 2,
                    kind=RowKind.TRANSFER,
                    occurred_on=day,
                    currency=source.currency,
                    gross=0,
                    net=-held,
                    external_id=f"demo-payout-{day.isoformat()}",
                    description=f"{source.name}: payout to bank",
                )
            )
            payouts[day] = payouts.get(day, 0) + held
            held = 0
    return SourcePlan(source, rows, payouts, dict(set_asides))


def _household(
    seed: int, user: User, plans: list[SourcePlan], start: date, end: date
) -> Iterator[JournalSpec]:
    """What the worker does with the money once it reaches their bank: convert foreign
    currency monthly, keep a month's float and sweep the rest into the salary buffer, pay
    themselves a salary from it, and pay living costs. Cash is tracked here so spending
    never takes an account below its floor."""
    home = user.home_currency
    cash: dict[str, int] = defaultdict(int)
    living = worker_account_code(user.pk, "expenses", "living")
    buffer_code = worker_account_code(user.pk, "buffer")
    buffer = 0
    arrivals: dict[date, list[tuple[str, int]]] = defaultdict(list)
    for plan in plans:
        for day, amount in plan.payouts.items():
            arrivals[day].append((plan.source.currency, amount))
        for day, amount in plan.set_asides.items():
            arrivals[day].append((plan.source.currency, -amount))
    for day in _days(start, end):
        for currency, amount in arrivals.get(day, []):
            cash[currency] += amount
        if day.day == 1:
            for foreign in sorted(c for c in cash if c != home and cash[c] > 0):
                amount = cash[foreign]
                rate = _rate(seed, day, foreign, home)
                converted = apply_rate(amount, foreign, home, rate)
                cash[foreign] = 0
                cash[home] += converted
                yield exchange_journal(
                    idempotency_key=f"demo:{user.pk}:fx:{foreign}:{day.isoformat()}",
                    effective_date=day,
                    source=_cash_code(user, foreign),
                    source_currency=foreign,
                    source_amount=amount,
                    target=_cash_code(user, home),
                    target_currency=home,
                    target_amount=converted,
                    rate=rate,
                    rate_date=day,
                    memo=f"Converted {foreign} to {home}",
                )
        if day.day == 2 and cash[home] > BUFFER_KEEP:
            # Whatever cash is beyond a month's float is put aside in the salary buffer.
            sweep = (cash[home] - BUFFER_KEEP) // 100 * 100
            cash[home] -= sweep
            buffer += sweep
            yield _transfer(
                user,
                day,
                "sweep",
                _cash_code(user, home),
                buffer_code,
                sweep,
                home,
                "Put aside in the salary buffer",
            )
        if day.day == 25 and buffer > 0:
            salary = min(SALARY, buffer)
            buffer -= salary
            cash[home] += salary
            yield _transfer(
                user,
                day,
                "salary",
                buffer_code,
                _cash_code(user, home),
                salary,
                home,
                "Monthly salary from the buffer",
            )
        if day.day == 28:
            rng = random.Random(f"{seed}:{user.email}:living:{day.isoformat()}")
            want = int(rng.gauss(LIVING_COSTS, LIVING_COSTS // 10)) // 100 * 100
            spend = min(want, cash[home])
            if spend > 0:
                cash[home] -= spend
                yield JournalSpec(
                    idempotency_key=f"demo:{user.pk}:living:{day.isoformat()}",
                    kind="expense",
                    effective_date=day,
                    legs=(
                        LegSpec(living, spend, home),
                        LegSpec(_cash_code(user, home), -spend, home),
                    ),
                    memo="Rent, food, insurance and bills",
                )


def _transfer(
    user: User,
    day: date,
    what: str,
    source: str,
    target: str,
    amount: int,
    currency: str,
    memo: str,
) -> JournalSpec:
    """Money moving between a worker's own accounts: never income, never an expense."""
    return JournalSpec(
        idempotency_key=f"demo:{user.pk}:{what}:{day.isoformat()}",
        kind="transfer",
        effective_date=day,
        legs=(LegSpec(target, amount, currency), LegSpec(source, -amount, currency)),
        memo=memo,
    )


def _rate(seed: int, day: date, base: str, quote: str) -> Decimal:
    """The demo's rate for a month: EUR/USD drifting around 1.08."""
    month_index = day.year * 12 + day.month
    drift = Decimal(random.Random(f"{seed}:fx:{month_index}").randint(-400, 400)) / 10_000
    eur_usd = EUR_USD_BASE + drift
    rate = eur_usd if (base, quote) == ("EUR", "USD") else 1 / eur_usd
    return rate.quantize(Decimal("0.0001"))


def _load_rates(seed: int, start: date, end: date) -> None:
    """Daily shared EUR/USD rates, so income converts at the rate of its own date."""
    wanted = [
        ExchangeRate(
            worker=None,
            base=base,
            quote=quote,
            on=day,
            rate=_rate(seed, day, base, quote),
            origin="demo",
        )
        for day in _days(start, end)
        for base, quote in (("EUR", "USD"), ("USD", "EUR"))
    ]
    ExchangeRate.objects.bulk_create(wanted, ignore_conflicts=True, batch_size=1_000)


def load_demo(
    *,
    seed: int = 2026,
    end: date | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> DemoSummary:
    end = end or date.today()  # noqa: DTZ011 - a calendar date in the operator's sense
    existing = User.objects.filter(email=DEMO_WORKER).first()
    if existing is not None:
        start = existing.date_joined.date()
    else:
        start = end.replace(year=end.year - YEARS) + timedelta(days=1)
    summary = DemoSummary(start=start, end=end)
    _operator()
    people: list[tuple[User, tuple[DemoSource, ...]]] = []
    with transaction.atomic():
        demo = _user(DEMO_WORKER, "Maya Alvarez", "USD", start)
        people.append((demo, DEMO_SOURCES))
        for index, (name, currency) in enumerate(OTHER_WORKERS):
            email = name.lower().replace(" ", ".") + "@example.org"
            user = _user(email, name, currency, start)
            rng = random.Random(f"{seed}:sources:{email}")
            eligible = list(OTHER_SOURCES)
            chosen = tuple(sorted(rng.sample(eligible, k=2 + index % 3), key=lambda s: s.slug))
            people.append((user, chosen))
    summary.workers = len(people)
    _load_rates(seed, start, end)
    for user, sources in people:
        settings = income.income_settings(user)
        if not settings.essential_expenses:
            settings.essential_expenses = ESSENTIAL_EXPENSES
            settings.salary = SALARY
            settings.tax_set_aside, settings.tax_rate_bps = True, TAX_RATE_BPS
            settings.save()
        plans = [plan_source(seed, user, source, start, end) for source in sources]
        for plan in plans:
            record = income.ensure_source(
                user,
                plan.source.name,
                kind=plan.source.kind,
                default_stream=plan.source.stream,
                currency=plan.source.currency,
            )
            booked = income.book_rows(user, record, plan.rows)
            summary.journals_created += booked.imported
            summary.journals_existing += booked.duplicates
        _open_household_accounts(user)
        batch: list[JournalSpec] = []
        for spec in _household(seed, user, plans, start, end):
            batch.append(spec)
            if len(batch) >= BATCH:
                _post(batch, summary)
                batch = []
        if batch:
            _post(batch, summary)
        progress(f"{user.name}: books up to {end}")
    gateway = load_gateway_demo(
        seed=seed,
        demo_worker=people[0][0],
        others=[user for user, _ in people[1:]],
        operator=_operator(),
        end=end,
        progress=progress,
    )
    summary.notes.append(
        f"{gateway.platforms} platforms, {gateway.events_created:,} earnings events added"
    )
    pools = load_pools_demo(
        steward=people[0][0], others=[user for user, _ in people[1:]], end=end, progress=progress
    )
    summary.notes.append(f"{pools.pools} pools added, {pools.gift_runs} monthly gift runs")
    career = load_career_demo(
        worker=people[0][0], others=[user for user, _ in people[1:]], end=end, progress=progress
    )
    summary.notes.append(f"Career: {career.describe()}")
    return summary


def _open_household_accounts(user: User) -> None:
    ledger.open_account(
        worker_account_code(user.pk, "expenses", "living"),
        kind="expense",
        currency=user.home_currency,
        name="Living costs",
        owner_type="worker",
        owner_id=user.pk,
    )
    ledger.ensure_exchange_account("EUR")
    ledger.ensure_exchange_account("USD")


def _post(batch: list[JournalSpec], summary: DemoSummary) -> None:
    for result in ledger.post_journals(batch):
        if result.created:
            summary.journals_created += 1
        else:
            summary.journals_existing += 1
