"""Ledger rules as plain Python: what a valid journal is, how content is hashed for
idempotency, and how balances and floors are computed. No Django here."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from keel.money import CURRENCIES, MoneyError, get_currency

DEBIT_NORMAL_KINDS = frozenset({"asset", "expense"})
ACCOUNT_KINDS = frozenset({"asset", "liability", "equity", "income", "expense"})
OWNER_TYPES = frozenset({"worker", "pool", "platform", "keel"})
ACCOUNT_CODE = re.compile(r"^[a-z0-9][a-z0-9_\-]*(:[a-z0-9_\-]+)+$")
MAX_KEY_LENGTH = 200
# Far beyond any real amount, and safely inside a signed 64-bit column even when summed.
MAX_LEG_AMOUNT = 10**15


class LedgerError(Exception):
    """A refused ledger operation. `code` is stable (API error codes), `field` names the
    offending input where there is one."""

    code = "ledger_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidJournal(LedgerError):
    code = "invalid_journal"


class UnbalancedJournal(InvalidJournal):
    code = "unbalanced_journal"


class UnknownAccount(LedgerError):
    code = "unknown_account"


class IdempotencyConflict(LedgerError):
    code = "idempotency_conflict"


class FloorBreached(LedgerError):
    code = "floor_breached"


class PendingStateError(LedgerError):
    code = "pending_state"


class InvalidAccount(LedgerError):
    code = "invalid_account"


@dataclass(frozen=True, slots=True)
class LegSpec:
    account: str
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class JournalSpec:
    idempotency_key: str
    kind: str
    effective_date: date
    legs: tuple[LegSpec, ...]
    memo: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


def is_debit_normal(kind: str) -> bool:
    return kind in DEBIT_NORMAL_KINDS


def natural_balance(kind: str, debits: int, credits: int) -> int:
    """Balance on the side the account normally carries: assets and expenses grow with
    debits, liabilities, equity and income with credits."""
    return debits - credits if is_debit_normal(kind) else credits - debits


def available_balance(
    kind: str, posted_debits: int, posted_credits: int, pending_debits: int, pending_credits: int
) -> int:
    """What can still be spent: pending movements count only where they reduce the
    balance, so a reservation holds money but an incoming pending amount is not yet there."""
    posted = natural_balance(kind, posted_debits, posted_credits)
    reducing = pending_credits if is_debit_normal(kind) else pending_debits
    return posted - reducing


def available_change(kind: str, amount: int, *, pending: bool) -> int:
    """How a leg of `amount` changes an account's available balance (see
    available_balance): a posted leg moves the balance itself; a pending one counts only
    where it reduces it."""
    if kind in DEBIT_NORMAL_KINDS:
        return amount if not pending or amount < 0 else 0
    return -amount if not pending or amount > 0 else 0


def validate_account(code: str, kind: str, owner_type: str, currency: str) -> None:
    if not ACCOUNT_CODE.match(code) or len(code) > 200:
        raise InvalidAccount(
            f"account code {code!r} must be lowercase segments separated by ':'"
            " (e.g. 'worker:42:benefits:health')",
            field="code",
        )
    if kind not in ACCOUNT_KINDS:
        raise InvalidAccount(
            f"account kind {kind!r} is not one of {', '.join(sorted(ACCOUNT_KINDS))}", field="kind"
        )
    if owner_type not in OWNER_TYPES:
        raise InvalidAccount(
            f"owner type {owner_type!r} is not one of {', '.join(sorted(OWNER_TYPES))}",
            field="owner_type",
        )
    _check_currency(currency, "currency")


def _check_currency(code: object, field_name: str) -> None:
    if not isinstance(code, str):
        raise InvalidJournal(f"{field_name} must be an ISO 4217 code", field=field_name)
    try:
        get_currency(code)
    except MoneyError as exc:
        raise InvalidJournal(str(exc), field=field_name) from None


# The encoders json.dumps would build on every call with these options, built once: a bulk
# import encodes every journal's metadata and text, and the output is the same.
_CANONICAL_JSON = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
_HASHED_METADATA_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_json_ascii_string = json.encoder.encode_basestring_ascii  # json.dumps(text)
_json_string = json.encoder.encode_basestring  # json.dumps(text, ensure_ascii=False)


def validate_journal(spec: JournalSpec, *, where: str = "") -> str:
    """Refuse a journal that is not well formed. `where` prefixes field names in batches
    (e.g. 'journals[3].'). Returns the metadata as canonical JSON, which is what gets hashed
    and stored, so it is encoded once."""
    if not isinstance(spec.idempotency_key, str) or not spec.idempotency_key.strip():
        raise InvalidJournal("idempotency key is required", field=f"{where}idempotency_key")
    if len(spec.idempotency_key) > MAX_KEY_LENGTH:
        raise InvalidJournal(
            f"idempotency key is longer than {MAX_KEY_LENGTH} characters",
            field=f"{where}idempotency_key",
        )
    if not isinstance(spec.kind, str) or not spec.kind or len(spec.kind) > 40:
        raise InvalidJournal("kind must be 1 to 40 characters", field=f"{where}kind")
    # datetime is a subclass of date; a midnight timestamp is not a calendar date.
    if type(spec.effective_date) is not date:
        raise InvalidJournal(
            f"effective date must be a calendar date (YYYY-MM-DD), got {spec.effective_date!r}",
            field=f"{where}effective_date",
        )
    try:
        meta = _CANONICAL_JSON.encode(spec.metadata) if spec.metadata else "{}"
    except (TypeError, ValueError) as exc:
        raise InvalidJournal(
            f"metadata must be plain JSON: {exc}", field=f"{where}metadata"
        ) from None
    legs = spec.legs
    if len(legs) < 2:
        raise InvalidJournal("a journal needs at least two legs", field=f"{where}legs")
    # Summed as one total while every leg is in the first leg's currency (nearly every
    # journal), per currency otherwise.
    first = legs[0].currency
    total = 0
    mixed = False
    for index, leg in enumerate(legs):
        amount = leg.amount
        # The common case is checked with cheap comparisons; the messages are built only
        # for a leg that fails.
        if (
            type(amount) is not int
            or amount == 0
            or not -MAX_LEG_AMOUNT <= amount <= MAX_LEG_AMOUNT
            or leg.currency not in CURRENCIES
            or not isinstance(leg.account, str)
            or not leg.account
        ):
            _refuse_leg(leg, f"{where}legs[{index}]")
        total += amount
        if leg.currency != first:
            mixed = True
    if not mixed:
        if total == 0:
            return meta
        totals = {first: total}
    else:
        totals = defaultdict(int)
        for leg in legs:
            totals[leg.currency] += leg.amount
    unbalanced = {currency: total for currency, total in totals.items() if total != 0}
    if unbalanced:
        detail = ", ".join(f"{c} off by {t:+d}" for c, t in sorted(unbalanced.items()))
        raise UnbalancedJournal(
            f"journal does not balance: {detail} (legs must sum to zero per currency)",
            field=f"{where}legs",
        )
    return meta


def _refuse_leg(leg: LegSpec, name: str) -> None:
    if not isinstance(leg.account, str) or not leg.account:
        raise InvalidJournal("account code is required", field=f"{name}.account")
    if type(leg.amount) is not int:
        raise InvalidJournal(
            f"amount must be an integer number of minor units, got {leg.amount!r}",
            field=f"{name}.amount",
        )
    if leg.amount == 0:
        raise InvalidJournal("a leg cannot be zero", field=f"{name}.amount")
    if abs(leg.amount) > MAX_LEG_AMOUNT:
        raise InvalidJournal("amount is out of range", field=f"{name}.amount")
    _check_currency(leg.currency, f"{name}.currency")


def journal_hash(op: str, spec: JournalSpec, metadata_json: str | None = None, **extra: Any) -> str:
    """SHA-256 of a journal's meaning, for idempotency: the same key with the same hash is
    a replay, with another hash a conflict. Leg order does not change the meaning, so it
    does not change the hash. Free text is JSON-encoded so no separator can be forged;
    account codes are lowercase segments (a code with anything else names no account and
    the journal is refused before it is stored)."""
    if metadata_json is None:
        metadata_json = _HASHED_METADATA_JSON.encode(spec.metadata) if spec.metadata else "{}"
    legs = sorted([(leg.account, leg.amount, leg.currency) for leg in spec.legs])
    kind, memo = spec.kind, spec.memo
    parts = [
        op,
        _json_ascii_string(kind) if type(kind) is str else json.dumps(kind),
        spec.effective_date.isoformat(),
        _json_string(memo) if type(memo) is str else json.dumps(memo, ensure_ascii=False),
        metadata_json,
        json.dumps(extra, sort_keys=True, separators=(",", ":")) if extra else "",
    ]
    parts.extend(f"{account} {amount} {currency}" for account, amount, currency in legs)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@dataclass(slots=True)
class Totals:
    """Running totals of one account, as the database keeps them."""

    kind: str
    floor: int | None
    posted_debits: int = 0
    posted_credits: int = 0
    pending_debits: int = 0
    pending_credits: int = 0

    def apply(self, amount: int, *, pending: bool, release: bool = False) -> None:
        """Add a leg (or, with release, take a pending leg back out)."""
        sign = -1 if release else 1
        if pending:
            if amount > 0:
                self.pending_debits += sign * amount
            else:
                self.pending_credits += sign * -amount
        elif amount > 0:
            self.posted_debits += amount
        else:
            self.posted_credits += -amount

    @property
    def posted(self) -> int:
        return natural_balance(self.kind, self.posted_debits, self.posted_credits)

    @property
    def available(self) -> int:
        return available_balance(
            self.kind,
            self.posted_debits,
            self.posted_credits,
            self.pending_debits,
            self.pending_credits,
        )

    def breaches_floor(self) -> bool:
        return self.floor is not None and self.available < self.floor


def check_partial_post(pending_legs: Sequence[LegSpec], posted_legs: Sequence[LegSpec]) -> None:
    """A pending journal may be posted in part: every posted leg must be on an account of
    the reservation, in the same direction and currency, and no larger than reserved."""
    reserved: dict[tuple[str, str], int] = defaultdict(int)
    for leg in pending_legs:
        reserved[(leg.account, leg.currency)] += leg.amount
    posted: dict[tuple[str, str], int] = defaultdict(int)
    for leg in posted_legs:
        posted[(leg.account, leg.currency)] += leg.amount
    for (account, currency), amount in posted.items():
        limit = reserved.get((account, currency))
        if limit is None:
            raise PendingStateError(
                f"account {account} ({currency}) is not part of the pending journal",
                field="legs",
            )
        if (amount > 0) != (limit > 0) or abs(amount) > abs(limit):
            raise PendingStateError(
                f"cannot post {amount:+d} {currency} on {account}: "
                f"the pending journal reserved {limit:+d}",
                field="amount",
            )


def scale_two_leg_pending(pending_legs: Sequence[LegSpec], amount: int) -> tuple[LegSpec, ...]:
    """The common case: post `amount` of a two-leg reservation."""
    if len(pending_legs) != 2:
        raise PendingStateError(
            "posting part of a pending journal with more than two legs needs explicit legs",
            field="legs",
        )
    if type(amount) is not int or amount <= 0:
        raise PendingStateError(
            f"amount must be a positive integer number of minor units, got {amount!r}",
            field="amount",
        )
    debit, credit = sorted(pending_legs, key=lambda leg: -leg.amount)
    if amount > debit.amount:
        raise PendingStateError(
            f"cannot post {amount} {debit.currency}: only {debit.amount} is reserved",
            field="amount",
        )
    return (
        LegSpec(debit.account, amount, debit.currency),
        LegSpec(credit.account, -amount, credit.currency),
    )


def exchange_journal(
    *,
    idempotency_key: str,
    effective_date: date,
    source: str,
    source_currency: str,
    source_amount: int,
    target: str,
    target_currency: str,
    target_amount: int,
    rate: Decimal,
    rate_date: date,
    kind: str = "exchange",
    memo: str = "",
) -> JournalSpec:
    """A conversion that balances in each currency on its own, through one exchange
    (trading) account per currency, with the rate and its date recorded."""
    source_fx = f"keel:fx:{source_currency.lower()}"
    target_fx = f"keel:fx:{target_currency.lower()}"
    return JournalSpec(
        idempotency_key=idempotency_key,
        kind=kind,
        effective_date=effective_date,
        legs=(
            LegSpec(source, -source_amount, source_currency),
            LegSpec(source_fx, source_amount, source_currency),
            LegSpec(target_fx, -target_amount, target_currency),
            LegSpec(target, target_amount, target_currency),
        ),
        memo=memo,
        metadata={
            "exchange": {
                "rate": str(rate),
                "rate_date": rate_date.isoformat(),
                "source_currency": source_currency,
                "target_currency": target_currency,
                "source_amount": source_amount,
                "target_amount": target_amount,
            }
        },
    )
