"""`keel audit ...`: read the security audit log from the terminal.

keel audit list [--action A] [--since DATE] [--limit N] [--json]
"""

from __future__ import annotations

import json
from datetime import date

import click


@click.group()
def audit() -> None:
    """The security audit log: log-ins, keys, rule changes, approvals (read-only)."""


@audit.command("list")
@click.option("--action", default="", help='An action ("login.failed") or a domain ("login").')
@click.option("--since", help="Only events on or after this day (YYYY-MM-DD, UTC).")
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(min=1),
    help="At most this many events, newest first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the events as JSON.")
def audit_list(action: str, since: str | None, limit: int, as_json: bool) -> None:
    """List audit events, newest first."""
    from keel.cli import setup_django

    setup_django()
    from keel.audit import services

    try:
        day = date.fromisoformat(since) if since else None
    except ValueError:
        raise click.ClickException(f"since: {since!r} is not YYYY-MM-DD") from None
    rows = list(services.events(services.AuditFilter(action=action, since=day))[:limit])
    if as_json:
        click.echo(json.dumps([services.as_dict(event) for event in rows], indent=2))
        return
    for event in rows:
        details = json.dumps(event.details, sort_keys=True) if event.details else "-"
        click.echo(
            "  ".join(
                (
                    event.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
                    event.action,
                    event.actor_label or "-",
                    event.subject or "-",
                    event.remote_ip or "-",
                    details,
                )
            )
        )
    click.echo(f"{len(rows)} event(s)", err=True)
