"""The ledger service: the only code that moves money.

Every function here runs inside one database transaction and is idempotent by key: a
replay with the same content returns the original journal, a replay with other content is
refused and writes nothing. Batches are applied whole or not at all.

Writes go straight to the tables with multi-row INSERTs (SQLite, see `keel.sql`) or `COPY`
(PostgreSQL) because the ORM's per-object overhead would dominate bulk posting; the database
triggers installed by the migrations still check every row.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from keel.money import MoneyError, apply_rate
from keel.sql import in_values, insert_rows, sqlite_insert

from .models import Account, Journal, JournalStatus, Leg
from .rules import (
    FloorBreached,
    IdempotencyConflict,
    InvalidJournal,
    JournalSpec,
    LedgerError,
    LegSpec,
    PendingStateError,
    Totals,
    UnknownAccount,
    available_balance,
    available_change,
    check_partial_post,
    exchange_journal,
    journal_hash,
    natural_balance,
    scale_two_leg_pending,
    validate_account,
    validate_journal,
)


@dataclass(frozen=True, slots=True)
class PostedJournal:
    id: int
    idempotency_key: str
    status: str
    created: bool


@dataclass(frozen=True, slots=True)
class Balance:
    account: str
    currency: str
    kind: str
    posted: int
    pending_debits: int
    pending_credits: int
    available: int
    floor: int | None

    @property
    def pending(self) -> int:
        """Net pending movement on the account's normal side."""
        return natural_balance(self.kind, self.pending_debits, self.pending_credits)


@dataclass(slots=True)
class _Item:
    spec: JournalSpec
    content: str
    status: str
    pending_id: int | None = None
    expires_at: datetime | None = None
    reverses_id: int | None = None
    where: str = ""
    metadata_json: str | None = None


@dataclass(slots=True)
class _AccountRow:
    id: int
    code: str
    currency: str
    totals: Totals
    touched: bool = False


# ---------------------------------------------------------------------------- accounts


def open_account(
    code: str,
    *,
    owner_type: str,
    kind: str,
    currency: str,
    owner_id: int | None = None,
    floor: int | None = None,
    name: str = "",
) -> Account:
    """Open an account, or return it if it is already open with the same shape."""
    validate_account(code, kind, owner_type, currency)
    if floor is not None and type(floor) is not int:
        raise InvalidJournal("floor must be an integer number of minor units", field="floor")
    account, created = Account.objects.get_or_create(
        code=code,
        defaults={
            "owner_type": owner_type,
            "owner_id": owner_id,
            "kind": kind,
            "currency": currency,
            "floor": floor,
            "name": name,
        },
    )
    if not created and (
        account.kind != kind
        or account.currency != currency
        or account.owner_type != owner_type
        or account.owner_id != owner_id
    ):
        raise LedgerError(
            f"account {code} already exists as a {account.kind} account in {account.currency}"
            f" owned by {account.owner_type} {account.owner_id}",
            field="code",
        )
    return account


def exchange_account_code(currency: str) -> str:
    return f"keel:fx:{currency.lower()}"


def ensure_exchange_account(currency: str) -> Account:
    return open_account(
        exchange_account_code(currency),
        owner_type="keel",
        kind="equity",
        currency=currency,
        name=f"Currency exchange ({currency})",
    )


# ---------------------------------------------------------------------------- posting


def post_journal(spec: JournalSpec) -> PostedJournal:
    return post_journals([spec])[0]


def post_journals(specs: Sequence[JournalSpec]) -> list[PostedJournal]:
    """Post a batch of journals in one transaction, all or nothing, in order."""
    items = []
    for index, spec in enumerate(specs):
        where = f"journals[{index}]." if len(specs) > 1 else ""
        meta = validate_journal(spec, where=where)
        items.append(
            _Item(spec, journal_hash("post", spec, meta), "posted", where=where, metadata_json=meta)
        )
    return _write_with_retry(items)


def reserve(
    spec: JournalSpec, *, expires_at: datetime | None = None, timeout: timedelta | None = None
) -> PostedJournal:
    """Reserve a pending journal: the amounts count as pending (and reduce what is
    available on the side they leave) until posted, voided or expired."""
    validate_journal(spec)
    if expires_at is None:
        expires_at = timezone.now() + (
            timeout or timedelta(seconds=settings.KEEL_PENDING_TIMEOUT_SECONDS)
        )
    elif timezone.is_naive(expires_at):
        raise InvalidJournal("expires_at must be timezone-aware (UTC)", field="expires_at")
    item = _Item(spec, journal_hash("reserve", spec), "pending", expires_at=expires_at)
    return _write_with_retry([item])[0]


def post_pending(
    pending_id: int,
    *,
    idempotency_key: str,
    amount: int | None = None,
    legs: Sequence[LegSpec] | None = None,
    effective_date: date | None = None,
    memo: str = "",
    metadata: dict[str, Any] | None = None,
) -> PostedJournal:
    """Post a pending journal in full (no amount), in part (`amount` for a two-leg
    reservation, or explicit `legs`); what is not posted is released."""
    with transaction.atomic():
        existing = _existing_by_key([idempotency_key]).get(idempotency_key)
        pending = _lock_pending(pending_id)
        pending_legs = _legs_of(pending)
        if legs is not None:
            posted_legs = tuple(legs)
            check_partial_post(pending_legs, posted_legs)
        elif amount is not None:
            posted_legs = scale_two_leg_pending(pending_legs, amount)
        else:
            posted_legs = pending_legs
        spec = JournalSpec(
            idempotency_key=idempotency_key,
            kind=pending.kind,
            effective_date=effective_date or pending.effective_date,
            legs=posted_legs,
            memo=memo or pending.memo,
            metadata=metadata if metadata is not None else dict(pending.metadata),
        )
        validate_journal(spec)
        content = journal_hash("post_pending", spec, pending=pending_id)
        if existing is not None:
            return _replayed(idempotency_key, existing, content)
        _require_open(pending)
        item = _Item(spec, content, "posted", pending_id=pending_id)
        result = _write([item], release=pending)
        return result[0]


def void_pending(pending_id: int, *, reason: str = "") -> Journal:
    """Release a reservation. Voiding one that is already voided changes nothing."""
    with transaction.atomic():
        pending = _lock_pending(pending_id)
        if pending.status == JournalStatus.VOIDED:
            return pending
        _require_open(pending)
        _resolve(pending, JournalStatus.VOIDED)
        pending.refresh_from_db()
        return pending


def expire_pending(now: datetime | None = None) -> int:
    """Expire every reservation whose time is up; returns how many."""
    now = now or timezone.now()
    expired = 0
    due = list(
        Journal.objects.filter(status=JournalStatus.PENDING, expires_at__lte=now)
        .order_by("id")
        .values_list("id", flat=True)
    )
    for pending_id in due:
        with transaction.atomic():
            pending = _lock_pending(pending_id)
            if pending.status == JournalStatus.PENDING:
                _resolve(pending, JournalStatus.EXPIRED, now=now)
                expired += 1
    return expired


def reverse_journal(
    journal_id: int, *, idempotency_key: str, effective_date: date | None = None, memo: str = ""
) -> PostedJournal:
    """Correct a posted journal by posting its mirror image; the original stays."""
    with transaction.atomic():
        try:
            original = Journal.objects.get(pk=journal_id)
        except Journal.DoesNotExist:
            raise LedgerError(f"journal {journal_id} does not exist", field="journal") from None
        spec = JournalSpec(
            idempotency_key=idempotency_key,
            kind="reversal",
            effective_date=effective_date or timezone.localdate(),
            legs=tuple(
                LegSpec(leg.account, -leg.amount, leg.currency) for leg in _legs_of(original)
            ),
            memo=memo or f"Reversal of journal {journal_id}",
            metadata={"reverses": journal_id, "reversed_kind": original.kind},
        )
        validate_journal(spec)
        content = journal_hash("reverse", spec, journal=journal_id)
        existing = _existing_by_key([idempotency_key]).get(idempotency_key)
        if existing is not None:
            return _replayed(idempotency_key, existing, content)
        if original.status != JournalStatus.POSTED:
            raise LedgerError(
                f"journal {journal_id} is {original.status}; only posted journals can be"
                " reversed (void a pending one instead)",
                field="journal",
            )
        if original.kind == "reversal" or Journal.objects.filter(reverses_id=journal_id).exists():
            raise LedgerError(
                f"journal {journal_id} is already reversed or is itself a reversal",
                field="journal",
            )
        return _write([_Item(spec, content, "posted", reverses_id=journal_id)])[0]


def post_exchange(
    *,
    idempotency_key: str,
    effective_date: date,
    source: str,
    source_amount: int,
    target: str,
    rate: Decimal,
    rate_date: date,
    kind: str = "exchange",
    memo: str = "",
) -> PostedJournal:
    """Move money between accounts in two currencies through per-currency exchange
    accounts, so each currency balances on its own; the rate and its date are recorded."""
    accounts = {a.code: a for a in Account.objects.filter(code__in=[source, target])}
    for name, code in (("source", source), ("target", target)):
        if code not in accounts:
            raise UnknownAccount(f"account {code} does not exist", field=name)
    source_ccy, target_ccy = accounts[source].currency, accounts[target].currency
    if source_ccy == target_ccy:
        raise InvalidJournal("both accounts are in the same currency", field="target")
    if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
        raise InvalidJournal("rate must be a positive decimal", field="rate")
    if type(source_amount) is not int or source_amount <= 0:
        raise InvalidJournal("source amount must be a positive integer", field="source_amount")
    try:
        target_amount = apply_rate(source_amount, source_ccy, target_ccy, rate)
    except MoneyError as exc:
        raise InvalidJournal(str(exc), field="rate") from None
    if target_amount == 0:
        raise InvalidJournal("the converted amount rounds to zero", field="source_amount")
    ensure_exchange_account(source_ccy)
    ensure_exchange_account(target_ccy)
    spec = exchange_journal(
        idempotency_key=idempotency_key,
        effective_date=effective_date,
        source=source,
        source_currency=source_ccy,
        source_amount=source_amount,
        target=target,
        target_currency=target_ccy,
        target_amount=target_amount,
        rate=rate,
        rate_date=rate_date,
        kind=kind,
        memo=memo,
    )
    return post_journal(spec)


# ---------------------------------------------------------------------------- reading


def balance(account: str | Account, as_of: date | None = None) -> Balance:
    """Posted, pending and available balance of one account, now or as of a date."""
    if isinstance(account, str):
        try:
            account = Account.objects.get(code=account)
        except Account.DoesNotExist:
            raise UnknownAccount(f"account {account} does not exist", field="account") from None
    if as_of is None:
        account.refresh_from_db()
        pd, pc = account.posted_debits, account.posted_credits
        qd, qc = account.pending_debits, account.pending_credits
    else:
        pd, pc = _sum_legs(
            Leg.objects.filter(account=account, is_pending=False, effective_date__lte=as_of)
        )
        qd, qc = _sum_legs(
            Leg.objects.filter(
                account=account,
                is_pending=True,
                effective_date__lte=as_of,
                journal__status=JournalStatus.PENDING,
            )
        )
    return Balance(
        account=account.code,
        currency=account.currency,
        kind=account.kind,
        posted=natural_balance(account.kind, pd, pc),
        pending_debits=qd,
        pending_credits=qc,
        available=available_balance(account.kind, pd, pc, qd, qc),
        floor=account.floor,
    )


def balances_for_owner(owner_type: str, owner_id: int | None) -> list[Balance]:
    # Plain rows, not model instances: a pool or a platform owns hundreds of accounts, and
    # the gift run and the clearing read all of them.
    rows = (
        Account.objects.filter(owner_type=owner_type, owner_id=owner_id)
        .order_by("code")
        .values_list(
            "code",
            "currency",
            "kind",
            "posted_debits",
            "posted_credits",
            "pending_debits",
            "pending_credits",
            "floor",
        )
    )
    return [
        Balance(
            account=code,
            currency=currency,
            kind=kind,
            posted=natural_balance(kind, pd, pc),
            pending_debits=qd,
            pending_credits=qc,
            available=available_balance(kind, pd, pc, qd, qc),
            floor=floor,
        )
        for code, currency, kind, pd, pc, qd, qc, floor in rows
    ]


def _sum_legs(legs: Any) -> tuple[int, int]:
    debits = credits = 0
    for amount in legs.values_list("amount", flat=True).iterator(chunk_size=5000):
        if amount > 0:
            debits += amount
        else:
            credits -= amount
    return debits, credits


# ---------------------------------------------------------------------------- verify


@dataclass
class VerifyReport:
    accounts: int = 0
    journals: int = 0
    legs: int = 0
    problems: list[str] = field(default_factory=list)
    totals_by_currency: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


@contextmanager
def read_snapshot() -> Iterator[None]:
    """Make every query inside see the same committed state (an export, a verify)."""
    if connection.in_atomic_block:
        # The caller's transaction already gives one consistent view.
        yield
        return
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
        return
    # SQLite: Keel opens transactions IMMEDIATE, which would take the writer lock for the
    # whole export; a deferred transaction is a WAL read snapshot that blocks no writer.
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            cursor.execute("COMMIT")


def verify() -> VerifyReport:
    """Recompute every balance from the legs and check every journal balances."""
    report = VerifyReport()
    leg, journal, account = Leg._meta.db_table, Journal._meta.db_table, Account._meta.db_table
    # Every check must read the same moment: each statement on its own would see journals
    # committed since the last, and a verify run beside a live server would report stored
    # totals that differ from legs it read a moment earlier.
    with read_snapshot(), connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {account}")
        report.accounts = cursor.fetchone()[0]
        cursor.execute(f"SELECT count(*) FROM {journal}")
        report.journals = cursor.fetchone()[0]
        cursor.execute(f"SELECT count(*) FROM {leg}")
        report.legs = cursor.fetchone()[0]

        cursor.execute(
            f"SELECT journal_id, currency, sum(amount) FROM {leg}"
            " GROUP BY journal_id, currency HAVING sum(amount) <> 0 ORDER BY journal_id"
        )
        for journal_id, currency, total in cursor.fetchall():
            report.problems.append(
                f"journal {journal_id} does not balance in {currency}: off by {total:+d}"
            )
        cursor.execute(
            f"SELECT j.id, count(l.id) FROM {journal} j LEFT JOIN {leg} l ON l.journal_id = j.id"
            " GROUP BY j.id HAVING count(l.id) < 2 ORDER BY j.id"
        )
        for journal_id, count in cursor.fetchall():
            report.problems.append(f"journal {journal_id} has {count} leg(s); it needs two")
        cursor.execute(
            f"SELECT DISTINCT l.journal_id FROM {leg} l LEFT JOIN {journal} j"
            " ON j.id = l.journal_id WHERE j.id IS NULL"
        )
        for (journal_id,) in cursor.fetchall():
            report.problems.append(f"legs point at journal {journal_id}, which does not exist")
        cursor.execute(
            f"SELECT l.id, a.code, l.currency, a.currency FROM {leg} l JOIN {account} a"
            " ON a.id = l.account_id WHERE l.currency <> a.currency"
        )
        for leg_id, code, leg_ccy, acct_ccy in cursor.fetchall():
            report.problems.append(
                f"leg {leg_id} on account {code} is in {leg_ccy}; the account is in {acct_ccy}"
            )
        cursor.execute(
            f"SELECT j.id FROM {journal} j JOIN {leg} l ON l.journal_id = j.id"
            " GROUP BY j.id, j.status HAVING"
            " (j.status = 'posted' AND max(CASE WHEN l.is_pending THEN 1 ELSE 0 END) = 1) OR"
            " (j.status <> 'posted' AND min(CASE WHEN l.is_pending THEN 1 ELSE 0 END) = 0)"
        )
        for (journal_id,) in cursor.fetchall():
            report.problems.append(f"journal {journal_id} mixes pending and posted legs")

        # Recompute every account's totals from its legs and compare with what is stored.
        cursor.execute(
            f"SELECT l.account_id,"
            " sum(CASE WHEN NOT l.is_pending AND l.amount > 0 THEN l.amount ELSE 0 END),"
            " sum(CASE WHEN NOT l.is_pending AND l.amount < 0 THEN -l.amount ELSE 0 END),"
            " sum(CASE WHEN l.is_pending AND j.status = 'pending' AND l.amount > 0"
            "     THEN l.amount ELSE 0 END),"
            " sum(CASE WHEN l.is_pending AND j.status = 'pending' AND l.amount < 0"
            "     THEN -l.amount ELSE 0 END)"
            f" FROM {leg} l JOIN {journal} j ON j.id = l.journal_id GROUP BY l.account_id"
        )
        computed = {row[0]: tuple(int(v) for v in row[1:]) for row in cursor.fetchall()}
        cursor.execute(
            f"SELECT id, code, kind, currency, floor, posted_debits, posted_credits,"
            f" pending_debits, pending_credits FROM {account} ORDER BY id"
        )
        totals: dict[str, int] = defaultdict(int)
        for row in cursor.fetchall():
            account_id, code, kind, currency, floor = row[:5]
            stored = tuple(int(v) for v in row[5:])
            actual = computed.get(account_id, (0, 0, 0, 0))
            if stored != actual:
                report.problems.append(
                    f"account {code}: stored totals (posted debits, posted credits, pending"
                    f" debits, pending credits) {stored} differ from the legs {actual}"
                )
            if floor is not None and available_balance(kind, *actual) < floor:
                report.problems.append(
                    f"account {code} is below its floor: available"
                    f" {available_balance(kind, *actual)} < {floor}"
                )
            totals[currency] += actual[0] - actual[1]
        report.totals_by_currency = dict(sorted(totals.items()))
        for currency, total in report.totals_by_currency.items():
            if total != 0:
                report.problems.append(f"posted balances in {currency} sum to {total:+d}, not 0")
    return report


# ---------------------------------------------------------------------------- internals


def _write_with_retry(items: list[_Item]) -> list[PostedJournal]:
    # A concurrent writer may insert the same idempotency key between our look-up and our
    # insert; the unique index refuses ours, and a second pass finds theirs as a replay.
    if connection.in_atomic_block:
        return _write_in_savepoint(items)
    for attempt in range(3):
        try:
            with transaction.atomic():
                return _write(items)
        except IntegrityError as exc:
            if "idempotency_key" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")


# The savepoint a write inside the caller's transaction rolls back to.
_SAVEPOINT = "keel_ledger_write"


def _write_in_savepoint(items: list[_Item]) -> list[PostedJournal]:
    """`_write` inside the caller's transaction, under a savepoint of its own set and
    released by hand, where Django's nested atomic costs more than the two statements: on
    PostgreSQL they go in the round trips of the first reads and the last write, on SQLite
    the savepoint is set just before the first write. On any error the savepoint is rolled
    back to, so the caller's transaction is left as it was (as a nested atomic leaves it)
    and a lost race for a key is retried."""
    for attempt in range(3):
        savepoint = _Savepoint(_SAVEPOINT)
        try:
            return _write(items, savepoint=savepoint)
        except BaseException as exc:
            if savepoint.sent:
                _roll_back_to(savepoint.name)
            if (
                not isinstance(exc, IntegrityError)
                or "idempotency_key" not in str(exc)
                or attempt == 2
            ):
                raise
    raise AssertionError("unreachable")


@dataclass(slots=True)
class _Savepoint:
    name: str
    sent: bool = False  # whether the statement that sets it went to the database


def _roll_back_to(name: str) -> None:
    statements = [f"ROLLBACK TO SAVEPOINT {name}", f"RELEASE SAVEPOINT {name}"]
    try:
        with connection.cursor() as cursor:
            if _merged_round_trips():
                cursor.execute("; ".join(statements))
            else:
                for statement in statements:
                    cursor.execute(statement)
    except Exception:
        # The transaction cannot be brought back (the connection is gone, say): the
        # caller's atomic block must roll it back rather than go on in it.
        connection.needs_rollback = True


def _merged_round_trips() -> bool:
    """Whether several statements can go to the database in one execute: PostgreSQL with
    Django's default client-side parameter binding (server-side binding sends one
    statement per execute)."""
    return (
        connection.vendor == "postgresql"
        and connection.settings_dict["OPTIONS"].get("server_side_binding") is not True
    )


def _replayed(key: str, existing: tuple[int, str, str], content: str) -> PostedJournal:
    journal_id, stored_hash, status = existing
    if stored_hash != content:
        raise IdempotencyConflict(
            f"idempotency key {key!r} was already used for journal {journal_id} with different"
            " content; nothing was written",
            field="idempotency_key",
        )
    return PostedJournal(journal_id, key, status, created=False)


def _existing_by_key(keys: Sequence[str]) -> dict[str, tuple[int, str, str]]:
    if not keys:
        return {}
    where, param = in_values("idempotency_key", keys)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT idempotency_key, id, content_hash, status FROM {Journal._meta.db_table}"
            f" WHERE {where}",
            [param],
        )
        return {key: (journal_id, stored, status) for key, journal_id, stored, status in cursor}


def _lock_pending(pending_id: int) -> Journal:
    query = Journal.objects.filter(pk=pending_id)
    if connection.vendor == "postgresql":
        query = query.select_for_update()
    journal = query.first()
    if journal is None or journal.pending_id is not None or journal.status == JournalStatus.POSTED:
        raise PendingStateError(f"journal {pending_id} is not a pending journal", field="pending")
    return journal


def _require_open(pending: Journal) -> None:
    if pending.status != JournalStatus.PENDING:
        raise PendingStateError(
            f"pending journal {pending.id} is already {pending.status}", field="pending"
        )
    if pending.expires_at is not None and pending.expires_at <= timezone.now():
        raise PendingStateError(
            f"pending journal {pending.id} expired at {pending.expires_at.isoformat()}",
            field="pending",
        )


def _legs_of(journal: Journal) -> tuple[LegSpec, ...]:
    return tuple(
        LegSpec(code, amount, currency)
        for code, amount, currency in Leg.objects.filter(journal=journal)
        .order_by("id")
        .values_list("account__code", "amount", "currency")
    )


def _resolve(pending: Journal, status: str, *, now: datetime | None = None) -> None:
    """Take a pending journal's legs out of the pending totals and mark it resolved."""
    legs = _legs_of(pending)
    rows = _load_accounts({leg.account for leg in legs})
    for leg in legs:
        rows[leg.account].totals.apply(leg.amount, pending=True, release=True)
        rows[leg.account].touched = True
    _save_totals(rows.values())
    Journal.objects.filter(pk=pending.pk, status=JournalStatus.PENDING).update(
        status=status, resolved_at=now or timezone.now()
    )


_ACCOUNT_ROWS_SQL = (
    "SELECT id, code, kind, currency, floor, posted_debits, posted_credits, pending_debits,"
    f" pending_credits FROM {Account._meta.db_table}"
)


def _load_accounts(codes: Iterable[str]) -> dict[str, _AccountRow]:
    """Fetch accounts with their totals, locking them on PostgreSQL (in id order, so two
    writers never wait on each other in a cycle). SQLite's writer lock is already held."""
    # Only a lock needs the order (SQLite sorted the rows for nothing).
    lock = " ORDER BY id FOR UPDATE" if connection.vendor == "postgresql" else ""
    codes = sorted(codes)
    if not codes:
        return {}
    where, param = in_values("code", codes)
    with connection.cursor() as cursor:
        cursor.execute(f"{_ACCOUNT_ROWS_SQL} WHERE {where}{lock}", [param])
        return _account_rows(cursor.fetchall())


def _account_rows(found: Iterable[Sequence[Any]]) -> dict[str, _AccountRow]:
    return {
        code: _AccountRow(
            pk, code, currency, Totals(kind, floor, int(pd), int(pc), int(qd), int(qc))
        )
        for pk, code, kind, currency, floor, pd, pc, qd, qc in found
    }


def _read_for_write(
    keys: Sequence[str], codes: Iterable[str], savepoint: _Savepoint | None
) -> tuple[dict[str, tuple[int, str, str]], dict[str, _AccountRow], list[int]]:
    """What a write reads on PostgreSQL, in one round trip instead of three (after setting
    the savepoint, if one is given): the journals already under these keys, the accounts
    the journals touch, locked in id order, and an id for each key not yet used. A key
    another writer takes in between leaves its id unused, a gap in the ids like the one a
    rolled-back transaction leaves; too few ids are topped up by the caller."""
    journals = Journal._meta.db_table
    unique = list(dict.fromkeys(keys))
    statements = [
        f"SELECT idempotency_key, id, content_hash, status FROM {journals}"
        " WHERE idempotency_key = ANY(%s)",
        f"{_ACCOUNT_ROWS_SQL} WHERE code = ANY(%s) ORDER BY id FOR UPDATE",
        "SELECT nextval('ledger_journal_id_seq') FROM generate_series(1, %s -"
        f" (SELECT count(*) FROM {journals} WHERE idempotency_key = ANY(%s)))",
    ]
    if savepoint is not None:
        statements.insert(0, f"SAVEPOINT {savepoint.name}")
        savepoint.sent = True
    with connection.cursor() as cursor:
        cursor.execute("; ".join(statements), [unique, sorted(codes), len(unique), unique])
        if savepoint is not None:
            cursor.nextset()
        existing = {key: (journal_id, stored, status) for key, journal_id, stored, status in cursor}
        cursor.nextset()
        accounts = _account_rows(cursor.fetchall())
        cursor.nextset()
        ids = [row[0] for row in cursor.fetchall()]
    return existing, accounts, ids


def _save_totals(rows: Iterable[_AccountRow], *, release: _Savepoint | None = None) -> None:
    """Store the touched accounts' totals; on PostgreSQL, release the savepoint `release`
    in the same round trip."""
    params = [
        (
            r.totals.posted_debits,
            r.totals.posted_credits,
            r.totals.pending_debits,
            r.totals.pending_credits,
            r.id,
        )
        for r in rows
        if r.touched
    ]
    table = Account._meta.db_table
    release_sql = f"RELEASE SAVEPOINT {release.name}" if release and release.sent else ""
    if not params:
        if release_sql:
            with connection.cursor() as cursor:
                cursor.execute(release_sql)
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement for the batch: executemany sends one UPDATE per account.
            cursor.execute(
                f"UPDATE {table} AS a SET posted_debits = v.pd, posted_credits = v.pc,"
                " pending_debits = v.qd, pending_credits = v.qc"
                " FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[],"
                " %s::bigint[]) AS v(pd, pc, qd, qc, id) WHERE a.id = v.id"
                + (f"; {release_sql}" if release_sql else ""),
                [list(column) for column in zip(*params, strict=True)],
            )
            return
        cursor.executemany(
            f"UPDATE {table} SET posted_debits = %s, posted_credits = %s,"
            " pending_debits = %s, pending_credits = %s WHERE id = %s",
            params,
        )
        if release_sql:
            cursor.execute(release_sql)


def _allocate_ids(count: int) -> list[int]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval('ledger_journal_id_seq') FROM generate_series(1, %s)", [count]
            )
            return [row[0] for row in cursor.fetchall()]
        # SQLite: the transaction began IMMEDIATE, so no other writer can take these ids.
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {Journal._meta.db_table}")
        start = int(cursor.fetchone()[0]) + 1
        return list(range(start, start + count))


def _write(
    items: list[_Item], *, release: Journal | None = None, savepoint: _Savepoint | None = None
) -> list[PostedJournal]:
    """Write journals whose specs are already validated. Must run inside a transaction.
    `savepoint` (see _write_in_savepoint) is set with the first reads on PostgreSQL, just
    before the first write elsewhere, and released with the last write."""
    results: list[PostedJournal | None] = [None] * len(items)
    keys = [item.spec.idempotency_key for item in items]
    release_legs = _legs_of(release) if release is not None else ()
    accounts: dict[str, _AccountRow] | None = None
    ids: list[int] = []
    if _merged_round_trips():
        # Every journal's accounts are locked, a replay's too: reading them in this round
        # trip costs less than another round trip for only the new journals' accounts.
        codes = {leg.account for item in items for leg in item.spec.legs}
        codes.update(leg.account for leg in release_legs)
        existing, accounts, ids = _read_for_write(keys, codes, savepoint)
    else:
        existing = _existing_by_key(keys)
    first_in_batch: dict[str, int] = {}
    new: list[int] = []
    for index, item in enumerate(items):
        key = item.spec.idempotency_key
        if key in existing:
            results[index] = _replayed(key, existing[key], item.content)
        elif key in first_in_batch:
            earlier = items[first_in_batch[key]]
            if earlier.content != item.content:
                raise IdempotencyConflict(
                    f"idempotency key {key!r} appears twice in the batch with different content",
                    field=f"{item.where}idempotency_key",
                )
        else:
            first_in_batch[key] = index
            new.append(index)
    if not new:
        if savepoint is not None:
            _save_totals((), release=savepoint)
        return [r for r in results if r is not None]

    if accounts is None:
        codes = {leg.account for index in new for leg in items[index].spec.legs}
        codes.update(leg.account for leg in release_legs)
        accounts = _load_accounts(codes)

    for leg in release_legs:
        accounts[leg.account].totals.apply(leg.amount, pending=True, release=True)
        accounts[leg.account].touched = True

    for index in new:
        item = items[index]
        pending = item.status == "pending"
        # How much this journal changes the available balance of each floored account it
        # touches (in the order first touched): an account is refused only if the journal
        # lowers its available balance to below the floor. Tracked as the change rather
        # than as the balance before, so legs that add to an account (a credit to a
        # worker's bucket) cost no balance computation.
        changes: dict[str, int] = {}
        for position, leg in enumerate(item.spec.legs):
            row = accounts.get(leg.account)
            if row is None:
                raise UnknownAccount(
                    f"account {leg.account} does not exist",
                    field=f"{item.where}legs[{position}].account",
                )
            if row.currency != leg.currency:
                raise InvalidJournal(
                    f"account {leg.account} is in {row.currency}, the leg is in {leg.currency}",
                    field=f"{item.where}legs[{position}].currency",
                )
            totals = row.totals
            amount = leg.amount
            if totals.floor is not None:
                changes[leg.account] = changes.get(leg.account, 0) + available_change(
                    totals.kind, amount, pending=pending
                )
            # Totals.apply, written out for posted legs: a bulk import posts millions.
            if pending:
                totals.apply(amount, pending=True)
            elif amount > 0:
                totals.posted_debits += amount
            else:
                totals.posted_credits -= amount
            row.touched = True
        for code, change in changes.items():
            if change >= 0:
                continue
            totals = accounts[code].totals
            if totals.breaches_floor():
                raise FloorBreached(
                    f"account {code} would go below its floor: available"
                    f" {totals.available - change}, after this journal {totals.available},"
                    f" floor {totals.floor}",
                    field=f"{item.where}legs",
                )

    if len(ids) < len(new):
        ids.extend(_allocate_ids(len(new) - len(ids)))
    ids = ids[: len(new)]
    now = timezone.now()
    # Rows are built once in the form the driver takes: SQLite gets text dates, adapted
    # once per journal (created_at once per batch), not re-adapted row by row afterwards.
    day, moment = _adapters()
    created = moment(now)
    journal_rows: list[tuple[Any, ...]] = []
    leg_rows: list[tuple[Any, ...]] = []
    add_leg = leg_rows.append
    days: dict[date, Any] = {}  # a batch's journals share few dates
    for journal_id, index in zip(ids, new, strict=True):
        item = items[index]
        spec = item.spec
        pending = item.status == "pending"
        effective = days.get(spec.effective_date)
        if effective is None:
            effective = days[spec.effective_date] = day(spec.effective_date)
        for leg in spec.legs:
            add_leg(
                (journal_id, accounts[leg.account].id, leg.amount, leg.currency, effective, pending)
            )
        journal_rows.append(
            (
                journal_id,
                spec.idempotency_key,
                item.content,
                spec.kind,
                item.status,
                effective,
                created,
                spec.memo,
                item.metadata_json or json.dumps(dict(spec.metadata)),
                item.pending_id,
                moment(item.expires_at),
                None,
                item.reverses_id,
            )
        )
        results[index] = PostedJournal(journal_id, spec.idempotency_key, item.status, True)

    if savepoint is not None and not savepoint.sent:
        # Nothing above writes: an error raised there leaves nothing to undo.
        with connection.cursor() as cursor:
            cursor.execute(f"SAVEPOINT {savepoint.name}")
        savepoint.sent = True
    _insert_rows(leg_rows, journal_rows)
    if release is not None:
        Journal.objects.filter(pk=release.pk, status=JournalStatus.PENDING).update(
            status=JournalStatus.COMPLETED, resolved_at=now
        )
    _save_totals(accounts.values(), release=savepoint)
    # Replays of a key first seen earlier in this batch point at the journal just written.
    for index, item in enumerate(items):
        if results[index] is None:
            results[index] = results[first_in_batch[item.spec.idempotency_key]]
    return [r for r in results if r is not None]


# Below this many legs, PostgreSQL gets multi-row INSERTs rather than COPY.
_COPY_FROM = 64


def _adapters() -> tuple[Any, Any]:
    if connection.vendor == "sqlite":
        return connection.ops.adapt_datefield_value, connection.ops.adapt_datetimefield_value
    return _as_is, _as_is


def _as_is(value: Any) -> Any:
    return value


LEG_COLUMNS = ("journal_id", "account_id", "amount", "currency", "effective_date", "is_pending")
JOURNAL_COLUMNS = (
    "id",
    "idempotency_key",
    "content_hash",
    "kind",
    "status",
    "effective_date",
    "created_at",
    "memo",
    "metadata",
    "pending_id",
    "expires_at",
    "resolved_at",
    "reverses_id",
)


def _insert_rows(leg_rows: list[tuple[Any, ...]], journal_rows: list[tuple[Any, ...]]) -> None:
    """Legs first, then journals: the journal's insert trigger checks that its legs are all
    there and balance, and the leg trigger refuses legs for a journal that already exists.
    Rows come already adapted for the connection (see _write)."""
    leg_table, journal_table = Leg._meta.db_table, Journal._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(leg_rows) <= _COPY_FROM:
            # A journal or two: COPY's extra protocol round trips cost more than they save.
            insert_rows(cursor, leg_table, LEG_COLUMNS, leg_rows)
            insert_rows(cursor, journal_table, JOURNAL_COLUMNS, journal_rows)
            return
        if connection.vendor == "postgresql":
            raw = cursor.cursor
            with raw.copy(f"COPY {leg_table} ({', '.join(LEG_COLUMNS)}) FROM STDIN") as copy:
                for row in leg_rows:
                    copy.write_row(row)
            with raw.copy(
                f"COPY {journal_table} ({', '.join(JOURNAL_COLUMNS)}) FROM STDIN"
            ) as copy:
                for row in journal_rows:
                    copy.write_row(row)
            return
        sqlite_insert(cursor, leg_table, LEG_COLUMNS, leg_rows)
        sqlite_insert(cursor, journal_table, JOURNAL_COLUMNS, journal_rows)
