"""`keel pools ...`: the solvency simulator and the pools' scheduled work from the terminal.

    keel pools simulate --members N --gift 1500 --deposit-rate 0.045 --incidence 0.069
                        --mean-months 7.1 --max-months 24 --years 5 --scenarios 100000
                        --seed S [--currency EUR] [--wait 1] [--cap 36] [--tiers 750,1000]
                        [--epidemic 0.01:3] [--target 0.95] [--json]
    keel pools run [--date DATE]        this month's deposits and gift runs (idempotent)
    keel pools refund --year YEAR       refunds of reserves above the cap (once a year)
    keel pools list [--json]

The simulator needs no database: it is pure numpy (``keel.pools.rules.simulate``), so it
runs before ``keel demo`` has created anything. The same seed gives the same answer.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import click


def _setup() -> None:
    from keel.cli import setup_django

    setup_django()


def _fail(exc: Exception) -> click.ClickException:
    field = getattr(exc, "field", None)
    message = getattr(exc, "message", None) or str(exc)
    return click.ClickException(f"{field}: {message}" if field else message)


@click.group()
def pools() -> None:
    """Peer pools: simulate a fund's solvency, run the monthly gifts, refund reserves."""


def _minor(text: str, currency: str, option: str) -> int:
    from keel.money import MoneyError, to_minor

    try:
        return to_minor(Decimal(text.strip()), currency)
    except (InvalidOperation, MoneyError) as exc:
        raise click.BadParameter(
            f"{text!r} is not an amount in {currency}: {exc}", param_hint=option
        ) from None


def _rate_bps(text: str) -> int:
    """0.045 or 4.5% -> 450 bps, exactly (a rate is never a float here)."""
    try:
        value = Decimal(text.strip().rstrip("%"))
    except InvalidOperation:
        raise click.BadParameter(f"{text!r} is not a rate", param_hint="--deposit-rate") from None
    if text.strip().endswith("%"):
        value /= 100
    bps = value * 10_000
    if bps != bps.to_integral_value() or not 0 < bps <= 10_000:
        raise click.BadParameter(
            f"{text!r} must be a rate between 0 and 1 in whole basis points (0.045 = 4.5%)",
            param_hint="--deposit-rate",
        )
    return int(bps)


@pools.command()
@click.option("--members", type=click.IntRange(2, 10_000), default=30, show_default=True)
@click.option("--gift", default="1500", show_default=True, help="Monthly gift of every member.")
@click.option(
    "--tiers", default=None, help="Comma-separated gifts spread over the members instead."
)
@click.option("--currency", default="EUR", show_default=True)
@click.option("--deposit-rate", default="0.045", show_default=True, help="Share of the gift.")
@click.option("--incidence", type=float, default=0.069, show_default=True)
@click.option("--mean-months", type=float, default=7.1, show_default=True)
@click.option("--max-months", type=click.IntRange(1, 120), default=24, show_default=True)
@click.option("--wait", "waiting_months", type=click.IntRange(0, 24), default=1, show_default=True)
@click.option("--cap", "cap_deposits", type=click.IntRange(1, 1200), default=36, show_default=True)
@click.option("--years", type=click.IntRange(1, 50), default=5, show_default=True)
@click.option(
    "--scenarios", type=click.IntRange(100, 5_000_000), default=100_000, show_default=True
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--epidemic",
    default=None,
    help="PROBABILITY:MULTIPLIER, e.g. 0.01:3 (1% of months have three times the sickness).",
)
@click.option(
    "--target",
    type=float,
    default=None,
    help="Also find the deposit rate giving this probability of no cut (e.g. 0.95).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
def simulate(
    members: int,
    gift: str,
    tiers: str | None,
    currency: str,
    deposit_rate: str,
    incidence: float,
    mean_months: float,
    max_months: int,
    waiting_months: int,
    cap_deposits: int,
    years: int,
    scenarios: int,
    seed: int,
    epidemic: str | None,
    target: float | None,
    as_json: bool,
) -> None:
    """Monte Carlo of a sick-leave fund: the chance gifts must be cut, reserves and gifts
    over time, and what pooling saves each member against saving alone."""
    from keel.money import is_currency
    from keel.pools.rules import simulate as sim

    currency = currency.upper()
    if not is_currency(currency):
        raise click.BadParameter(f"{currency!r} is not an ISO 4217 code", param_hint="--currency")
    if tiers:
        gifts = sim.mixed_tiers(members, [_minor(t, currency, "--tiers") for t in tiers.split(",")])
    else:
        gifts = (_minor(gift, currency, "--gift"),) * members
    shock = None
    if epidemic:
        try:
            probability, multiplier = (float(x) for x in epidemic.split(":"))
        except ValueError:
            raise click.BadParameter(
                "use PROBABILITY:MULTIPLIER, e.g. 0.01:3", param_hint="--epidemic"
            ) from None
        shock = sim.EpidemicShock(probability, multiplier)
    try:
        inp = sim.SimulationInput(
            gifts=gifts,
            deposit_rate_bps=_rate_bps(deposit_rate),
            reserve_cap_deposits=cap_deposits,
            waiting_months=waiting_months,
            max_months=max_months,
            annual_incidence=incidence,
            mean_claim_months=mean_months,
            years=years,
            scenarios=scenarios,
            seed=seed,
            epidemic=shock,
        )
    except ValueError as exc:
        raise _fail(exc) from None
    progress = None if as_json or not sys.stderr.isatty() else _progress_bar()
    result = sim.simulate(inp, progress=progress)
    needed: tuple[int, Any] | None = None
    if target is not None:
        try:
            needed = sim.required_deposit_rate(inp, target)
        except ValueError as exc:
            raise _fail(exc) from None
    if as_json:
        out = sim.result_to_json(result)
        if needed is not None:
            out["required_deposit_rate"] = {"target_no_cut_probability": target, "bps": needed[0]}
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(_report(result, currency, target, needed[0] if needed else None))


def _progress_bar() -> Any:
    def show(done: int, total: int) -> None:
        click.echo(f"\r  simulating: {done:,} of {total:,} scenarios", nl=False, err=True)
        if done >= total:
            click.echo("", err=True)

    return show


def _report(result: Any, currency: str, target: float | None, needed_bps: int | None) -> str:
    from keel.money import format_amount

    def money(minor: int) -> str:
        return format_amount(minor, currency, symbol=True)

    inp = result.inputs
    lines = [
        f"{len(inp.gifts)} members, {result.scenarios:,} scenarios over {inp.years} years"
        f" (seed {inp.seed}); deposit {inp.deposit_rate_bps / 100:g}% of the gift,"
        f" incidence {result.annual_incidence:.3f}/year, mean {inp.mean_claim_months:g} months,"
        f" at most {inp.max_months}",
        "",
        f"Probability gifts must be cut in some month: {result.cut_probability:.4f}"
        f" ± {result.cut_probability_se:.4f} (standard error)",
        f"Probability some gift is paid short (cut or a giver's empty reserve):"
        f" {result.underpaid_probability:.4f} ± {result.underpaid_probability_se:.4f}",
        "By year (cut): "
        + ", ".join(
            f"year {i + 1} {p:.4f} ± {se:.4f}"
            for i, (p, se) in enumerate(
                zip(result.cut_probability_by_year, result.cut_probability_by_year_se, strict=True)
            )
        ),
        f"Gifts paid over the horizon: {money(result.gifts_paid_total_mean)} on average"
        f" (of {money(result.gifts_due_total_mean)} due)",
        f"Reserves at the end: {money(result.final_reserves_mean)} on average;"
        f" p10 {money(result.reserves.p10[-1])}, p50 {money(result.reserves.p50[-1])},"
        f" p90 {money(result.reserves.p90[-1])}",
    ]
    if target is not None and needed_bps is not None:
        lines.append(
            f"Deposit rate for a {target:.0%} chance of no cut: {needed_bps / 100:g}% of the gift"
        )
    lines += ["", *_benefit_lines(result, money, target, needed_bps)]
    return "\n".join(lines)


def _benefit_lines(
    result: Any, money: Callable[[int], str], target: float | None, needed_bps: int | None
) -> list[str]:
    """The pooling benefit per tier at the pool's own confidence and at the fixed benchmark,
    with the words that keep a fragile pool from making pooling look worthless."""
    own = result.self_insurance_confidence
    bench = result.benchmark_confidence
    lines = [
        "Pooling benefit: the buffer a member saving the same deposit alone would need to pay"
        " themselves the same gift through their own sickness, beside what they hold in the pool:"
    ]
    for tier in result.tiers:
        lines.append(
            f"  gift {money(tier.gift)} ({tier.members} members): held in the pool"
            f" {money(tier.pool_mean_reserve)} on average; alone, as sure as the pool"
            f" ({own:.0%}) {money(tier.self_insurance_reserve)}; alone, {bench:.0%} sure"
            f" {money(tier.self_insurance_reserve_at_benchmark)}"
        )
    if own < bench:
        if needed_bps is not None and target is not None:
            rate = (
                f"a deposit of {needed_bps / 100:g}% of the gift (now"
                f" {result.inputs.deposit_rate_bps / 100:g}%) would give it a {target:.0%}"
                " chance of no cut"
            )
        else:
            rate = f"--target {bench:g} finds the deposit rate it would need"
        lines.append(
            f"The pool itself is fragile: it avoids a cut in only {own:.1%} of futures, below"
            f" the {bench:.0%} benchmark; {rate}."
        )
    if any(
        min(t.self_insurance_reserve, t.self_insurance_reserve_at_benchmark) < t.pool_mean_reserve
        for t in result.tiers
    ):
        years = result.inputs.years
        why = (
            f" (at {own:.0%}, because most members are never sick in {years}"
            f" year{'' if years == 1 else 's'})"
            if own < bench
            else ""
        )
        lines.append(
            "Where a buffer alone is below what the pool holds, saving alone would tie up less"
            f" money at that confidence{why}. That is no cost of pooling: the reserve in the"
            " pool stays the member's own, returned, less the gifts given from it, when they leave."
        )
    return lines


@pools.command("run")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None)
def run(day: Any) -> None:
    """This month's deposits due and gift runs for every pool (once per month)."""
    _setup()
    from django.utils import timezone

    from keel.pools.tasks import daily

    today = timezone.localdate()
    if day is not None and day.date() > today:
        # A later day's month would be run now, with deposits not yet due and gifts for
        # a month to come, and the real run of that month would then find it done.
        raise click.ClickException(
            f"date: {day.date().isoformat()} is after today ({today.isoformat()}); a month"
            " is run once it has come"
        )
    report = daily(day.date() if day else None)
    click.echo(
        f"{report.votes_closed} votes closed, {report.deposits_added} deposits due added,"
        f" gift runs made for: {', '.join(report.gift_runs) or 'none'}"
    )
    for slug, reason in sorted(report.failures.items()):
        click.echo(f"error: {slug}: {reason}", err=True)
    if report.failures:
        raise SystemExit(1)


@pools.command("refund")
@click.option("--year", type=int, default=None, help="Default: last year.")
def refund(year: int | None) -> None:
    """Refund every reserve above its cap for the year (once per member and year)."""
    _setup()
    from keel.pools.tasks import yearly_refunds

    report = yearly_refunds(year)
    click.echo(f"{report.refunds} refunds made")
    for slug, reason in sorted(report.failures.items()):
        click.echo(f"error: {slug}: {reason}", err=True)
    if report.failures:
        raise SystemExit(1)


@pools.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_pools(as_json: bool) -> None:
    """Every pool with its kind, members and money held."""
    _setup()
    from keel.money import format_amount
    from keel.pools import services
    from keel.pools.models import MemberStatus, Pool

    rows: list[dict[str, Any]] = []
    for pool in Pool.objects.order_by("name"):
        rows.append(
            {
                "slug": pool.slug,
                "name": pool.name,
                "kind": pool.kind,
                "public": pool.is_public,
                "members": pool.memberships.filter(status=MemberStatus.ACTIVE).count(),
                "currency": pool.currency,
                "held": services.balances(pool).get(services.bank_code(pool), 0),
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['slug']:<30} {row['kind']:<17} {row['members']:>3} members"
            f"  holds {format_amount(row['held'], row['currency'], symbol=True)}"
        )
