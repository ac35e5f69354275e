"""`keel plan ...`: a worker's 90-day plan from the terminal.

    keel plan show --worker EMAIL [--date DATE] [--json]

prints the current plan's progress, computed from the books as the plan page shows it
(amounts in ``--json`` are integer minor units).
"""

from __future__ import annotations

import json
from datetime import date

import click


@click.group()
def plan() -> None:
    """90-day plans: a recurring-revenue target and one expansion channel."""


@plan.command("show")
@click.option("--worker", "email", required=True, help="The worker's email address.")
@click.option(
    "--date",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Progress as of this day (default today).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the progress as JSON.")
def plan_show(email: str, on: object, as_json: bool) -> None:
    """The worker's current plan and its progress."""
    from keel.cli import _require_migrated, setup_django

    setup_django()
    _require_migrated()
    from django.utils import timezone

    from keel.accounts.models import User
    from keel.career import planning

    worker = User.objects.filter(email__iexact=email.strip()).first()
    if worker is None:
        raise click.ClickException(f"no worker with the email {email}")
    today: date = on.date() if on is not None else timezone.localdate()  # type: ignore[attr-defined]
    current = planning.current_plan(worker, today)
    if current is None:
        if as_json:
            click.echo(json.dumps({"worker": worker.email, "plan": None}, indent=2))
            return
        raise click.ClickException(f"{worker.email} has no current plan on {today.isoformat()}")
    report = planning.plan_status(current, today)
    if as_json:
        click.echo(json.dumps({"worker": worker.email, **report.as_dict()}, indent=2))
        return
    p = report.progress
    click.echo(
        f"Plan from {current.starts_on.isoformat()} to {report.ends_on.isoformat()} "
        f"(day {p.day}{f', week {p.week} of 13' if p.week else ''}), "
        f"expanding into {current.expansion_channel}"
    )
    for line in report.summary:
        click.echo(f"  {line}")
    if report.review_due:
        click.echo("  The 90 days are over: review the plan on its page.")
