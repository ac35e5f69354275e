"""The worker's portable benefits account: buckets, allocation, uses and elective
withholding.

Chart of accounts (Keel as custodian): each bucket is a liability Keel owes the worker
(`worker:<id>:benefits:<bucket>`, with a `:<ccy>` suffix outside the home currency),
floored at zero so no use can take more than the bucket holds. Money a worker takes out
leaves Keel's custody account and, where it goes to the worker, arrives in their cash.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import IO, Any

from django.conf import settings
from django.core.files.base import File
from django.db import transaction
from django.utils import timezone

from keel.accounts.models import User
from keel.income import services as income
from keel.income.signals import BookedIncome
from keel.ledger import services as ledger
from keel.ledger.models import Account
from keel.ledger.rules import JournalSpec, LegSpec

from ..errors import GatewayError, NotFound
from ..models import BenefitsAccount, BenefitUse, UseKind, WithholdingConsent
from ..rules import buckets as bucket_rules
from ..rules.policy import PolicyError, format_bps
from .platforms import current_policy, custody_code, terms_of

# Uses whose money goes to the worker (and so lands in their cash); the others go to a
# provider (a retirement plan, a health plan's insurer).
PAID_TO_WORKER = frozenset({UseKind.TIME_OFF, UseKind.HEALTH, UseKind.EMERGENCY})
MAX_RECEIPT_BYTES: int = settings.KEEL_MAX_RECEIPT_BYTES
# What a receipt may be, by extension and by its first bytes (the name is only a claim):
# each way a type can begin, as (offset, bytes) that must all be there.
RECEIPT_SIGNATURES: Mapping[str, tuple[tuple[tuple[int, bytes], ...], ...]] = {
    ".pdf": (((0, b"%PDF-"),),),
    ".png": (((0, b"\x89PNG\r\n\x1a\n"),),),
    ".jpg": (((0, b"\xff\xd8\xff"),),),
    ".jpeg": (((0, b"\xff\xd8\xff"),),),
    ".webp": (((0, b"RIFF"), (8, b"WEBP")),),
    ".heic": tuple(((4, b"ftyp"), (8, brand)) for brand in (b"heic", b"heix", b"mif1", b"msf1")),
}
RECEIPT_TYPES = frozenset(RECEIPT_SIGNATURES)
WITHHOLDING_CONSENT = (
    "I ask Keel to move {rate} of every payment I report or import into my portable"
    " benefits account, split by my allocation. I can stop this at any time; money already"
    " moved stays mine in my benefits account."
)


def bucket_code(worker: User, bucket: str, currency: str) -> str:
    code = f"worker:{worker.pk}:benefits:{bucket.replace('_', '-')}"
    return code if currency == worker.home_currency else f"{code}:{currency.lower()}"


def payouts_code(worker: User, currency: str) -> str:
    code = f"worker:{worker.pk}:income:benefit-payouts"
    return code if currency == worker.home_currency else f"{code}:{currency.lower()}"


def withheld_code(worker: User, currency: str) -> str:
    code = f"worker:{worker.pk}:expenses:benefits-withheld"
    return code if currency == worker.home_currency else f"{code}:{currency.lower()}"


def open_buckets(worker: User, currency: str) -> None:
    for bucket in bucket_rules.BUCKETS:
        ledger.open_account(
            bucket_code(worker, bucket, currency),
            owner_type="worker",
            owner_id=worker.pk,
            kind="liability",
            currency=currency,
            floor=0,
            name=f"Benefits: {bucket_rules.BUCKET_LABELS[bucket]}"
            + ("" if currency == worker.home_currency else f" ({currency})"),
        )


def benefits_account(worker: User) -> BenefitsAccount:
    """The worker's benefits account, opened with the default allocation on first use."""
    account = BenefitsAccount.objects.filter(worker=worker).first()
    if account is not None:
        return account
    with transaction.atomic():
        account, created = BenefitsAccount.objects.get_or_create(
            worker=worker, defaults={"allocation": dict(bucket_rules.DEFAULT_ALLOCATION_BPS)}
        )
        if created:
            open_buckets(worker, worker.home_currency)
    return account


def allocation_of(worker: User) -> dict[str, int]:
    return {b: int(v) for b, v in benefits_account(worker).allocation.items()}


@transaction.atomic
def set_allocation(worker: User, allocation: Mapping[str, Any]) -> BenefitsAccount:
    """Change how future contributions are split; money already in the buckets stays."""
    try:
        clean = bucket_rules.validate_allocation(allocation)
    except PolicyError as exc:
        raise GatewayError(str(exc), field=exc.field) from None
    account = benefits_account(worker)
    account.allocation = clean
    account.updated_at = timezone.now()
    account.save(update_fields=["allocation", "updated_at"])
    return account


class CreditLegs:
    """Credits to workers' buckets that sum exactly to each amount. One instance serves a
    whole batch: each worker's bucket codes are worked out once, and each split of an
    amount by an allocation once per process (most workers share the default allocation,
    and contributions repeat the same few amounts)."""

    def __init__(self) -> None:
        self.codes: dict[tuple[int, str], dict[str, str]] = {}

    def legs(
        self, worker: User, amount: int, currency: str, allocation: Mapping[str, int]
    ) -> list[LegSpec]:
        worker_pk = worker.pk
        codes = self.codes.get((worker_pk, currency))
        if codes is None:
            codes = self.codes[(worker_pk, currency)] = {
                bucket: bucket_code(worker, bucket, currency) for bucket in bucket_rules.BUCKETS
            }
        return [
            LegSpec(codes[bucket], -part, currency)
            for bucket, part in _split(tuple(allocation.items()), amount)
        ]


@functools.lru_cache(maxsize=16384, typed=True)
def _split(shares: tuple[tuple[str, int], ...], amount: int) -> tuple[tuple[str, int], ...]:
    """The non-zero parts of `amount` split by an allocation (bucket, basis points)."""
    return tuple(
        (bucket, part) for bucket, part in bucket_rules.split(amount, dict(shares)).items() if part
    )


def credit_legs(
    worker: User, amount: int, currency: str, allocation: Mapping[str, int]
) -> list[LegSpec]:
    """Credits to the worker's buckets that sum exactly to `amount`."""
    return CreditLegs().legs(worker, amount, currency, allocation)


@dataclass(frozen=True, slots=True)
class BucketBalance:
    bucket: str
    label: str
    currency: str
    balance: int
    allocation_bps: int


def bucket_balances(worker: User, as_of: date | None = None) -> list[BucketBalance]:
    """Every bucket in every currency the worker holds, home currency first."""
    allocation = allocation_of(worker)
    prefix = f"worker:{worker.pk}:benefits:"
    if as_of is None:
        # The running totals: one query for every bucket in every currency.
        balances = [
            b
            for b in ledger.balances_for_owner("worker", worker.pk)
            if b.account.startswith(prefix)
        ]
    else:
        accounts = Account.objects.filter(
            owner_type="worker", owner_id=worker.pk, code__startswith=prefix
        )
        balances = [ledger.balance(account, as_of) for account in accounts]
    posted = {b.account: b.posted for b in balances}
    currencies = sorted(
        {b.currency for b in balances} | {worker.home_currency},
        key=lambda c: (c != worker.home_currency, c),
    )
    rows: list[BucketBalance] = []
    for currency in currencies:
        for bucket in bucket_rules.BUCKETS:
            code = bucket_code(worker, bucket, currency)
            if code not in posted and currency != worker.home_currency:
                continue
            value = posted.get(code, 0)
            rows.append(
                BucketBalance(
                    bucket,
                    bucket_rules.BUCKET_LABELS[bucket],
                    currency,
                    value,
                    allocation.get(bucket, 0),
                )
            )
    return rows


def bucket_balance(worker: User, bucket: str, currency: str) -> int:
    account = Account.objects.filter(code=bucket_code(worker, bucket, currency)).first()
    return 0 if account is None else ledger.balance(account).available


# ---------------------------------------------------------------------------- uses


def _check_receipt(receipt: IO[bytes] | None, name: str) -> None:
    if receipt is None:
        raise GatewayError("a health expense needs its receipt", field="receipt")
    suffix = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if suffix not in RECEIPT_TYPES:
        raise GatewayError(
            f"a receipt must be one of {', '.join(sorted(RECEIPT_TYPES))}", field="receipt"
        )
    size = getattr(receipt, "size", None)
    if size is not None and size > MAX_RECEIPT_BYTES:
        raise GatewayError(
            f"a receipt can be at most {MAX_RECEIPT_BYTES // (1024 * 1024)} MB", field="receipt"
        )
    receipt.seek(0)
    head = receipt.read(16)
    receipt.seek(0)
    if not receipt_matches(head, suffix):
        raise GatewayError(
            f"this file is not a {suffix.lstrip('.').upper()}: its content does not match its name",
            field="receipt",
        )


def receipt_matches(head: bytes, suffix: str) -> bool:
    """Whether a file's first bytes are those of a receipt of type ``suffix``."""
    return any(
        all(head[at : at + len(magic)] == magic for at, magic in signature)
        for signature in RECEIPT_SIGNATURES.get(suffix, ())
    )


@transaction.atomic
def use_benefit(
    worker: User,
    kind: str,
    amount: int,
    *,
    currency: str | None = None,
    on: date | None = None,
    provider: str = "",
    note: str = "",
    receipt: IO[bytes] | None = None,
    receipt_name: str = "",
    idempotency_key: str | None = None,
    time_off_unit: int | None = None,
) -> BenefitUse:
    """Take money out of a bucket: one ledger journal, never more than the bucket holds.
    A replay of the same key returns the first use."""
    currency = currency or worker.home_currency
    on = on or timezone.localdate()
    key = idempotency_key or f"use:{worker.pk}:{timezone.now().timestamp()}"
    existing = _replayed_use(worker, key, kind, amount, currency)
    if existing is not None:
        return existing
    if kind not in UseKind.values:
        raise GatewayError(f"unknown use {kind!r}", field="kind")
    bucket = "health" if kind == UseKind.PREMIUM else kind
    if kind == UseKind.RETIREMENT and not provider.strip():
        raise GatewayError("name the retirement provider the money goes to", field="provider")
    if kind == UseKind.HEALTH:
        _check_receipt(receipt, receipt_name)
    if kind == UseKind.TIME_OFF and time_off_unit is None:
        time_off_unit = time_off_unit_for(worker, currency)
    benefits_account(worker)
    open_buckets(worker, currency)
    # Lock the bucket before reading it so two uses cannot both pass the check.
    code = bucket_code(worker, bucket, currency)
    Account.objects.select_for_update().filter(code=code).first()
    # A double submit that waited for the lock finds the first one's use here.
    existing = _replayed_use(worker, key, kind, amount, currency)
    if existing is not None:
        return existing
    available = bucket_balance(worker, bucket, currency)
    try:
        bucket_rules.check_use(
            bucket,
            amount,
            available,
            time_off_unit=time_off_unit if bucket == "time_off" else None,
            currency=currency,
        )
    except PolicyError as exc:
        raise GatewayError(str(exc), field=exc.field or "amount", code=exc.code) from None
    legs = [LegSpec(code, amount, currency), LegSpec(custody_code(currency), -amount, currency)]
    if kind in PAID_TO_WORKER:
        cash = income.cash_code(worker, currency)
        for account_code, account_kind, name in (
            (cash, "asset", "Cash"),
            (payouts_code(worker, currency), "income", "Benefit payouts"),
        ):
            ledger.open_account(
                account_code,
                owner_type="worker",
                owner_id=worker.pk,
                kind=account_kind,
                currency=currency,
                name=name,
            )
        legs += [
            LegSpec(cash, amount, currency),
            LegSpec(payouts_code(worker, currency), -amount, currency),
        ]
    label = UseKind(kind).label
    posted = ledger.post_journal(
        JournalSpec(
            idempotency_key=f"gateway:{key}",
            kind=f"benefit_{kind}",
            effective_date=on,
            legs=tuple(legs),
            memo=f"{label}" + (f" to {provider.strip()}" if provider.strip() else ""),
            metadata={"use": kind, "bucket": bucket, "provider": provider.strip()[:120]},
        )
    )
    use = BenefitUse(
        worker=worker,
        kind=kind,
        bucket=bucket,
        amount=amount,
        currency=currency,
        used_on=on,
        provider=provider.strip()[:120],
        note=note.strip()[:300],
        idempotency_key=key,
        journal_id=posted.id,
        receipt_name=receipt_name[:200],
    )
    if receipt is not None and kind == UseKind.HEALTH:
        use.receipt.save(receipt_name or "receipt", File(receipt), save=False)
    use.save()
    return use


def _replayed_use(
    worker: User, key: str, kind: str, amount: int, currency: str
) -> BenefitUse | None:
    existing = BenefitUse.objects.filter(idempotency_key=key).first()
    if existing is None:
        return None
    if (existing.worker_id, existing.kind, existing.amount, existing.currency) != (
        worker.pk,
        kind,
        amount,
        currency,
    ):
        raise GatewayError(
            "this request was already made with different content",
            field="idempotency_key",
            code="idempotency_conflict",
        )
    return existing


def time_off_unit_for(worker: User, currency: str) -> int | None:
    """The time-off unit for a payout in ``currency``: the one the policies in that currency
    of the worker's linked platforms set (the largest, when several do). A unit is an
    amount in its policy's currency: a $120.00 unit says nothing about euros."""
    from .links import active_links  # links builds on this module

    units = []
    for link in active_links(worker):
        version = current_policy(link.platform, timezone.localdate())
        if version is not None:
            terms = terms_of(version)
            if terms.currency == currency and terms.time_off_unit:
                units.append(terms.time_off_unit)
    return max(units) if units else None


def uses_of(worker: User) -> list[BenefitUse]:
    return list(BenefitUse.objects.filter(worker=worker))


# ---------------------------------------------------------------------------- withholding


def active_withholding(worker: User) -> WithholdingConsent | None:
    return WithholdingConsent.objects.filter(worker=worker, revoked_at__isnull=True).first()


@transaction.atomic
def start_withholding(worker: User, rate_bps: int) -> WithholdingConsent:
    """Opt in: a new written consent at this rate replaces any earlier one."""
    if type(rate_bps) is not int or not 1 <= rate_bps <= 5000:
        raise GatewayError("withholding is between 0.01% and 50% of each payment", field="rate")
    now = timezone.now()
    WithholdingConsent.objects.filter(worker=worker, revoked_at__isnull=True).update(revoked_at=now)
    return WithholdingConsent.objects.create(
        worker=worker,
        rate_bps=rate_bps,
        consent_text=consent_text(rate_bps),
        consented_at=now,
    )


def consent_text(rate_bps: int) -> str:
    """The exact words a worker agrees to when opting in at this rate."""
    return WITHHOLDING_CONSENT.format(rate=format_bps(rate_bps))


def stop_withholding(worker: User) -> int:
    """Opt out, effective at once. Returns how many consents were ended (0 or 1)."""
    return WithholdingConsent.objects.filter(worker=worker, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def withhold_from_income(worker: User, items: list[tuple[int, date, int, str]]) -> int:
    """Move the consented share of newly booked income (item id, day, amount, currency)
    into the buckets. Runs inside the import's transaction, so the import and its
    withholding land together or not at all. Returns the journals posted."""
    consent = active_withholding(worker)
    if consent is None or not items:
        return 0
    allocation = allocation_of(worker)
    specs: list[JournalSpec] = []
    opened: set[str] = set()
    by_currency: dict[str, int] = defaultdict(int)
    for item_id, day, amount, currency in items:
        share = bucket_rules.withholding(amount, consent.rate_bps)
        if share <= 0:
            continue
        if currency not in opened:
            open_buckets(worker, currency)
            for code, kind, name in (
                (withheld_code(worker, currency), "expense", "Moved to benefits"),
                (custody_code(currency), "asset", f"Benefits custody account ({currency})"),
            ):
                owner: dict[str, Any] = (
                    {"owner_type": "keel"}
                    if code.startswith("keel:")
                    else {"owner_type": "worker", "owner_id": worker.pk}
                )
                ledger.open_account(code, kind=kind, currency=currency, name=name, **owner)
            opened.add(currency)
        by_currency[currency] += share
        specs.append(
            JournalSpec(
                idempotency_key=f"gateway:withholding:{item_id}",
                kind="benefit_withholding",
                effective_date=day,
                legs=(
                    LegSpec(withheld_code(worker, currency), share, currency),
                    LegSpec(income.cash_code(worker, currency), -share, currency),
                    LegSpec(custody_code(currency), share, currency),
                    *credit_legs(worker, share, currency, allocation),
                ),
                memo=f"Withholding {format_bps(consent.rate_bps)} into benefits",
                metadata={"income_item": item_id, "consent": consent.pk},
            )
        )
    if specs:
        ledger.post_journals(specs)
    return len(specs)


def withhold_booked_income(
    sender: object, *, worker: User, items: Sequence[BookedIncome], **kwargs: Any
) -> int:
    """Receiver of `keel.income.signals.income_booked`: withhold the consented share of
    each newly booked income item's net amount (what reached the worker after fees),
    inside the import's transaction. Refunds, fees and transfers are not income items."""
    return withhold_from_income(
        worker, [(i.item_id, i.occurred_on, i.net, i.currency) for i in items if i.net > 0]
    )


def split_preview(worker: User, amount: int) -> dict[str, int]:
    """How a contribution of `amount` would be split today."""
    return dict(bucket_rules.split(amount, allocation_of(worker)))


def get_use(worker: User, use_id: int) -> BenefitUse:
    use = BenefitUse.objects.filter(worker=worker, pk=use_id).first()
    if use is None:
        raise NotFound(f"no benefit use with id {use_id}", field="id")
    return use
