"""Export one owner's books as Beancount, CSV or JSON.

What is exported: every *posted* journal with at least one leg on one of the owner's
accounts, with all of its legs, so each transaction balances on its own (counterpart
accounts of other owners appear by code; codes carry no personal data). Pending journals
are not money that moved: open reservations are listed apart (Beancount comments, a JSON
`pending` section) and voided, expired or completed ones not at all (a completed
reservation's money moved in the posted journal that completed it).

Amounts stay integers of minor units until they are written; decimal text is made from
them with `keel.money.from_minor`, so no float and no rounding is ever involved.

Rows are streamed from one ordered query per section, so a worker with 100k journals is
never held in memory at once; everything is read in one snapshot so the Beancount balance
assertions (taken from the stored account totals) describe the same moment as the legs.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, TextIO

from django.db.models import Max, Min, QuerySet
from django.utils import timezone

from keel.csvsafe import neutralise_cell
from keel.money import from_minor

from . import services
from .models import Account, Journal, JournalStatus, Leg
from .rules import OWNER_TYPES, is_debit_normal

ExportFormat = Literal["beancount", "csv", "json"]
FORMATS: tuple[str, ...] = ("beancount", "csv", "json")
JSON_FORMAT_VERSION = "keel-ledger-export/1"

# Large enough to amortise round trips, small enough that memory stays flat.
_CHUNK = 2000
_OWNER_ID = re.compile(r"[1-9][0-9]{0,17}")


# ---------------------------------------------------------------------------- owners


@dataclass(frozen=True, slots=True)
class Owner:
    owner_type: str
    owner_id: int | None = None

    def __post_init__(self) -> None:
        if self.owner_type not in OWNER_TYPES:
            raise ValueError(
                f"owner type {self.owner_type!r} is not one of {', '.join(sorted(OWNER_TYPES))}"
            )
        if self.owner_type == "keel":
            if self.owner_id is not None:
                raise ValueError("the keel owner has no id (write 'keel')")
        elif type(self.owner_id) is not int or self.owner_id <= 0:
            raise ValueError(f"a {self.owner_type} owner needs a positive integer id")

    def __str__(self) -> str:
        return self.owner_type if self.owner_id is None else f"{self.owner_type}:{self.owner_id}"


def parse_owner(text: str) -> Owner:
    """Read `worker:42`, `pool:3`, `platform:7` or `keel`."""
    forms = "expected worker:<id>, pool:<id>, platform:<id> or keel"
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"owner is empty; {forms}")
    value = text.strip()
    kind, sep, ident = value.partition(":")
    if kind == "keel":
        if sep:
            raise ValueError(f"owner {text!r}: keel has no id; write just 'keel'")
        return Owner("keel")
    if kind not in OWNER_TYPES:
        raise ValueError(f"owner {text!r} has unknown type {kind!r}; {forms}")
    if not sep or not ident:
        raise ValueError(f"owner {text!r} has no id; {forms}")
    # Canonical digits only: '042' or '+42' usually means the value was built by hand.
    if not _OWNER_ID.fullmatch(ident):
        raise ValueError(f"owner {text!r}: id {ident!r} must be a positive whole number")
    return Owner(kind, int(ident))


@dataclass(frozen=True, slots=True)
class ExportSummary:
    owner: Owner
    fmt: str
    accounts: int
    journals: int
    legs: int
    pending: int


# ---------------------------------------------------------------------------- reading


@dataclass(slots=True)
class _LegRow:
    account: str
    account_kind: str
    amount: int
    currency: str


@dataclass(slots=True)
class _JournalRow:
    id: int
    idempotency_key: str
    kind: str
    status: str
    effective_date: date
    memo: str
    metadata: dict[str, Any]
    expires_at: datetime | None
    reverses_id: int | None
    legs: list[_LegRow] = field(default_factory=list)


_LEG_FIELDS = (
    "journal_id",
    "journal__idempotency_key",
    "journal__kind",
    "journal__status",
    "journal__effective_date",
    "journal__memo",
    "journal__metadata",
    "journal__expires_at",
    "journal__reverses_id",
    "account__code",
    "account__kind",
    "amount",
    "currency",
)


def _owner_accounts(owner: Owner) -> QuerySet[Account]:
    return Account.objects.filter(owner_type=owner.owner_type, owner_id=owner.owner_id)


def _journals(owner: Owner, status: str) -> QuerySet[Journal]:
    touching = Leg.objects.filter(account__in=_owner_accounts(owner)).values("journal_id")
    return Journal.objects.filter(status=status, id__in=touching)


def _stream(journals: QuerySet[Journal]) -> Iterator[_JournalRow]:
    """Journals in date order with their legs, from a single streamed query over legs."""
    rows = (
        Leg.objects.filter(journal__in=journals)
        .order_by("journal__effective_date", "journal_id", "id")
        .values_list(*_LEG_FIELDS)
        .iterator(chunk_size=_CHUNK)
    )
    for _, group in itertools.groupby(rows, key=lambda row: row[0]):
        first = next(group)
        journal = _JournalRow(*first[:9])
        for row in itertools.chain((first,), group):
            journal.legs.append(_LegRow(*row[9:]))
        yield journal


# ---------------------------------------------------------------------------- entry point


def export_owner(
    owner: Owner, fmt: ExportFormat, out: TextIO, *, now: datetime | None = None
) -> ExportSummary:
    """Write the owner's books to `out` in `fmt`. `now` stamps the JSON `generated_at`."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    with services.read_snapshot():
        if fmt == "beancount":
            return _export_beancount(owner, out)
        if fmt == "csv":
            return _export_csv(owner, out)
        return _export_json(owner, out, now or timezone.now())


# ---------------------------------------------------------------------------- beancount

_BEANCOUNT_ROOTS = {
    "asset": "Assets",
    "liability": "Liabilities",
    "equity": "Equity",
    "income": "Income",
    "expense": "Expenses",
}
# Marks an underscore that cannot be shown as a capital (see beancount_component).
_ESCAPE = "X"
_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def beancount_component(segment: str) -> str:
    """Turn one segment of an account code into a Beancount account component.

    Components must start with a capital or a digit and hold only letters, digits and
    dashes; codes are lowercase `[a-z0-9_-]`. The segment is read as if preceded by an
    underscore, and every underscore followed by a letter becomes that letter's capital
    (`benefits` -> `Benefits`, `sick_leave` -> `SickLeave`). Every other underscore is
    written `X`, and a capital X from an underscore is followed by a literal `x` so the
    two never meet (`xero` -> `Xxero`, `member_12` -> `MemberX12`); the leading implied
    underscore vanishes before a digit (`42` -> `42`). Capitals arise from nothing else,
    so the text can be read back unambiguously: the mapping is injective.
    """
    text = "_" + segment
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "_":
            out.append(char)
            index += 1
            continue
        following = text[index + 1] if index + 1 < len(text) else ""
        if "a" <= following <= "z":
            out.append(following.upper())
            if following.upper() == _ESCAPE:
                out.append(following)
            index += 2
        elif index == 0 and "0" <= following <= "9":
            index += 1
        else:
            out.append(_ESCAPE)
            index += 1
    return "".join(out)


def beancount_account(code: str, kind: str) -> str:
    """`worker:42:benefits:health` (asset) -> `Assets:Worker:42:Benefits:Health`."""
    return ":".join([_BEANCOUNT_ROOTS[kind], *map(beancount_component, code.split(":"))])


def beancount_string(text: str) -> str:
    escaped = "".join(_STRING_ESCAPES.get(char, char) for char in text)
    # Beancount's lexer only knows C escapes; other control characters are not text anyone
    # meant to keep, and a NUL would end the string early in the C parser.
    return '"' + _CONTROL.sub("\ufffd", escaped) + '"'


def _decimal(amount: int, currency: str) -> str:
    return format(from_minor(amount, currency), "f")


@dataclass(slots=True)
class _OpenAccount:
    name: str
    currency: str
    opened: date


def _export_beancount(owner: Owner, out: TextIO) -> ExportSummary:
    posted = _journals(owner, JournalStatus.POSTED)
    bounds = posted.aggregate(first=Min("effective_date"), last=Max("effective_date"))
    first_day: date | None = bounds["first"]
    last_day: date | None = bounds["last"]

    # Every account the exported legs touch, opened on the day of its first leg there.
    opens: dict[str, _OpenAccount] = {}
    touched = (
        Leg.objects.filter(journal__in=posted)
        .values("account__code", "account__kind", "account__currency")
        .annotate(first=Min("effective_date"))
        .order_by("account__code")
    )
    for row in touched:
        opens[row["account__code"]] = _OpenAccount(
            beancount_account(row["account__code"], row["account__kind"]),
            row["account__currency"],
            row["first"],
        )
    balances = services.balances_for_owner(owner.owner_type, owner.owner_id)
    created = dict(_owner_accounts(owner).values_list("code", "created_at"))
    for bal in balances:
        if bal.account not in opens:
            # Nothing moved on it: open it with the books (or on the day it was created).
            opened = first_day or created[bal.account].astimezone(UTC).date()
            opens[bal.account] = _OpenAccount(
                beancount_account(bal.account, bal.kind), bal.currency, opened
            )

    out.write(f"; Keel ledger export for {owner}\n")
    out.write("; Amounts are exact; balances are checked at the end of the file.\n")
    out.write(f"option {beancount_string('title')} {beancount_string(f'Keel: {owner}')}\n")
    for currency in sorted({acct.currency for acct in opens.values()}):
        out.write(f'option "operating_currency" "{currency}"\n')
    out.write("\n")
    for acct in sorted(opens.values(), key=lambda a: (a.opened, a.name)):
        out.write(f"{acct.opened.isoformat()} open {acct.name} {acct.currency}\n")

    journals = legs = 0
    for journal in _stream(posted):
        journals += 1
        legs += len(journal.legs)
        _write_beancount_transaction(out, journal)

    pending = 0
    for journal in _stream(_journals(owner, JournalStatus.PENDING)):
        if pending == 0:
            out.write(
                "\n; Open reservations (pending journals). Nothing has moved yet, so they are"
                " not in the\n; transactions or balances above.\n"
            )
        pending += 1
        _write_beancount_pending(out, journal)

    if balances:
        # A balance assertion holds at the start of its day, hence the day after the books.
        opened_last = max(opens[bal.account].opened for bal in balances)
        check_day = max(last_day or opened_last, opened_last) + timedelta(days=1)
        out.write("\n; Posted balances as Keel stores them (debits positive).\n")
        for bal in balances:
            debit_positive = bal.posted if is_debit_normal(bal.kind) else -bal.posted
            # Beancount would otherwise tolerate a difference of one minor unit on a
            # balance assertion; "~ 0" makes the check exact.
            out.write(
                f"{check_day.isoformat()} balance {opens[bal.account].name}"
                f"  {_decimal(debit_positive, bal.currency)} ~ {_decimal(0, bal.currency)}"
                f" {bal.currency}\n"
            )
    return ExportSummary(owner, "beancount", len(balances), journals, legs, pending)


def _write_beancount_transaction(out: TextIO, journal: _JournalRow) -> None:
    payee = journal.metadata.get("payee")
    head = f"\n{journal.effective_date.isoformat()} *"
    if isinstance(payee, str) and payee:
        head += f" {beancount_string(payee)}"
    out.write(f"{head} {beancount_string(journal.memo)}\n")
    out.write(f"  keel-journal: {journal.id}\n")
    out.write(f"  keel-kind: {beancount_string(journal.kind)}\n")
    if journal.reverses_id is not None:
        out.write(f"  keel-reverses: {journal.reverses_id}\n")
    if journal.metadata:
        meta = json.dumps(journal.metadata, sort_keys=True, ensure_ascii=False)
        out.write(f"  keel-metadata: {beancount_string(meta)}\n")
    names = [beancount_account(leg.account, leg.account_kind) for leg in journal.legs]
    amounts = [_decimal(leg.amount, leg.currency) for leg in journal.legs]
    name_width = max(map(len, names))
    amount_width = max(map(len, amounts))
    for name, amount, leg in zip(names, amounts, journal.legs, strict=True):
        out.write(f"  {name:<{name_width}}  {amount:>{amount_width}} {leg.currency}\n")


def _write_beancount_pending(out: TextIO, journal: _JournalRow) -> None:
    expires = journal.expires_at.isoformat() if journal.expires_at else "never"
    out.write(
        f"; {journal.effective_date.isoformat()} pending keel-journal {journal.id}"
        f" kind {beancount_string(journal.kind)} memo {beancount_string(journal.memo)}"
        f" expires {expires}\n"
    )
    for leg in journal.legs:
        out.write(
            f";   {beancount_account(leg.account, leg.account_kind)}"
            f"  {_decimal(leg.amount, leg.currency)} {leg.currency}\n"
        )


# ---------------------------------------------------------------------------- csv

CSV_COLUMNS = (
    "journal_id",
    "effective_date",
    "kind",
    "status",
    "memo",
    "account",
    "account_kind",
    "amount",
    "amount_minor",
    "currency",
    "idempotency_key",
)


def _export_csv(owner: Owner, out: TextIO) -> ExportSummary:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    journals = legs = 0
    for journal in _stream(_journals(owner, JournalStatus.POSTED)):
        journals += 1
        for leg in journal.legs:
            legs += 1
            # Amount columns are numbers a spreadsheet should read as numbers (a negative
            # amount starts with '-'); only the free-text columns are neutralised.
            writer.writerow(
                (
                    journal.id,
                    journal.effective_date.isoformat(),
                    neutralise_cell(journal.kind),
                    neutralise_cell(journal.status),
                    neutralise_cell(journal.memo),
                    neutralise_cell(leg.account),
                    neutralise_cell(leg.account_kind),
                    _decimal(leg.amount, leg.currency),
                    leg.amount,
                    neutralise_cell(leg.currency),
                    neutralise_cell(journal.idempotency_key),
                )
            )
    return ExportSummary(owner, "csv", _owner_accounts(owner).count(), journals, legs, 0)


# ---------------------------------------------------------------------------- json


def _journal_json(journal: _JournalRow, *, pending: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": journal.id,
        "effective_date": journal.effective_date.isoformat(),
        "kind": journal.kind,
        "status": journal.status,
        "memo": journal.memo,
        "metadata": journal.metadata,
        "legs": [
            {"account": leg.account, "amount": leg.amount, "currency": leg.currency}
            for leg in journal.legs
        ],
    }
    if pending:
        item["expires_at"] = journal.expires_at.isoformat() if journal.expires_at else None
    return item


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _export_json(owner: Owner, out: TextIO, now: datetime) -> ExportSummary:
    balances = services.balances_for_owner(owner.owner_type, owner.owner_id)
    accounts = [
        {
            "code": b.account,
            "kind": b.kind,
            "currency": b.currency,
            "posted": b.posted,
            "available": b.available,
        }
        for b in balances
    ]
    # Written piece by piece so the journals never sit in memory as one document.
    out.write("{\n")
    out.write(f'"format": {_dump(JSON_FORMAT_VERSION)},\n')
    out.write(f'"owner": {_dump({"type": owner.owner_type, "id": owner.owner_id})},\n')
    out.write(f'"generated_at": {_dump(now.isoformat())},\n')
    out.write(f'"accounts": {_dump(accounts)},\n')
    counts = {"journals": 0, "legs": 0, "pending": 0}
    sections = (
        ("journals", JournalStatus.POSTED, False),
        ("pending", JournalStatus.PENDING, True),
    )
    for position, (section, status, pending) in enumerate(sections):
        out.write(f'"{section}": [')
        for index, journal in enumerate(_stream(_journals(owner, status))):
            out.write(",\n" if index else "\n")
            out.write(_dump(_journal_json(journal, pending=pending)))
            counts[section] += 1
            if not pending:
                counts["legs"] += len(journal.legs)
        out.write("\n]" if counts[section] else "]")
        out.write(",\n" if position < len(sections) - 1 else "\n")
    out.write("}\n")
    return ExportSummary(
        owner, "json", len(balances), counts["journals"], counts["legs"], counts["pending"]
    )
