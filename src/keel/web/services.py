"""What the dashboard shows, read from the ledger as plain data.

Everything here is a read. Amounts stay integer minor units with their currency; the
`money` template filter turns them into text. Amounts in different currencies are never
added together: every total is per currency.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from keel.ledger.models import Account, AccountKind, Journal, JournalStatus, Leg, OwnerType
from keel.ledger.rules import is_debit_normal
from keel.ledger.services import balances_for_owner

RECENT_JOURNALS = 20

# Order and wording of the account groups, as a worker reads their own books.
_KIND_HEADINGS: dict[str, tuple[str, str]] = {
    AccountKind.ASSET: ("What you hold", "Cash, buffer and benefit balances that are yours."),
    AccountKind.LIABILITY: ("What you owe", "Amounts set aside for someone else, such as tax."),
    AccountKind.INCOME: ("Income", "Everything earned, by source, since you started."),
    AccountKind.EXPENSE: ("Expenses", "Fees and costs recorded against your income."),
    AccountKind.EQUITY: ("Equity", "Opening balances and adjustments."),
}

# Journals that count: a completed pending journal lives on in the journal that posted it,
# and voided or expired ones moved no money, so showing them would double or invent amounts.
_SHOWN_STATUSES = (JournalStatus.POSTED, JournalStatus.PENDING)


@dataclass(frozen=True, slots=True)
class CurrencyAmount:
    currency: str
    amount: int


@dataclass(frozen=True, slots=True)
class AccountLine:
    code: str
    label: str
    currency: str
    posted: int
    # Net pending movement on the account's normal side, and what can be spent now.
    pending: int
    available: int


@dataclass(frozen=True, slots=True)
class AccountGroup:
    kind: str
    heading: str
    description: str
    accounts: tuple[AccountLine, ...]
    totals: tuple[CurrencyAmount, ...]


@dataclass(frozen=True, slots=True)
class Movement:
    """What one journal did to one of the person's accounts, signed so that + means the
    account grew (more cash, more income, more expenses)."""

    label: str
    currency: str
    amount: int


@dataclass(frozen=True, slots=True)
class RecentJournal:
    id: int
    effective_date: date
    kind: str
    memo: str
    pending: bool
    movements: tuple[Movement, ...]


@dataclass(frozen=True, slots=True)
class WorkerOverview:
    groups: tuple[AccountGroup, ...]
    # Assets minus liabilities, per currency: what the person's Keel books are worth.
    net_position: tuple[CurrencyAmount, ...]
    recent: tuple[RecentJournal, ...]

    @property
    def has_accounts(self) -> bool:
        return bool(self.groups)


def account_label(code: str, name: str = "") -> str:
    """A readable name for an account: its own name, else its code without the owner
    prefix ("worker:7:benefits:health" -> "Benefits · Health")."""
    if name:
        return name
    segments = code.split(":")
    if len(segments) > 2 and segments[0] in OwnerType.values and segments[1].isdigit():
        segments = segments[2:]
    words = [segment.replace("_", " ").replace("-", " ") for segment in segments]
    return " · ".join(word[:1].upper() + word[1:] for word in words)


def humanize_kind(kind: str) -> str:
    text = kind.replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]


def _per_currency(pairs: list[tuple[str, int]], first: str = "") -> tuple[CurrencyAmount, ...]:
    """Sum per currency; the person's home currency (`first`) leads, the rest by code."""
    totals: dict[str, int] = defaultdict(int)
    for currency, amount in pairs:
        totals[currency] += amount
    order = sorted(totals, key=lambda currency: (currency != first, currency))
    return tuple(CurrencyAmount(currency, totals[currency]) for currency in order)


def worker_overview(user_id: int, home_currency: str = "") -> WorkerOverview:
    """A worker's accounts grouped by kind with per-currency totals, and recent journals.

    Amounts in `home_currency` are listed before other currencies.
    """
    names = dict(
        Account.objects.filter(owner_type=OwnerType.WORKER, owner_id=user_id).values_list(
            "code", "name"
        )
    )
    by_kind: dict[str, list[AccountLine]] = defaultdict(list)
    for balance in balances_for_owner(OwnerType.WORKER, user_id):
        by_kind[balance.kind].append(
            AccountLine(
                code=balance.account,
                label=account_label(balance.account, names.get(balance.account, "")),
                currency=balance.currency,
                posted=balance.posted,
                pending=balance.pending,
                available=balance.available,
            )
        )

    groups = []
    for kind, (heading, description) in _KIND_HEADINGS.items():
        lines = by_kind.get(kind)
        if not lines:
            continue
        lines.sort(
            key=lambda line: (line.currency != home_currency, line.currency, line.label.lower())
        )
        groups.append(
            AccountGroup(
                kind=kind,
                heading=heading,
                description=description,
                accounts=tuple(lines),
                totals=_per_currency(
                    [(line.currency, line.posted) for line in lines], first=home_currency
                ),
            )
        )

    net = [(line.currency, line.posted) for line in by_kind.get(AccountKind.ASSET, [])]
    net += [(line.currency, -line.posted) for line in by_kind.get(AccountKind.LIABILITY, [])]
    return WorkerOverview(
        groups=tuple(groups),
        net_position=_per_currency(net, first=home_currency),
        recent=tuple(recent_journals(OwnerType.WORKER, user_id)),
    )


def recent_journals(
    owner_type: str, owner_id: int, limit: int = RECENT_JOURNALS
) -> list[RecentJournal]:
    """The latest journals touching the owner's accounts, newest first, each with what it
    did to those accounts (legs on other owners' accounts are not shown)."""
    own_legs = Leg.objects.filter(account__owner_type=owner_type, account__owner_id=owner_id)
    journals = list(
        Journal.objects.filter(id__in=own_legs.values("journal_id"), status__in=_SHOWN_STATUSES)
        .order_by("-effective_date", "-id")
        .only("id", "effective_date", "kind", "memo", "status")[:limit]
    )
    if not journals:
        return []

    # One journal may touch the same account twice; show the net per account.
    moved: dict[int, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    labels: dict[str, str] = {}
    legs = own_legs.filter(journal_id__in=[j.id for j in journals]).order_by("id")
    for journal_id, code, name, kind, currency, amount in legs.values_list(
        "journal_id", "account__code", "account__name", "account__kind", "currency", "amount"
    ):
        labels[code] = account_label(code, name)
        natural = amount if is_debit_normal(kind) else -amount
        moved[journal_id][(code, currency)] += natural

    return [
        RecentJournal(
            id=journal.id,
            effective_date=journal.effective_date,
            kind=humanize_kind(journal.kind),
            memo=journal.memo,
            pending=journal.status == JournalStatus.PENDING,
            movements=tuple(
                Movement(labels[code], currency, amount)
                for (code, currency), amount in moved[journal.id].items()
                if amount != 0
            ),
        )
        for journal in journals
    ]
