"""Everything Keel holds about one worker, as one zip archive they can take away.

The archive holds ``data.json`` (everything, nested by domain), one CSV per collection
under ``csv/``, the files the worker uploaded under ``files/`` (portfolio pieces, benefit
receipts) and a ``README.txt`` that explains them. Money is an integer of minor units with
its currency, plus a ``<field>_formatted`` decimal text made from it (never a float).

Only the worker's own rows are read, each query filtered by the worker (or by a row that is
theirs, such as their own pool membership); other people appear at most by pseudonym
("Member 3") or as the counterpart *account code* of a leg that is not exported. Ledger
journals are exported with the legs on the worker's own accounts only: the other legs of a
journal belong to someone else's books (a platform's receivable, a pool's bank, a peer's
cash). Secrets are never exported: API key hashes, link-code hashes and testimonial token
digests stay behind.

Every query runs in one read snapshot (``keel.ledger.export``'s), so the balances, journals
and domain rows describe the same moment. Rows are read twice (once for ``data.json``, once
for the CSVs) rather than held in memory, so a worker with years of history is never held
at once; the archive itself is written to a file the caller gives (a temporary file for a
download, the ``--output`` path for ``keel worker export``).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from keel.api.models import ApiKey
from keel.career.models import (
    CheckIn,
    Contract,
    InvoiceAdjustment,
    Milestone,
    MilestoneEvent,
    Offer,
    OfferPayment,
    PeerMembership,
    Plan,
    PlanAction,
    PlanReview,
    PortfolioItem,
    Profile,
    Referral,
    RetainerUse,
    Skill,
    SkillSharing,
    Subscriber,
    SubscriptionEvent,
    Testimonial,
    TestimonialRequest,
    Upsell,
    WorkLog,
)
from keel.csvsafe import neutralise_cell
from keel.gateway.models import (
    BenefitsAccount,
    BenefitUse,
    Bundle,
    EarningsEvent,
    Enrollment,
    EventCorrection,
    PremiumCharge,
    WithholdingConsent,
    WorkerLink,
)
from keel.income.models import (
    ExchangeRate,
    ImportBatch,
    ImportProfileRecord,
    IncomeItem,
    IncomeSettings,
    Source,
    Stream,
)
from keel.ledger.models import Account, Journal, Leg
from keel.ledger.rules import available_balance, natural_balance
from keel.ledger.services import read_snapshot
from keel.money import from_minor
from keel.pools.models import (
    Ballot,
    Claim,
    ClaimDecision,
    Deposit,
    Gift,
    Membership,
    Repayment,
    pseudonym,
)

from .models import User

FORMAT = "keel-worker-data/1"
Row = dict[str, Any]
_CHUNK = 2000


@dataclass(frozen=True, slots=True)
class Collection:
    """One table-ish collection of the worker's data: a CSV file and a list in data.json."""

    domain: str
    name: str
    about: str
    columns: tuple[str, ...]
    read: Callable[[User], Iterable[Row]]
    # (amount column, currency column): each gets a ``<amount>_formatted`` column beside it.
    money: tuple[tuple[str, str], ...] = ()

    @property
    def csv_name(self) -> str:
        return f"csv/{self.domain}_{self.name}.csv"

    @property
    def header(self) -> tuple[str, ...]:
        money = dict(self.money)
        out: list[str] = []
        for column in self.columns:
            out.append(column)
            if column in money:
                out.append(f"{column}_formatted")
        return tuple(out)

    def rows(self, worker: User) -> Iterator[Row]:
        for row in self.read(worker):
            for amount, currency in self.money:
                value = row.get(amount)
                row[f"{amount}_formatted"] = (
                    None
                    if value is None or not row.get(currency)
                    else from_minor(value, row[currency])
                )
            yield {column: row[column] for column in self.header}


@dataclass(slots=True)
class ExportSummary:
    worker_id: int
    counts: dict[str, int] = field(default_factory=dict)
    files: int = 0
    files_missing: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


# ---------------------------------------------------------------------------- values


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def csv_cell(value: Any) -> str:
    """A CSV cell. Text is neutralised against spreadsheet formulas (keel.csvsafe); numbers,
    dates and booleans are written as they are, so a negative amount stays a number."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return neutralise_cell(json.dumps(value, ensure_ascii=False, sort_keys=True))
    return neutralise_cell(str(value))


def _values(queryset: QuerySet[Any], *fields: str, **expressions: Any) -> Iterator[Row]:
    yield from queryset.values(*fields, **expressions).iterator(chunk_size=_CHUNK)


# ---------------------------------------------------------------------------- account


def _profile(worker: User) -> Iterator[Row]:
    yield {
        "id": worker.pk,
        "email": worker.email,
        "name": worker.name,
        "home_currency": worker.home_currency,
        "date_joined": worker.date_joined,
        "last_login": worker.last_login,
        "is_active": worker.is_active,
        "roles": ", ".join(worker.roles),
    }


def _api_keys(worker: User) -> Iterator[Row]:
    # Never the secret's hash: the prefix is what the worker sees on their keys page.
    yield from _values(
        ApiKey.objects.filter(user=worker).order_by("created_at", "id"),
        "id",
        "name",
        "prefix",
        "scopes",
        "owner_type",
        "owner_id",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )


def _consents(worker: User) -> Iterator[Row]:
    for consent in WithholdingConsent.objects.filter(worker=worker).order_by("consented_at", "id"):
        yield {
            "consent": "benefits withholding",
            "given_at": consent.consented_at,
            "withdrawn_at": consent.revoked_at,
            "detail": f"{consent.rate_bps} basis points: {consent.consent_text}",
        }
    links = (
        WorkerLink.objects.filter(worker=worker, linked_at__isnull=False)
        .select_related("platform")
        .order_by("linked_at", "id")
    )
    for link in links:
        yield {
            "consent": "platform link",
            "given_at": link.linked_at,
            "withdrawn_at": link.ended_at,
            "detail": f"{link.platform.name} pays contributions for reference {link.worker_ref}",
        }
    sharing = SkillSharing.objects.filter(worker=worker).first()
    if sharing is not None:
        yield {
            "consent": "anonymised peer figures",
            "given_at": sharing.updated_at if sharing.opted_in else None,
            "withdrawn_at": None if sharing.opted_in else sharing.updated_at,
            "detail": "opted in" if sharing.opted_in else "opted out",
        }
    profile = Profile.objects.filter(worker=worker).first()
    if profile is not None:
        yield {
            "consent": "public profile",
            "given_at": profile.updated_at if profile.public else None,
            "withdrawn_at": None if profile.public else profile.updated_at,
            "detail": f"/p/{profile.handle}/ is {'public' if profile.public else 'private'}",
        }


# ---------------------------------------------------------------------------- income


def _income_settings(worker: User) -> Iterator[Row]:
    for row in _values(
        IncomeSettings.objects.filter(worker=worker),
        "essential_expenses",
        "salary",
        "salary_day",
        "tax_set_aside",
        "tax_rate_bps",
    ):
        yield {**row, "currency": worker.home_currency}


def _sources(worker: User) -> Iterator[Row]:
    yield from _values(
        Source.objects.filter(worker=worker).order_by("id"),
        "id",
        "name",
        "slug",
        "kind",
        "default_stream",
        "currency",
        "created_at",
    )


def _streams(worker: User) -> Iterator[Row]:
    yield from _values(
        Stream.objects.filter(worker=worker).order_by("id"), "id", "source_id", "kind", "name"
    )


def _income_items(worker: User) -> Iterator[Row]:
    yield from _values(
        IncomeItem.objects.filter(worker=worker).order_by("occurred_on", "id"),
        "id",
        "occurred_on",
        "kind",
        "source_id",
        "stream_id",
        "journal_id",
        "currency",
        "gross",
        "fee",
        "tips",
        "net",
        "home_currency",
        "home_income",
        "fx_rate",
        "description",
        "counterparty",
        "external_id",
        "hours",
    )


def _import_batches(worker: User) -> Iterator[Row]:
    yield from _values(
        ImportBatch.objects.filter(worker=worker).order_by("created_at", "id"),
        "id",
        "format",
        "filename",
        "file_sha256",
        "status",
        "created_at",
        "applied_at",
        "summary",
    )


def _import_profiles(worker: User) -> Iterator[Row]:
    yield from _values(
        ImportProfileRecord.objects.filter(worker=worker).order_by("name"), "name", "config"
    )


def _own_rates(worker: User) -> Iterator[Row]:
    yield from _values(
        ExchangeRate.objects.filter(worker=worker).order_by("on", "base", "quote"),
        "base",
        "quote",
        "on",
        "rate",
        "origin",
    )


# ---------------------------------------------------------------------------- ledger


def _own_accounts(worker: User) -> QuerySet[Account]:
    return Account.objects.filter(owner_type="worker", owner_id=worker.pk)


def _ledger_accounts(worker: User) -> Iterator[Row]:
    for account in _own_accounts(worker).order_by("code"):
        yield {
            "code": account.code,
            "name": account.name,
            "kind": account.kind,
            "currency": account.currency,
            "floor": account.floor,
            "posted": natural_balance(account.kind, account.posted_debits, account.posted_credits),
            "available": available_balance(
                account.kind,
                account.posted_debits,
                account.posted_credits,
                account.pending_debits,
                account.pending_credits,
            ),
            "created_at": account.created_at,
        }


def _own_legs(worker: User) -> QuerySet[Leg]:
    return Leg.objects.filter(account__owner_type="worker", account__owner_id=worker.pk)


def _journals(worker: User) -> Iterator[Row]:
    touching = _own_legs(worker).values("journal_id")
    yield from _values(
        Journal.objects.filter(id__in=touching).order_by("effective_date", "id"),
        "id",
        "effective_date",
        "kind",
        "status",
        "memo",
        "metadata",
        "created_at",
        "pending_id",
        "reverses_id",
    )


def _legs(worker: User) -> Iterator[Row]:
    yield from _values(
        _own_legs(worker).order_by("effective_date", "journal_id", "id"),
        "journal_id",
        "effective_date",
        "currency",
        "amount",
        "is_pending",
        account_code=F("account__code"),
    )


# ---------------------------------------------------------------------------- benefits


def _benefits_account(worker: User) -> Iterator[Row]:
    yield from _values(
        BenefitsAccount.objects.filter(worker=worker), "allocation", "opened_at", "updated_at"
    )


def _buckets(worker: User) -> Iterator[Row]:
    # Straight from the ledger accounts: the gateway's own reader opens a benefits account
    # for a worker who has none, and an export must write nothing.
    prefix = f"worker:{worker.pk}:benefits:"
    for account in _own_accounts(worker).filter(code__startswith=prefix).order_by("code"):
        bucket, _, _ = account.code.removeprefix(prefix).partition(":")
        yield {
            "bucket": bucket.replace("-", "_"),
            "account_code": account.code,
            "currency": account.currency,
            "balance": natural_balance(account.kind, account.posted_debits, account.posted_credits),
        }


def _contributions(worker: User) -> Iterator[Row]:
    yield from _values(
        EarningsEvent.objects.filter(worker=worker).order_by("occurred_at", "id"),
        "event_id",
        "worker_ref",
        "occurred_on",
        "kind",
        "currency",
        "gross",
        "tips",
        "bonus",
        "contribution",
        "status",
        "explanation",
        "journal_id",
        "released_journal_id",
        "received_at",
        platform_name=F("platform__name"),
    )


def _corrections(worker: User) -> Iterator[Row]:
    # The worker's own events' corrections, and those that moved the worker's money.
    yield from _values(
        EventCorrection.objects.filter(Q(worker=worker) | Q(event__worker=worker))
        .distinct()
        .order_by("recorded_at", "id"),
        "correction_id",
        "sequence",
        "gross",
        "tips",
        "bonus",
        "jobs",
        "reason",
        "contribution",
        "difference",
        "booked",
        "shortfall",
        "status",
        "journal_id",
        "recorded_at",
        platform_name=F("platform__name"),
        corrects=F("event__event_id"),
        currency=F("event__currency"),
    )


def _withdrawals(worker: User) -> Iterator[Row]:
    for row in _values(
        BenefitUse.objects.filter(worker=worker).order_by("used_on", "id"),
        "id",
        "kind",
        "bucket",
        "currency",
        "amount",
        "used_on",
        "provider",
        "note",
        "receipt",
        "receipt_name",
        "journal_id",
        "created_at",
    ):
        row["receipt_file"] = _archived_name("receipts", row["id"], row.pop("receipt"))
        yield row


def _enrollments(worker: User) -> Iterator[Row]:
    yield from _values(
        Enrollment.objects.filter(worker=worker).order_by("started_on", "id"),
        "id",
        "started_on",
        "ended_on",
        plan_name=F("plan__name"),
        provider=F("plan__provider"),
    )


def _premiums(worker: User) -> Iterator[Row]:
    yield from _values(
        PremiumCharge.objects.filter(enrollment__worker=worker).order_by("month", "id"),
        "enrollment_id",
        "month",
        "amount",
        "individual_price",
        "enrolled_count",
        "paid",
        currency=F("enrollment__plan__currency"),
    )


def _platform_links(worker: User) -> Iterator[Row]:
    yield from _values(
        WorkerLink.objects.filter(worker=worker).order_by("invited_at", "id"),
        "worker_ref",
        "status",
        "worker_status",
        "invited_at",
        "linked_at",
        "ended_at",
        platform_name=F("platform__name"),
    )


def _bundles(worker: User) -> Iterator[Row]:
    yield from _values(
        Bundle.objects.filter(link__worker=worker).order_by("starts_on", "id"),
        "reference",
        "title",
        "terms",
        "starts_on",
        "ends_on",
        "status",
        "offered_at",
        "responded_at",
        platform_name=F("platform__name"),
    )


# ---------------------------------------------------------------------------- pools


def _memberships(worker: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=worker)


def _pool_memberships(worker: User) -> Iterator[Row]:
    for row in _values(
        _memberships(worker).order_by("created_at", "id"),
        "number",
        "role",
        "status",
        "tier_gift",
        "joined_on",
        "left_on",
        pool_name=F("pool__name"),
        currency=F("pool__currency"),
    ):
        yield {**row, "pseudonym": f"Member {row['number']}"}


def _deposits(worker: User) -> Iterator[Row]:
    yield from _values(
        Deposit.objects.filter(membership__user=worker).order_by("month", "id"),
        "month",
        "amount",
        "paid_at",
        "journal_id",
        pool_name=F("membership__pool__name"),
        currency=F("membership__pool__currency"),
    )


def _claims(worker: User) -> Iterator[Row]:
    yield from _values(
        Claim.objects.filter(membership__user=worker).order_by("reported_at", "id"),
        "id",
        "kind",
        "status",
        "start_date",
        "recovered_on",
        "amount",
        "description",
        "reported_at",
        "decided_at",
        "journal_id",
        pool_name=F("pool__name"),
        currency=F("pool__currency"),
    )


def _gifts_received(worker: User) -> Iterator[Row]:
    yield from _values(
        Gift.objects.filter(claim__membership__user=worker).order_by("run__month", "id"),
        "claim_id",
        "gross",
        "after_cut",
        "received",
        "journal_id",
        month=F("run__month"),
        pool_name=F("claim__pool__name"),
        currency=F("claim__pool__currency"),
    )


def _reserve_legs(worker: User, kind: str, **only: Any) -> Iterator[Row]:
    """The legs of journals of `kind` on the worker's own reserve accounts (pool accounts
    that are theirs, named by their member number), oldest first."""
    for membership in _memberships(worker).select_related("pool").order_by("id"):
        code = f"pool:{membership.pool_id}:reserve:{membership.number}"
        legs = Leg.objects.filter(
            account__code=code, account__owner_type="pool", account__owner_id=membership.pool_id
        ).filter(journal__kind=kind, **only)
        for row in _values(
            legs.order_by("effective_date", "journal_id"),
            "journal_id",
            "effective_date",
            "amount",
            "currency",
            memo=F("journal__memo"),
        ):
            yield {**row, "pool_name": membership.pool.name, "pseudonym": membership.pseudonym}


def _gifts_given(worker: User) -> Iterator[Row]:
    """What the worker's reserve gave to other members' gifts."""
    yield from _reserve_legs(worker, "pool.gift")


def _repayments(worker: User) -> Iterator[Row]:
    """What the worker's claims gave back of gifts given after a late-reported recovery."""
    for row in _values(
        Repayment.objects.filter(claim__membership__user=worker).order_by("recorded_at", "id"),
        "claim_id",
        "kind",
        "amount",
        "received_on",
        "journal_id",
        "vote_id",
        "recorded_at",
        number=F("recorded_by__number"),
        pool_name=F("claim__pool__name"),
        currency=F("claim__pool__currency"),
    ):
        # Who recorded it (the worker or a steward) by pseudonym, as the pool shows them.
        number = row.pop("number")
        yield {**row, "recorded_by": "" if number is None else pseudonym(number)}


def _repayments_received(worker: User) -> Iterator[Row]:
    """What other members' repayments gave back to the worker's reserve: the credits of
    repayment journals on it. (A debit there is the worker's own reserve repaying on
    leaving, which ``_repayments`` lists.)"""
    yield from _reserve_legs(worker, "pool.repayment", amount__lt=0)


def _claim_decisions(worker: User) -> Iterator[Row]:
    yield from _values(
        ClaimDecision.objects.filter(membership__user=worker).order_by("decided_at", "id"),
        "claim_id",
        "decision",
        "reason",
        "decided_at",
        pool_name=F("claim__pool__name"),
    )


def _ballots(worker: User) -> Iterator[Row]:
    yield from _values(
        Ballot.objects.filter(membership__user=worker).order_by("cast_at", "id"),
        "vote_id",
        "choice",
        "cast_at",
        subject=F("vote__subject"),
        pool_name=F("vote__pool__name"),
    )


# ---------------------------------------------------------------------------- career


def _contracts(worker: User) -> Iterator[Row]:
    yield from _values(
        Contract.objects.filter(worker=worker).order_by("created_at", "id"),
        "id",
        "title",
        "client_name",
        "client_email",
        "currency",
        "credit_limit",
        "review_window_days",
        "payment_due_days",
        "payment_due_uses_contract_date",
        "income_source_slug",
        "created_at",
    )


def _milestones(worker: User) -> Iterator[Row]:
    yield from _values(
        Milestone.objects.filter(contract__worker=worker).order_by("contract_id", "sequence"),
        "id",
        "contract_id",
        "sequence",
        "deliverable",
        "amount",
        "rolled_in",
        "reserved",
        "released",
        "refunded",
        "due_on",
        "starts_on",
        "state",
        "delivered_on",
        "settled_on",
        "dispute_reason",
        "invoice_number",
        "invoice_issued_on",
        currency=F("contract__currency"),
    )


def _invoice_adjustments(worker: User) -> Iterator[Row]:
    yield from _values(
        InvoiceAdjustment.objects.filter(worker=worker).order_by("issued_on", "id"),
        "milestone_id",
        "kind",
        "number",
        "issued_on",
        "amount",
        "currency",
        "reason",
        "invoice_number",
        "invoice_issued_on",
        "invoice_total",
    )


def _milestone_events(worker: User) -> Iterator[Row]:
    yield from _values(
        MilestoneEvent.objects.filter(milestone__contract__worker=worker).order_by("at", "id"),
        "milestone_id",
        "action",
        "party",
        "on",
        "at",
        "amount",
        "state_before",
        "state_after",
        "note",
        "journals",
        currency=F("milestone__contract__currency"),
    )


def _offers(worker: User) -> Iterator[Row]:
    yield from _values(
        Offer.objects.filter(worker=worker).order_by("created_at", "id"),
        "id",
        "name",
        "kind",
        "price",
        "currency",
        "interval",
        "retainer_units",
        "retainer_unit",
        "retainer_on_unused",
        "retainer_rollover_cap",
        "active",
        "income_source_slug",
        "created_at",
    )


def _subscribers(worker: User) -> Iterator[Row]:
    yield from _values(
        Subscriber.objects.filter(offer__worker=worker).order_by("created_at", "id"),
        "id",
        "offer_id",
        "name",
        "email",
        "external_reference",
        "status",
        "price",
        "interval",
        "created_at",
        currency=F("offer__currency"),
    )


def _retainer_uses(worker: User) -> Iterator[Row]:
    yield from _values(
        RetainerUse.objects.filter(subscriber__offer__worker=worker).order_by("on", "id"),
        "subscriber_id",
        "on",
        "units",
        "note",
        "created_at",
    )


def _subscription_events(worker: User) -> Iterator[Row]:
    yield from _values(
        SubscriptionEvent.objects.filter(worker=worker).order_by("on", "id"),
        "subscriber_id",
        "kind",
        "on",
        "price",
        "currency",
        "interval",
        "at",
    )


def _offer_payments(worker: User) -> Iterator[Row]:
    yield from _values(
        OfferPayment.objects.filter(offer__worker=worker).order_by("on", "id"),
        "offer_id",
        "subscriber_id",
        "income_item_id",
        "amount",
        "currency",
        "on",
        "matched_by",
    )


def _plans(worker: User) -> Iterator[Row]:
    yield from _values(
        Plan.objects.filter(worker=worker).order_by("starts_on", "id"),
        "id",
        "starts_on",
        "currency",
        "start_mrr",
        "target_mrr",
        "expansion_channel",
        "expansion_source_slug",
        "expansion_target",
        "status",
        "created_at",
    )


def _plan_actions(worker: User) -> Iterator[Row]:
    yield from _values(
        PlanAction.objects.filter(plan__worker=worker).order_by("plan_id", "due_on", "id"),
        "plan_id",
        "title",
        "due_on",
        "done_on",
    )


def _check_ins(worker: User) -> Iterator[Row]:
    yield from _values(
        CheckIn.objects.filter(plan__worker=worker).order_by("plan_id", "week"),
        "plan_id",
        "week",
        "on",
        "note",
    )


def _plan_reviews(worker: User) -> Iterator[Row]:
    yield from _values(
        PlanReview.objects.filter(plan__worker=worker).order_by("plan_id"),
        "plan_id",
        "results",
        "words",
        "end_mrr",
        "trend_growth",
        "next_starts_on",
        "next_start_mrr",
        "next_target_mrr",
        currency=F("plan__currency"),
    )


def _upsells(worker: User) -> Iterator[Row]:
    yield from _values(
        Upsell.objects.filter(worker=worker).order_by("created_at", "id"),
        "base_id",
        "follow_on_id",
        "window_days",
        "created_at",
    )


def _portfolio(worker: User) -> Iterator[Row]:
    for row in _values(
        PortfolioItem.objects.filter(worker=worker).order_by("created_at", "id"),
        "id",
        "title",
        "summary",
        "link",
        "file",
        "file_name",
        "done_on",
        "skills",
        "client_name",
        "created_at",
    ):
        row["file_in_archive"] = _archived_name("portfolio", row["id"], row.pop("file"))
        yield row


def _testimonial_requests(worker: User) -> Iterator[Row]:
    # Never the token's digest: the link is the client's to use, not part of the worker's data.
    yield from _values(
        TestimonialRequest.objects.filter(worker=worker).order_by("created_at", "id"),
        "id",
        "client_name",
        "client_email",
        "created_at",
        "expires_at",
        "used_at",
    )


def _testimonials(worker: User) -> Iterator[Row]:
    yield from _values(
        Testimonial.objects.filter(request__worker=worker).order_by("created_at", "id"),
        "request_id",
        "author_name",
        "author_role",
        "text",
        "shown",
        "created_at",
    )


def _public_profile(worker: User) -> Iterator[Row]:
    yield from _values(
        Profile.objects.filter(worker=worker), "handle", "headline", "bio", "public", "updated_at"
    )


def _skills(worker: User) -> Iterator[Row]:
    yield from _values(
        Skill.objects.filter(worker=worker).order_by("name"),
        "id",
        "name",
        "level",
        "acquired_on",
        "created_at",
    )


def _work_logs(worker: User) -> Iterator[Row]:
    logs = (
        WorkLog.objects.filter(worker=worker).prefetch_related("skills").order_by("done_on", "id")
    )
    for log in logs:
        yield {
            "done_on": log.done_on,
            "minutes": log.minutes,
            "income": log.income,
            "currency": log.currency,
            "client_name": log.client_name,
            "skills": ", ".join(sorted(skill.name for skill in log.skills.all())),
            "milestone_id": log.milestone_id,
            "offer_payment_id": log.offer_payment_id,
        }


def _peer_groups(worker: User) -> Iterator[Row]:
    # The worker's own membership of each group, not the member list: the other members'
    # names are theirs.
    yield from _values(
        PeerMembership.objects.filter(worker=worker).order_by("created_at", "id"),
        "group_id",
        "status",
        "created_at",
        group_name=F("group__name"),
    )


def _referrals(worker: User) -> Iterator[Row]:
    referrals = Referral.objects.filter(Q(from_worker=worker) | Q(to_worker=worker))
    for row in _values(
        referrals.order_by("created_at", "id"),
        "id",
        "from_worker_id",
        "title",
        "description",
        "client_name",
        "status",
        "fee_amount",
        "fee_currency",
        "fee_paid_on",
        "fee_journal_id",
        "created_at",
    ):
        # The direction, never the other member's identity.
        made = row.pop("from_worker_id") == worker.pk
        yield {**row, "direction": "passed on" if made else "received"}


# ---------------------------------------------------------------------------- catalogue


def _c(
    domain: str,
    name: str,
    about: str,
    columns: str,
    read: Callable[[User], Iterable[Row]],
    money: Sequence[tuple[str, str]] = (),
) -> Collection:
    return Collection(domain, name, about, tuple(columns.split()), read, tuple(money))


COLLECTIONS: tuple[Collection, ...] = (
    _c(
        "account",
        "profile",
        "You: name, email address, home currency, when you joined and your roles.",
        "id email name home_currency date_joined last_login is_active roles",
        _profile,
    ),
    _c(
        "account",
        "api_keys",
        "Your API keys: name, public prefix, scopes and dates (never the secret).",
        "id name prefix scopes owner_type owner_id created_at last_used_at expires_at revoked_at",
        _api_keys,
    ),
    _c(
        "account",
        "consents",
        "Every consent you gave and when you withdrew it: benefits withholding, platform"
        " links, anonymised peer figures, the public profile.",
        "consent given_at withdrawn_at detail",
        _consents,
    ),
    _c(
        "income",
        "settings",
        "Your forecast and salary settings (essential expenses, salary, tax set-aside).",
        "currency essential_expenses salary salary_day tax_set_aside tax_rate_bps",
        _income_settings,
        [("essential_expenses", "currency"), ("salary", "currency")],
    ),
    _c(
        "income",
        "sources",
        "Where your income comes from.",
        "id name slug kind default_stream currency created_at",
        _sources,
    ),
    _c(
        "income",
        "streams",
        "How each source's income behaves (recurring, project, micro-work).",
        "id source_id kind name",
        _streams,
    ),
    _c(
        "income",
        "entries",
        "Every income entry (income, refund, fee, transfer) with its ledger journal.",
        "id occurred_on kind source_id stream_id journal_id currency gross fee tips net"
        " home_currency home_income fx_rate description counterparty external_id hours",
        _income_items,
        [
            ("gross", "currency"),
            ("fee", "currency"),
            ("tips", "currency"),
            ("net", "currency"),
            ("home_income", "home_currency"),
        ],
    ),
    _c(
        "income",
        "imports",
        "The files you imported and what each import did.",
        "id format filename file_sha256 status created_at applied_at summary",
        _import_batches,
    ),
    _c(
        "income",
        "import_profiles",
        "Column mappings you saved for files in no known format.",
        "name config",
        _import_profiles,
    ),
    _c(
        "income",
        "exchange_rates",
        "Exchange rates you entered yourself.",
        "base quote on rate origin",
        _own_rates,
    ),
    _c(
        "ledger",
        "accounts",
        "Your ledger accounts and their balances (on each account's normal side).",
        "code name kind currency floor posted available created_at",
        _ledger_accounts,
        [("floor", "currency"), ("posted", "currency"), ("available", "currency")],
    ),
    _c(
        "ledger",
        "journals",
        "Every journal that touched one of your accounts.",
        "id effective_date kind status memo metadata created_at pending_id reverses_id",
        _journals,
    ),
    _c(
        "ledger",
        "legs",
        "The legs of those journals on your accounts (debits positive, credits negative).",
        "journal_id effective_date account_code currency amount is_pending",
        _legs,
        [("amount", "currency")],
    ),
    _c(
        "benefits",
        "account",
        "Your portable benefits account: how new contributions are split.",
        "allocation opened_at updated_at",
        _benefits_account,
    ),
    _c(
        "benefits",
        "buckets",
        "What each benefits bucket holds now.",
        "bucket account_code currency balance",
        _buckets,
        [("balance", "currency")],
    ),
    _c(
        "benefits",
        "contributions",
        "Earnings platforms reported for you and the contribution each paid.",
        "platform_name event_id worker_ref occurred_on kind currency gross tips bonus contribution"
        " status explanation journal_id released_journal_id received_at",
        _contributions,
        [
            ("gross", "currency"),
            ("tips", "currency"),
            ("bonus", "currency"),
            ("contribution", "currency"),
        ],
    ),
    _c(
        "benefits",
        "corrections",
        "Corrections platforms made to those events: the corrected figures, why, and what was"
        " added to your buckets or taken back (shortfall: what you had already used and kept).",
        "platform_name correction_id corrects sequence currency gross tips bonus jobs reason"
        " contribution difference booked shortfall status journal_id recorded_at",
        _corrections,
        [
            ("gross", "currency"),
            ("tips", "currency"),
            ("bonus", "currency"),
            ("contribution", "currency"),
            ("difference", "currency"),
            ("booked", "currency"),
            ("shortfall", "currency"),
        ],
    ),
    _c(
        "benefits",
        "withdrawals",
        "Money you took out of your buckets (time off, health, retirement, emergency, premiums).",
        "id kind bucket currency amount used_on provider note receipt_name receipt_file"
        " journal_id created_at",
        _withdrawals,
        [("amount", "currency")],
    ),
    _c(
        "benefits",
        "enrollments",
        "Benefit plans you enrolled in.",
        "id plan_name provider started_on ended_on",
        _enrollments,
    ),
    _c(
        "benefits",
        "premiums",
        "Monthly premiums of those plans, paid or not.",
        "enrollment_id month currency amount individual_price enrolled_count paid",
        _premiums,
        [("amount", "currency"), ("individual_price", "currency")],
    ),
    _c(
        "benefits",
        "platform_links",
        "The platforms you are or were linked with.",
        "platform_name worker_ref status worker_status invited_at linked_at ended_at",
        _platform_links,
    ),
    _c(
        "benefits",
        "bundles",
        "Committed work bundles platforms offered you.",
        "platform_name reference title terms starts_on ends_on status offered_at responded_at",
        _bundles,
    ),
    _c(
        "pools",
        "memberships",
        "Your pool memberships (the pseudonym is how people outside a pool see you).",
        "pool_name pseudonym number role status currency tier_gift joined_on left_on",
        _pool_memberships,
        [("tier_gift", "currency")],
    ),
    _c(
        "pools",
        "deposits",
        "Your monthly pool deposits.",
        "pool_name month currency amount paid_at journal_id",
        _deposits,
        [("amount", "currency")],
    ),
    _c(
        "pools",
        "claims",
        "The claims you reported.",
        "id pool_name kind status start_date recovered_on currency amount description reported_at"
        " decided_at journal_id",
        _claims,
        [("amount", "currency")],
    ),
    _c(
        "pools",
        "gifts_received",
        "The gifts your claims received.",
        "claim_id pool_name month currency gross after_cut received journal_id",
        _gifts_received,
        [("gross", "currency"), ("after_cut", "currency"), ("received", "currency")],
    ),
    _c(
        "pools",
        "gifts_given",
        "What your reserve gave to other members' gifts (debits: money leaving your reserve).",
        "pool_name pseudonym journal_id effective_date currency amount memo",
        _gifts_given,
        [("amount", "currency")],
    ),
    _c(
        "pools",
        "repayments",
        "What your claims gave back of gifts given for months after a recovery reported late:"
        " paid in (by you, or recorded by a steward), taken from your reserve when you left,"
        " or waived by the members' vote (no journal).",
        "claim_id pool_name kind currency amount received_on recorded_by vote_id journal_id"
        " recorded_at",
        _repayments,
        [("amount", "currency")],
    ),
    _c(
        "pools",
        "repayments_received",
        "What other members gave back to your reserve of gifts it had given them (credits, so"
        " negative: money coming back into your reserve; if you had left the pool, it was"
        " paid out to you at once).",
        "pool_name pseudonym journal_id effective_date currency amount memo",
        _repayments_received,
        [("amount", "currency")],
    ),
    _c(
        "pools",
        "claim_decisions",
        "Your decisions on other members' claims.",
        "pool_name claim_id decision reason decided_at",
        _claim_decisions,
    ),
    _c(
        "pools",
        "ballots",
        "Your votes.",
        "pool_name vote_id subject choice cast_at",
        _ballots,
    ),
    _c(
        "career",
        "contracts",
        "Your client contracts.",
        "id title client_name client_email currency credit_limit review_window_days"
        " payment_due_days payment_due_uses_contract_date income_source_slug created_at",
        _contracts,
        [("credit_limit", "currency")],
    ),
    _c(
        "career",
        "milestones",
        "The milestones of those contracts.",
        "id contract_id sequence deliverable currency amount rolled_in reserved released"
        " refunded due_on starts_on state delivered_on settled_on dispute_reason"
        " invoice_number invoice_issued_on",
        _milestones,
        [
            ("amount", "currency"),
            ("rolled_in", "currency"),
            ("reserved", "currency"),
            ("released", "currency"),
            ("refunded", "currency"),
        ],
    ),
    _c(
        "career",
        "milestone_events",
        "Every change of a milestone.",
        "milestone_id action party on at currency amount state_before state_after note journals",
        _milestone_events,
        [("amount", "currency")],
    ),
    _c(
        "career",
        "invoice_adjustments",
        "The credit notes and supplementary invoices issued against your invoices"
        " (amount positive; a credit note takes it off the invoice).",
        "milestone_id kind number issued_on currency amount reason invoice_number"
        " invoice_issued_on invoice_total",
        _invoice_adjustments,
        [("amount", "currency"), ("invoice_total", "currency")],
    ),
    _c(
        "career",
        "offers",
        "What you sell.",
        "id name kind currency price interval retainer_units retainer_unit"
        " retainer_on_unused retainer_rollover_cap active income_source_slug created_at",
        _offers,
        [("price", "currency")],
    ),
    _c(
        "career",
        "subscribers",
        "The buyers of your offers.",
        "id offer_id name email external_reference status currency price interval created_at",
        _subscribers,
        [("price", "currency")],
    ),
    _c(
        "career",
        "retainer_uses",
        "Retainer units (hours or deliverables) your subscribers used.",
        "subscriber_id on units note created_at",
        _retainer_uses,
    ),
    _c(
        "career",
        "subscription_events",
        "Each subscriber's starts, pauses, changes and cancellations.",
        "subscriber_id kind on currency price interval at",
        _subscription_events,
        [("price", "currency")],
    ),
    _c(
        "career",
        "offer_payments",
        "Payments matched to your offers.",
        "offer_id subscriber_id income_item_id currency amount on matched_by",
        _offer_payments,
        [("amount", "currency")],
    ),
    _c(
        "career",
        "plans",
        "Your 90-day plans.",
        "id starts_on currency start_mrr target_mrr expansion_channel expansion_source_slug"
        " expansion_target status created_at",
        _plans,
        [("start_mrr", "currency"), ("target_mrr", "currency"), ("expansion_target", "currency")],
    ),
    _c(
        "career",
        "plan_actions",
        "Key actions of your plans.",
        "plan_id title due_on done_on",
        _plan_actions,
    ),
    _c("career", "check_ins", "Weekly check-ins.", "plan_id week on note", _check_ins),
    _c(
        "career",
        "plan_reviews",
        "End-of-plan reviews.",
        "plan_id currency results words end_mrr trend_growth next_starts_on next_start_mrr"
        " next_target_mrr",
        _plan_reviews,
        [
            ("end_mrr", "currency"),
            ("trend_growth", "currency"),
            ("next_start_mrr", "currency"),
            ("next_target_mrr", "currency"),
        ],
    ),
    _c(
        "career",
        "upsells",
        "Follow-on offers you pair with a base offer.",
        "base_id follow_on_id window_days created_at",
        _upsells,
    ),
    _c(
        "career",
        "portfolio",
        "Your portfolio pieces; uploaded files are under files/portfolio/.",
        "id title summary link file_name file_in_archive done_on skills client_name created_at",
        _portfolio,
    ),
    _c(
        "career",
        "testimonial_requests",
        "Testimonial requests you sent (never the link itself).",
        "id client_name client_email created_at expires_at used_at",
        _testimonial_requests,
    ),
    _c(
        "career",
        "testimonials",
        "Testimonials your clients wrote.",
        "request_id author_name author_role text shown created_at",
        _testimonials,
    ),
    _c(
        "career",
        "public_profile",
        "Your public profile.",
        "handle headline bio public updated_at",
        _public_profile,
    ),
    _c("career", "skills", "Your skills.", "id name level acquired_on created_at", _skills),
    _c(
        "career",
        "work_logs",
        "The work you logged, with its skills.",
        "done_on minutes currency income client_name skills milestone_id offer_payment_id",
        _work_logs,
        [("income", "currency")],
    ),
    _c(
        "career",
        "peer_groups",
        "Peer groups you started, joined or were invited to (your membership only).",
        "group_id group_name status created_at",
        _peer_groups,
    ),
    _c(
        "career",
        "referrals",
        "Gigs you passed on or received, with their referral fees.",
        "id direction title description client_name status fee_currency fee_amount"
        " fee_paid_on fee_journal_id created_at",
        _referrals,
        [("fee_amount", "fee_currency")],
    ),
)


# ---------------------------------------------------------------------------- files


def _archived_name(kind: str, row_id: int, stored: str) -> str:
    if not stored:
        return ""
    base = stored.rsplit("/", 1)[-1]
    return f"files/{kind}/{row_id}-{base}"


def _uploads(worker: User) -> Iterator[tuple[str, Any]]:
    """(name in the archive, FieldFile) of every file the worker uploaded."""
    for item in PortfolioItem.objects.filter(worker=worker).exclude(file="").order_by("id"):
        yield _archived_name("portfolio", item.pk, item.file.name or ""), item.file
    for use in BenefitUse.objects.filter(worker=worker).exclude(receipt="").order_by("id"):
        yield _archived_name("receipts", use.pk, use.receipt.name or ""), use.receipt


# ---------------------------------------------------------------------------- archive

README = """Keel: all your data
===================

Exported for {email} (Keel account {id}) at {generated_at}.

data.json
    Everything below in one JSON document, nested by domain ("account", "income",
    "ledger", "benefits", "pools", "career"), each a list of rows per collection.
csv/
    The same rows, one CSV file per collection (UTF-8, comma-separated, header row).
files/
    The files you uploaded: portfolio pieces and benefit receipts.

Money
    Every amount is a whole number of minor units (cents for USD and EUR, yen for JPY)
    beside its ISO 4217 currency code: 12345 with USD is 123.45 US dollars. Each amount
    has a "<name>_formatted" column with the same amount as decimal text.
Ledger signs
    In csv/ledger_legs.csv a positive amount is a debit and a negative one a credit; each
    journal's legs on your accounts are listed (the other side of a journal is someone
    else's books: a platform, a pool, Keel's custody account).
Spreadsheets
    A text cell that begins with =, +, -, @, a tab or a carriage return starts with an
    added ' so that a spreadsheet shows it and never runs it as a formula. Amount columns
    are numbers and are written as they are.
Other people
    Other members of your pools appear only by pseudonym ("Member 3"); the other members
    of your peer groups and the other side of a referral do not appear at all.
Not included
    Secrets (API key hashes, link codes, testimonial links) are never exported.

Files in csv/
{files}
"""


def _readme(worker: User, now: datetime) -> str:
    lines = [f"    {c.csv_name}: {c.about}" for c in COLLECTIONS]
    return README.format(
        email=worker.email, id=worker.pk, generated_at=now.isoformat(), files="\n".join(lines)
    )


def _write_json(worker: User, out: IO[str], now: datetime, summary: ExportSummary) -> None:
    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, default=_json_value, sort_keys=False)

    out.write("{\n")
    out.write(f'"format": {dump(FORMAT)},\n"generated_at": {dump(now.isoformat())},\n')
    out.write(f'"worker_id": {worker.pk}')
    domains: dict[str, list[Collection]] = {}
    for collection in COLLECTIONS:
        domains.setdefault(collection.domain, []).append(collection)
    for domain, collections in domains.items():
        out.write(f",\n{dump(domain)}: {{")
        for position, collection in enumerate(collections):
            out.write(f"{',' if position else ''}\n  {dump(collection.name)}: [")
            count = 0
            for count, row in enumerate(collection.rows(worker), start=1):
                out.write(f"{',' if count > 1 else ''}\n    {dump(row)}")
            out.write("\n  ]" if count else "]")
            summary.counts[f"{domain}.{collection.name}"] = count
        out.write("\n}")
    out.write("\n}\n")


def _write_csv(worker: User, collection: Collection, out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(collection.header)
    for row in collection.rows(worker):
        writer.writerow([csv_cell(row[column]) for column in collection.header])


def write_archive(worker: User, target: IO[bytes], *, now: datetime | None = None) -> ExportSummary:
    """Write the worker's archive to ``target`` (a binary file opened for writing)."""
    now = now or timezone.now()
    summary = ExportSummary(worker.pk)
    with read_snapshot(), zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        worker = User.objects.get(pk=worker.pk)
        archive.writestr("README.txt", _readme(worker, now))
        with archive.open("data.json", "w") as raw, _text(raw) as text:
            _write_json(worker, text, now, summary)
        for collection in COLLECTIONS:
            with archive.open(collection.csv_name, "w") as raw, _text(raw) as text:
                _write_csv(worker, collection, text)
        for name, stored in _uploads(worker):
            try:
                source = stored.open("rb")
            except (FileNotFoundError, OSError):
                # The row stays in the CSV; the README's reader sees the file is not here.
                summary.files_missing.append(name)
                continue
            with source, archive.open(name, "w") as raw:
                shutil.copyfileobj(source, raw)
            summary.files += 1
    return summary


def _text(raw: IO[bytes]) -> io.TextIOWrapper:
    # newline="" leaves csv's own line endings alone.
    return io.TextIOWrapper(raw, encoding="utf-8", newline="")


def archive_name(worker: User, now: datetime | None = None) -> str:
    day = timezone.localdate(now) if now else timezone.localdate()
    return f"keel-data-{worker.pk}-{day.isoformat()}.zip"
