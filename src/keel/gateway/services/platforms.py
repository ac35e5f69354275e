"""Platforms, their operators, API keys and published contribution policies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from keel.accounts.models import Role, User
from keel.accounts.services import grant_role
from keel.api import services as api_keys
from keel.api.models import ApiKey
from keel.audit import services as audit
from keel.ledger import services as ledger
from keel.money import MoneyError, get_currency

from ..errors import GatewayError, NotAllowed, NotFound
from ..models import ContributionPolicy, EarningsEvent, Platform
from ..rules.policy import Policy, PolicyError

PLATFORM_SCOPES = ("earnings:write", "workers:link", "clearing:read", "bundles:write")
CADENCES = ("daily", "weekly", "monthly")


# ---------------------------------------------------------------------------- accounts


def receivable_code(platform_id: int, currency: str) -> str:
    """Contributions the platform owes and has not paid yet."""
    return f"platform:{platform_id}:receivable:{currency.lower()}"


def suspense_code(platform_id: int, currency: str) -> str:
    """Contributions for worker references nobody has linked yet: owed to a worker Keel
    does not know, so a liability, released when the link is accepted."""
    return f"platform:{platform_id}:suspense:{currency.lower()}"


def custody_code(currency: str) -> str:
    """Keel's custodial bank account: settlements come in, uses go out."""
    return f"keel:gateway:custody:{currency.lower()}"


def open_platform_accounts(platform: Platform, currency: str) -> None:
    ledger.open_account(
        receivable_code(platform.pk, currency),
        owner_type="platform",
        owner_id=platform.pk,
        kind="asset",
        currency=currency,
        name=f"{platform.name}: contributions receivable",
    )
    ledger.open_account(
        suspense_code(platform.pk, currency),
        owner_type="platform",
        owner_id=platform.pk,
        kind="liability",
        currency=currency,
        floor=0,
        name=f"{platform.name}: held for unlinked workers",
    )
    ledger.open_account(
        custody_code(currency),
        owner_type="keel",
        kind="asset",
        currency=currency,
        name=f"Benefits custody account ({currency})",
    )


# ---------------------------------------------------------------------------- platforms


def _currency(value: str, field: str) -> str:
    try:
        return get_currency(value.upper()).code
    except MoneyError as exc:
        raise GatewayError(str(exc), field=field) from None


@transaction.atomic
def create_platform(
    name: str,
    *,
    currency: str = "USD",
    operator: User | None = None,
    policy: Mapping[str, Any] | None = None,
    policy_name: str = "",
    effective_from: date | None = None,
    clearing_cadence: str = "daily",
) -> Platform:
    name = name.strip()
    if not name:
        raise GatewayError("a platform needs a name", field="name")
    if len(name) > 120:
        raise GatewayError("a platform name has at most 120 characters", field="name")
    slug = slugify(name)[:60]
    if not slug:
        raise GatewayError("the name needs at least one letter or digit", field="name")
    if (
        Platform.objects.filter(name__iexact=name).exists()
        or Platform.objects.filter(slug=slug).exists()
    ):
        raise GatewayError(f"a platform named {name!r} already exists", field="name")
    if clearing_cadence not in CADENCES:
        raise GatewayError(
            f"clearing cadence must be one of {', '.join(CADENCES)}", field="clearing_cadence"
        )
    platform = Platform.objects.create(
        name=name,
        slug=slug,
        currency=_currency(currency, "currency"),
        clearing_cadence=clearing_cadence,
    )
    open_platform_accounts(platform, platform.currency)
    if operator is not None:
        add_operator(platform, operator)
    if policy is not None:
        publish_policy(
            platform,
            policy,
            name=policy_name or f"{name} contribution policy",
            effective_from=effective_from or date(2000, 1, 1),
            by=operator,
        )
    return platform


def add_operator(platform: Platform, user: User) -> None:
    grant_role(user, Role.PLATFORM_OPERATOR)
    platform.operators.add(user)


def get_platform(name_or_slug: str) -> Platform:
    platform = (
        Platform.objects.filter(slug=name_or_slug).first()
        or Platform.objects.filter(name__iexact=name_or_slug).first()
    )
    if platform is None:
        raise NotFound(f"no platform named {name_or_slug!r}", field="platform")
    return platform


def platforms_of(user: User) -> list[Platform]:
    return list(user.operated_platforms.order_by("name"))


def operated_platform(user: User, platform_id: int) -> Platform:
    """The platform if this person operates it; another platform is reported as not
    found, like one that does not exist."""
    platform = user.operated_platforms.filter(pk=platform_id).first()
    if platform is None:
        raise NotFound(f"no platform with id {platform_id}", field="platform")
    return platform


# ---------------------------------------------------------------------------- policies


def parse_policy(terms: Mapping[str, Any], *, currency: str | None = None) -> Policy:
    data = dict(terms)
    if currency is not None:
        data.setdefault("currency", currency)
    try:
        return Policy.from_dict(data)
    except PolicyError as exc:
        field = f"policy.{exc.field}" if exc.field else "policy"
        raise GatewayError(str(exc), field=field) from None


# How far ahead a policy version may be published.
POLICY_LEAD = timedelta(days=366)


def check_policy(
    platform: Platform, terms: Mapping[str, Any], effective_from: date
) -> tuple[Policy, ContributionPolicy | None]:
    """The terms as a policy, and the latest version, when a version with these terms may
    start on ``effective_from``; GatewayError naming the field when not. Writes nothing,
    so the console's preview asks what publishing will."""
    policy = parse_policy(terms, currency=platform.currency)
    horizon = timezone.localdate() + POLICY_LEAD
    if effective_from > horizon:
        # A version can only be followed by one that starts later, so a mistyped year
        # (2062, 9999) would stop the platform from publishing anything until then.
        raise GatewayError(
            f"a new version can start at most a year ahead, by {horizon.isoformat()};"
            " publish a later change nearer the time",
            field="effective_from",
        )
    latest = platform.policies.order_by("-version").first()
    if latest is not None and effective_from <= latest.effective_from:
        raise GatewayError(
            f"a new version must start after version {latest.version}, which starts on"
            f" {latest.effective_from.isoformat()}",
            field="effective_from",
        )
    last_event = EarningsEvent.objects.filter(platform=platform).aggregate(d=Max("occurred_on"))
    if last_event["d"] is not None and effective_from <= last_event["d"]:
        raise GatewayError(
            "a policy never rewrites the past: events up to"
            f" {last_event['d'].isoformat()} are already recorded, so the new version must"
            " start after that day",
            field="effective_from",
        )
    return policy, latest


@transaction.atomic
def publish_policy(
    platform: Platform,
    terms: Mapping[str, Any],
    *,
    name: str,
    effective_from: date,
    by: User | None = None,
) -> ContributionPolicy:
    """Publish a new version. It may only start after every event already received (so
    no recorded contribution would have been computed differently) and after the
    version before it."""
    Platform.objects.select_for_update().filter(pk=platform.pk).first()
    policy, latest = check_policy(platform, terms, effective_from)
    name = name.strip() or f"{platform.name} contribution policy"
    open_platform_accounts(platform, policy.currency)
    published = ContributionPolicy.objects.create(
        platform=platform,
        version=(latest.version + 1) if latest else 1,
        name=name[:120],
        effective_from=effective_from,
        terms=policy.to_dict(),
        published_by=by,
    )
    audit.record(
        "policy.published",
        actor=by,
        subject=f"platform:{platform.pk}",
        platform_id=platform.pk,
        details={
            "policy_id": published.pk,
            "version": published.version,
            "effective_from": effective_from.isoformat(),
        },
    )
    return published


def policy_versions(platform: Platform) -> list[ContributionPolicy]:
    return list(platform.policies.order_by("-version"))


def policy_in_effect(
    versions: Iterable[ContributionPolicy], day: date
) -> ContributionPolicy | None:
    """The version in effect on `day` from a list of a platform's versions."""
    best: ContributionPolicy | None = None
    for version in versions:
        if version.effective_from <= day and (
            best is None or version.effective_from > best.effective_from
        ):
            best = version
    return best


def current_policy(platform: Platform, on: date) -> ContributionPolicy | None:
    return platform.policies.filter(effective_from__lte=on).order_by("-effective_from").first()


def terms_of(version: ContributionPolicy) -> Policy:
    return Policy.from_dict(version.terms)


# ---------------------------------------------------------------------------- keys


def create_platform_key(
    platform: Platform, user: User, name: str, scopes: Iterable[str]
) -> tuple[ApiKey, str]:
    """A key that acts for the platform (never for the operator's own books). Only the
    platform's scopes can be granted; the plaintext is returned once."""
    if not platform.operators.filter(pk=user.pk).exists():
        raise NotAllowed(f"{user.email} does not operate {platform.name}", field="platform")
    scopes = list(scopes)
    for index, scope in enumerate(scopes):
        if scope not in PLATFORM_SCOPES:
            raise GatewayError(
                f"a platform key can have the scopes {', '.join(PLATFORM_SCOPES)}, not {scope!r}",
                field=f"scopes.{index}",
            )
    if not scopes:
        raise GatewayError("choose at least one scope", field="scopes")
    return api_keys.create_key(user, name, scopes, "platform", platform.pk)


def platform_keys(platform: Platform) -> list[ApiKey]:
    return list(
        ApiKey.objects.filter(owner_type="platform", owner_id=platform.pk)
        .select_related("user")
        .order_by("-created_at", "-id")
    )


def revoke_platform_key(platform: Platform, user: User, key_id: int) -> ApiKey:
    if not platform.operators.filter(pk=user.pk).exists():
        raise NotAllowed(f"{user.email} does not operate {platform.name}", field="platform")
    key = ApiKey.objects.filter(owner_type="platform", owner_id=platform.pk, pk=key_id).first()
    if key is None:
        raise NotFound(f"no key with id {key_id} on {platform.name}", field="id")
    return api_keys.revoke_key(key.user, key.pk, by=user)
