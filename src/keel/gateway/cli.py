"""`keel platform ...`: what a platform's operators can do from the terminal.

    keel platform add NAME [--policy FILE.json] [--effective-from DATE] [--currency USD]
                           [--operator EMAIL] [--cadence daily]
    keel platform key NAME --scopes earnings:write,workers:link [--operator EMAIL] [--name L]
    keel platform list [--json]
    keel platform policy NAME FILE.json --effective-from DATE [--name TITLE]
    keel platform close [NAME] [--date DATE]

A policy file is the JSON of a policy's terms (`keel.gateway.rules.policy.Policy.to_dict`),
e.g. `{"currency": "USD", "rate_bps": 400, "threshold": 100000, "backdate": true}`.
A refused operation prints one line, `error: <field>: <reason>`, and exits non-zero.

Django is loaded only when a command runs, so `keel --help` stays fast.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from keel.accounts.models import User
    from keel.gateway.models import Platform


def _setup() -> None:
    from keel.cli import setup_django

    setup_django()


def _fail(exc: Exception) -> click.ClickException:
    """One line naming the field, from a GatewayError (or anything with .field)."""
    field = getattr(exc, "field", None)
    message = getattr(exc, "message", None) or str(exc)
    if field and not message.startswith(f"{field}:"):
        return click.ClickException(f"{field}: {message}")
    return click.ClickException(message)


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.ClickException(f"{option}: {text!r} is not a date (YYYY-MM-DD)") from None


def _policy_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"policy: {path} is not JSON ({exc})") from None
    except OSError as exc:
        raise click.ClickException(f"policy: cannot read {path} ({exc.strerror})") from None
    if not isinstance(data, dict):
        raise click.ClickException(f"policy: {path} must hold a JSON object of policy terms")
    return data


def _person(email: str) -> User:
    from keel.accounts.models import User

    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        raise click.ClickException(
            f"operator: no person with the email {email} (create them with `keel worker add`)"
        )
    return user


def _platform(name: str) -> Platform:
    from keel.gateway import services
    from keel.gateway.errors import GatewayError

    try:
        return services.get_platform(name)
    except GatewayError as exc:
        raise _fail(exc) from None


@click.group("platform")
def platform() -> None:
    """Platforms that pay portable-benefit contributions: add, keys, policies, clearing."""


@platform.command("add")
@click.argument("name")
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Contribution policy terms (JSON) to publish as version 1.",
)
@click.option("--effective-from", help="First day of the policy (YYYY-MM-DD); default 2000-01-01.")
@click.option("--currency", default="USD", show_default=True, help="ISO 4217 code.")
@click.option("--operator", "operator_email", help="Email of a Keel user who operates it.")
@click.option(
    "--cadence",
    type=click.Choice(["daily", "weekly", "monthly"]),
    default="daily",
    show_default=True,
    help="How often contributions are closed into a clearing batch.",
)
def platform_add(
    name: str,
    policy_path: Path | None,
    effective_from: str | None,
    currency: str,
    operator_email: str | None,
    cadence: str,
) -> None:
    """Add a platform (and publish its first policy)."""
    start = _day(effective_from, "effective_from")
    if start is not None and policy_path is None:
        raise click.ClickException("effective_from: give --policy with --effective-from")
    terms = _policy_file(policy_path) if policy_path is not None else None
    _setup()
    from keel.gateway import services
    from keel.gateway.errors import GatewayError

    operator = _person(operator_email) if operator_email else None
    try:
        created = services.create_platform(
            name,
            currency=currency,
            operator=operator,
            policy=terms,
            effective_from=start,
            clearing_cadence=cadence,
        )
    except GatewayError as exc:
        raise _fail(exc) from None
    click.echo(f"added platform {created.name} (id {created.pk}, {created.currency}, {cadence})")
    version = created.policies.first()
    if version is not None:
        click.echo(f"policy v{version.version} from {version.effective_from.isoformat()}:")
        for line in services.terms_of(version).describe():
            click.echo(f"  {line}")
    else:
        click.echo("no policy yet: publish one with `keel platform policy` before events arrive")


@platform.command("key")
@click.argument("name")
@click.option(
    "--scopes",
    required=True,
    help="Comma-separated: earnings:write, workers:link, clearing:read, bundles:write.",
)
@click.option(
    "--operator", "operator_email", help="The operator creating it (default: the only one)."
)
@click.option("--name", "label", default="cli", show_default=True, help="Where the key is used.")
def platform_key(name: str, scopes: str, operator_email: str | None, label: str) -> None:
    """Create an API key for the platform; the key is printed once."""
    _setup()
    from keel.api.keys import ApiKeyError
    from keel.gateway import services
    from keel.gateway.errors import GatewayError

    found = _platform(name)
    if operator_email:
        operator = _person(operator_email)
    else:
        operators = list(found.operators.order_by("email"))
        if len(operators) != 1:
            raise click.ClickException(
                f"operator: {found.name} has {len(operators)} operators; name one with --operator"
            )
        operator = operators[0]
    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    try:
        key, plaintext = services.create_platform_key(found, operator, label, wanted)
    except (GatewayError, ApiKeyError) as exc:
        raise _fail(exc) from None
    click.echo(plaintext)
    click.echo(
        f"key {key.prefix} for {found.name} ({', '.join(key.scopes)}), created as"
        f" {operator.email}: store it now, it is not shown again",
        err=True,
    )


@platform.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the platforms as JSON.")
def platform_list(as_json: bool) -> None:
    """Every platform with its policy version, operators, keys and links."""
    _setup()
    from django.db.models import Count, Q
    from django.utils import timezone

    from keel.api.models import ApiKey
    from keel.gateway import services
    from keel.gateway.models import LinkStatus, Platform

    platforms = Platform.objects.annotate(
        operator_count=Count("operators", distinct=True),
        linked=Count("links", filter=Q(links__status=LinkStatus.ACTIVE), distinct=True),
    ).order_by("name")
    keys: dict[int, int] = {}
    for key in ApiKey.objects.filter(owner_type="platform", revoked_at__isnull=True):
        if key.status() == "active" and key.owner_id is not None:
            keys[key.owner_id] = keys.get(key.owner_id, 0) + 1
    today = timezone.localdate()
    rows = []
    for p in platforms:
        version = services.current_policy(p, today)
        rows.append(
            {
                "id": p.pk,
                "name": p.name,
                "slug": p.slug,
                "currency": p.currency,
                "cadence": p.clearing_cadence,
                "policy_version": version.version if version else None,
                "operators": p.operator_count,
                "active_keys": keys.get(p.pk, 0),
                "linked_workers": p.linked,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no platforms yet: add one with `keel platform add NAME`")
        return
    header = ("name", "currency", "cadence", "policy", "operators", "keys", "linked")
    table = [header] + [
        (
            r["name"],
            r["currency"],
            r["cadence"],
            f"v{r['policy_version']}" if r["policy_version"] else "-",
            str(r["operators"]),
            str(r["active_keys"]),
            str(r["linked_workers"]),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@platform.command("policy")
@click.argument("name")
@click.argument("policy_path", metavar="FILE.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--effective-from", required=True, help="First day of the new version.")
@click.option("--name", "title", default="", help="The version's name.")
@click.option("--operator", "operator_email", help="Who publishes it (recorded).")
def platform_policy(
    name: str, policy_path: Path, effective_from: str, title: str, operator_email: str | None
) -> None:
    """Publish a new policy version; earlier events keep the terms they were computed under."""
    start = _day(effective_from, "effective_from")
    assert start is not None
    terms = _policy_file(policy_path)
    _setup()
    from keel.gateway import services
    from keel.gateway.errors import GatewayError

    found = _platform(name)
    by = _person(operator_email) if operator_email else None
    try:
        version = services.publish_policy(
            found,
            terms,
            name=title or f"{found.name} contribution policy",
            effective_from=start,
            by=by,
        )
    except GatewayError as exc:
        raise _fail(exc) from None
    click.echo(
        f"published {found.name} policy v{version.version} from"
        f" {version.effective_from.isoformat()}:"
    )
    for line in services.terms_of(version).describe():
        click.echo(f"  {line}")


@platform.command("close")
@click.argument("name", required=False)
@click.option("--date", "on", help="Close as of this day (YYYY-MM-DD); default today.")
def platform_close(name: str | None, on: str | None) -> None:
    """Close the last whole clearing period of NAME (or of every platform) into batches.

    Each batch takes every contribution received by the period's end that no batch has
    taken yet. Safe to run twice: a period already closed is reported and left as it is."""
    today = _day(on, "date")
    _setup()
    from django.utils import timezone

    from keel.gateway import services
    from keel.gateway.models import ClearingBatch, Platform
    from keel.gateway.rules import clearing as clearing_rules
    from keel.money import format_amount

    now = timezone.localdate()
    if today is not None and today > now:
        # As of a later day the "last whole period" is one still running (or not begun):
        # its batch would sweep up today's contributions under a period yet to come.
        raise click.ClickException(
            f"date: {today.isoformat()} is after today ({now.isoformat()}); only a period"
            " that has ended can be closed"
        )
    today = today or now
    platforms = [_platform(name)] if name else list(Platform.objects.order_by("name"))
    closed = 0
    for p in platforms:
        # The last whole period before `today`: yesterday's, or the one before it when
        # yesterday's (a week, a month) is still running.
        start, end = clearing_rules.period_for(today - timedelta(days=1), p.clearing_cadence)
        if end >= today:
            start, end = clearing_rules.period_for(start - timedelta(days=1), p.clearing_cadence)
        period = f"{start.isoformat()}..{end.isoformat()}"
        before = ClearingBatch.objects.filter(platform=p, period_start=start, period_end=end)
        if before.exists():
            click.echo(f"{p.name} {period}: already closed")
            continue
        batches = services.close_period(p, start, end)
        if not batches:
            click.echo(f"{p.name} {period}: nothing owed")
        for batch in batches:
            closed += 1
            click.echo(
                f"{p.name} {period}: batch {batch.pk}, {batch.event_count} event(s), owes"
                f" {format_amount(batch.owed, batch.currency)} {batch.currency}"
            )
    click.echo(f"{closed} batch(es) closed")
