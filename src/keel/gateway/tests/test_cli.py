"""`keel platform ...`: add, key, list, policy, close."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from django.test import Client
from django.utils import timezone

from keel.api.models import ApiKey
from keel.cli import main, main_group
from keel.gateway import services
from keel.gateway.models import ClearingBatch, ContributionPolicy, EarningsEvent, Platform

from .conftest import DOORDASH, event


def keel(*args: str) -> Result:
    return CliRunner().invoke(
        main_group, ["platform", *args], catch_exceptions=False, prog_name="keel"
    )


def error_of(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run through `keel.cli.main` (as the `keel` command does) and return its one error
    line, checking that it is one line and that the exit status is 1."""
    assert main(["platform", *args]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ")
    return err.strip()


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "doordash.json"
    path.write_text(json.dumps(DOORDASH))
    return path


def test_add_publishes_the_policy_and_adds_the_operator(policy_file, operator):
    result = keel(
        "add",
        "Dash",
        "--policy",
        str(policy_file),
        "--effective-from",
        "2026-01-01",
        "--operator",
        "ops@dash.example",
    )
    assert result.exit_code == 0, result.output
    platform = Platform.objects.get()
    assert result.stdout == (
        f"added platform Dash (id {platform.pk}, USD, daily)\n"
        "policy v1 from 2026-01-01:\n"
        "  The platform contributes 4% of your earnings before tips and bonuses.\n"
        "  Eligible once you earn $1,000.00 (excluding tips) in a calendar quarter;"
        " contributions then cover the whole quarter.\n"
    )
    version = platform.policies.get()
    assert (version.version, version.effective_from) == (1, date(2026, 1, 1))
    assert version.terms == services.parse_policy(DOORDASH).to_dict()
    assert list(platform.operators.all()) == [operator]
    assert operator.roles == ["platform operator", "worker"]


def test_add_without_a_policy_says_so(db):
    result = keel("add", "Tidy", "--currency", "EUR", "--cadence", "weekly")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"added platform Tidy (id {Platform.objects.get().pk}, EUR, weekly)",
        "no policy yet: publish one with `keel platform policy` before events arrive",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            {**DOORDASH, "rate_bps": 12_000},
            "error: policy.rate_bps: rate_bps must be at most 10000, not 12000",
        ),
        (
            {**DOORDASH, "rate": 400},
            "error: policy.rate: unknown field 'rate' (allowed: currency, rate_bps,"
            " include_gross, include_tips, include_bonus, per_job, monthly_minimum,"
            " monthly_cap, yearly_cap, threshold, threshold_period, threshold_includes_tips,"
            " backdate, tiers, time_off_unit)",
        ),
        ([400], "error: policy: {path} must hold a JSON object of policy terms"),
        ("{not json", "error: policy: {path} is not JSON (Expecting property name enclosed"),
    ],
)
def test_add_with_a_bad_policy_names_the_field_and_adds_nothing(
    db, tmp_path, capsys, content, message
):
    path = tmp_path / "policy.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    err = error_of(capsys, "add", "Dash", "--policy", str(path))
    assert err.startswith(message.format(path=path))
    assert not Platform.objects.exists()
    assert not ContributionPolicy.objects.exists()


def test_add_refuses_bad_input(db, platform, policy_file, capsys):
    assert error_of(capsys, "add", "dash") == "error: name: a platform named 'dash' already exists"
    assert error_of(capsys, "add", "Ride", "--operator", "who@example.org") == (
        "error: operator: no person with the email who@example.org (create them with"
        " `keel worker add`)"
    )
    assert error_of(capsys, "add", "Ride", "--currency", "XYZ").startswith("error: currency: ")
    assert error_of(
        capsys, "add", "Ride", "--policy", str(policy_file), "--effective-from", "3/1"
    ) == ("error: effective_from: '3/1' is not a date (YYYY-MM-DD)")
    assert error_of(capsys, "add", "Ride", "--effective-from", "2026-01-01") == (
        "error: effective_from: give --policy with --effective-from"
    )
    assert list(Platform.objects.values_list("name", flat=True)) == ["Dash"]


def test_key_is_printed_once_and_works(platform, operator):
    result = keel("key", "Dash", "--scopes", "earnings:write,clearing:read", "--name", "payouts")
    assert result.exit_code == 0, result.output
    plaintext = result.stdout.strip()
    key = ApiKey.objects.get()
    # Only the warning: logging may also write to stderr once another test has set
    # Django up again, so look for the line rather than the whole stream.
    assert (
        f"key {key.prefix} for Dash (clearing:read, earnings:write), created as"
        " ops@dash.example: store it now, it is not shown again"
    ) in result.stderr.splitlines()
    assert plaintext not in result.stderr
    assert plaintext.startswith(f"keel_{key.prefix}_")
    assert (key.name, key.owner_type, key.owner_id, key.user) == (
        "payouts",
        "platform",
        platform.pk,
        operator,
    )
    # Stored hashed only.
    assert plaintext not in json.dumps(list(ApiKey.objects.values()), default=str)
    client = Client(headers={"Authorization": f"Bearer {plaintext}"})
    assert client.get("/api/v1/platform/clearing").status_code == 200
    assert client.get("/api/v1/platform/links").status_code == 403


def test_key_refuses_unknown_scopes_platforms_and_operators(platform, operator, capsys):
    assert error_of(capsys, "key", "Dash", "--scopes", "earnings:write,ledger:read") == (
        "error: scopes.1: a platform key can have the scopes earnings:write, workers:link,"
        " clearing:read, bundles:write, not 'ledger:read'"
    )
    assert error_of(capsys, "key", "Nope", "--scopes", "earnings:write") == (
        "error: platform: no platform named 'Nope'"
    )
    assert error_of(
        capsys, "key", "Dash", "--scopes", "earnings:write", "--operator", "ana@example.org"
    ).startswith("error: operator: no person with the email ana@example.org")
    services.create_platform("Tidy")
    assert error_of(capsys, "key", "Tidy", "--scopes", "earnings:write") == (
        "error: operator: Tidy has 0 operators; name one with --operator"
    )
    assert not ApiKey.objects.exists()


def test_key_by_someone_who_does_not_operate_the_platform_is_refused(platform, worker, capsys):
    err = error_of(
        capsys, "key", "Dash", "--scopes", "earnings:write", "--operator", "ana@example.org"
    )
    assert err == "error: platform: ana@example.org does not operate Dash"
    assert not ApiKey.objects.exists()


def test_list_shows_every_platform(platform, operator, link, alia):
    services.create_platform_key(platform, operator, "k", ["earnings:write"])
    revoked, _ = services.create_platform_key(platform, operator, "old", ["earnings:write"])
    services.revoke_platform_key(platform, operator, revoked.pk)
    result = keel("list")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "name  currency  cadence  policy  operators  keys  linked",
        "Dash  USD       daily    v1      1          1     1",
        "Tidy  USD       daily    v1      0          0     0",
    ]
    rows = json.loads(keel("list", "--json").stdout)
    assert rows[0] == {
        "id": platform.pk,
        "name": "Dash",
        "slug": "dash",
        "currency": "USD",
        "cadence": "daily",
        "policy_version": 1,
        "operators": 1,
        "active_keys": 1,
        "linked_workers": 1,
    }


def test_list_without_platforms(db):
    assert keel("list").stdout == "no platforms yet: add one with `keel platform add NAME`\n"


def test_policy_publishes_a_new_version(platform, tmp_path, operator):
    path = tmp_path / "v2.json"
    path.write_text(json.dumps({**DOORDASH, "rate_bps": 500}))
    result = keel(
        "policy", "Dash", str(path), "--effective-from", "2026-07-01", "--name", "Dash 2026H2"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == [
        "published Dash policy v2 from 2026-07-01:",
        "  The platform contributes 5% of your earnings before tips and bonuses.",
    ]
    version = platform.policies.get(version=2)
    assert (version.name, version.terms["rate_bps"]) == ("Dash 2026H2", 500)


def test_policy_never_rewrites_the_past(platform, link, tmp_path, capsys):
    services.record_events(platform, [event("e1", "2026-03-02", 1_000)])
    path = tmp_path / "v2.json"
    path.write_text(json.dumps({**DOORDASH, "rate_bps": 500}))
    assert error_of(capsys, "policy", "Dash", str(path), "--effective-from", "2026-03-02") == (
        "error: effective_from: a policy never rewrites the past: events up to 2026-03-02 are"
        " already recorded, so the new version must start after that day"
    )
    assert platform.policies.count() == 1


def test_close_closes_yesterday_once(platform, link):
    services.record_events(platform, [event("e1", "2026-03-02", 150_000)])
    # Received today (the test's today): closing as of tomorrow closes today.
    EarningsEvent.objects.update(received_at=datetime(2026, 3, 2, 18, tzinfo=UTC))
    result = keel("close", "Dash", "--date", "2026-03-03")
    assert result.exit_code == 0, result.output
    batch = ClearingBatch.objects.get()
    assert result.stdout.splitlines() == [
        f"Dash 2026-03-02..2026-03-02: batch {batch.pk}, 1 event(s), owes 60.00 USD",
        "1 batch(es) closed",
    ]
    again = keel("close", "Dash", "--date", "2026-03-03")
    assert again.stdout.splitlines() == [
        "Dash 2026-03-02..2026-03-02: already closed",
        "0 batch(es) closed",
    ]
    assert ClearingBatch.objects.count() == 1
    assert batch.events.count() == 1


def test_close_every_platform_by_cadence(platform, alia):
    alia.clearing_cadence = "weekly"
    alia.save()
    result = keel("close", "--date", "2026-03-04")  # a Wednesday
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "Dash 2026-03-03..2026-03-03: nothing owed",
        "Tidy 2026-02-23..2026-03-01: nothing owed",
        "0 batch(es) closed",
    ]
    assert not ClearingBatch.objects.exists()


def test_close_refuses_a_bad_date(db, capsys):
    assert error_of(capsys, "close", "--date", "tomorrow") == (
        "error: date: 'tomorrow' is not a date (YYYY-MM-DD)"
    )


def test_close_refuses_a_day_after_today(platform, link, capsys):
    services.record_events(platform, [event("e1", "2026-03-02", 150_000)])
    tomorrow = timezone.localdate() + timedelta(days=1)
    # As of tomorrow, today's period (still running) would be closed with today's events.
    assert error_of(capsys, "close", "Dash", "--date", tomorrow.isoformat()) == (
        f"error: date: {tomorrow.isoformat()} is after today"
        f" ({timezone.localdate().isoformat()}); only a period that has ended can be closed"
    )
    assert not ClearingBatch.objects.exists()
    assert EarningsEvent.objects.get().clearing_batch is None


@pytest.mark.parametrize("command", ["", "add", "key", "list", "policy", "close"])
def test_every_platform_command_has_help(command):
    result = keel(*([command] if command else []), "--help")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: keel platform {command}".rstrip())
