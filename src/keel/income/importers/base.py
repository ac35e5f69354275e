"""What every importer produces, and the rules every importer keeps.

An importer is a pure function from a file's bytes (and, for the generic CSV format, an import
profile) to a `ParsedFile`: the rows that move money, the rows that move none (pending,
denied, memo rows — skipped with a reason), and the rows it refuses (line, column, reason).
No Django here: the income service turns parsed rows into ledger journals.

Amounts are integers in the minor units of the row's currency. Signs follow the worker's
point of view: money that reaches them is positive.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date


class RowKind(enum.StrEnum):
    # Money earned: gross is what the payer paid for the work, fee what the platform kept,
    # tips what the payer added on top.
    INCOME = "income"
    # Money given back to a payer (refund, chargeback, reversal): reduces income.
    REFUND = "refund"
    # A fee charged on its own, not attached to a payment (e.g. a membership fee).
    FEE = "fee"
    # Money moving between the worker's own accounts (payouts, withdrawals, transfers to
    # a bank): never income.
    TRANSFER = "transfer"


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """One row that moves money at the source.

    Amounts are minor units.  ``net`` is always the row's exact effect on the worker's
    balance at the source, and each kind keeps one identity (``row_problems`` checks them):

    ========  ==========================================================================
    INCOME    gross >= 0 (what the payer paid), tips >= 0, fee = what the platform kept
              (>= 0 in every format Keel reads); net = gross + tips - fee
    REFUND    gross > 0 (what went back to the payer); fee = what the platform kept on
              the refund: > 0 for a charge such as a dispute fee, < 0 when the platform
              gives its earlier fee back; net = -gross - fee
    FEE       gross = 0, tips = 0; fee > 0 for a fee charged on its own, < 0 for a fee
              credited back; net = -fee
    TRANSFER  gross = the amount moved (> 0), tips = 0, fee = what the move cost (>= 0);
              net = -(gross + fee) when money leaves the source (payout, withdrawal,
              money spent from the balance), gross - fee when it arrives (top-up,
              returned payout, currency conversion leg); so abs(net + fee) == gross
    ========  ==========================================================================
    """

    line: int  # 1-based line number in the file (header is line 1)
    kind: RowKind
    occurred_on: date
    currency: str  # ISO 4217
    gross: int  # minor units; see the table above
    fee: int = 0  # minor units kept by the platform; see the table above
    tips: int = 0  # minor units >= 0
    # Net effect on the worker's balance at the source; see the table above.
    net: int = 0
    external_id: str = ""  # the source's own transaction id, when the file has one
    description: str = ""
    counterparty: str = ""  # client / buyer / payer name when known
    # Hints for stream classification: "recurring", "project" or "micro", or "" to let the
    # worker's stream rules decide.
    stream_hint: str = ""
    hours: int | None = None  # hundredths of an hour worked, where the file says (Upwork)
    # Fields that make up the row's identity when external_id is empty: the normalized
    # values the importer read (dates as ISO, amounts as minor units), in a fixed order
    # that does not depend on the file's column order.
    raw: tuple[str, ...] = ()
    # The source's own reference to another transaction (PayPal "Reference Txn ID",
    # Upwork "Transaction ID" group): lets the service pair currency-conversion legs and
    # refunds with what they belong to.  Never part of the identity.
    related_id: str = ""
    # The source's own name for the transaction type ("Hourly", "charge", "Express
    # Checkout Payment"), for display and stream rules.
    source_type: str = ""
    # A transfer whose other side is outside the worker's books: money spent from the
    # balance (a purchase, a bill) or coming back from such a payee (a purchase refunded),
    # as opposed to a move to or from the worker's own bank (a payout, a top-up), which
    # is the worker's cash.
    spent: bool = False


@dataclass(frozen=True, slots=True)
class SkippedRow:
    line: int
    reason: str  # e.g. "status Pending moves no money yet"


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    column: str  # header name of the offending column ("" for the whole row)
    reason: str


@dataclass
class ParsedFile:
    format: str
    rows: list[ParsedRow] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    rows_read: int = 0
    # What the importer decided from the file as a whole and the user should see in the
    # preview, e.g. "dates read as day/month/year: line 7 has 25/03/2024".
    notes: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, dict[str, dict[str, int]]]:
        """Sums per currency and kind: ``{"USD": {"income": {"rows", "gross", "fee", "tips",
        "net"}, ...}}``, in minor units.  Currencies are never added together."""
        out: dict[str, dict[str, dict[str, int]]] = {}
        for row in self.rows:
            by_kind = out.setdefault(row.currency, {})
            t = by_kind.get(row.kind.value)
            if t is None:
                t = by_kind[row.kind.value] = dict.fromkeys(
                    ("rows", "gross", "fee", "tips", "net"), 0
                )
            t["rows"] += 1
            t["gross"] += row.gross
            t["fee"] += row.fee
            t["tips"] += row.tips
            t["net"] += row.net
        return out


def row_problems(row: ParsedRow) -> list[str]:
    """The ways ``row`` breaks its kind's identity (see ``ParsedRow``); empty when sound."""
    problems: list[str] = []
    if row.tips < 0:
        problems.append("tips are negative")
    kind = row.kind
    if kind is RowKind.INCOME:
        if row.gross < 0:
            problems.append("income with a negative gross")
        if row.net != row.gross + row.tips - row.fee:
            problems.append("income net is not gross + tips - fee")
    elif kind is RowKind.REFUND:
        if row.gross <= 0:
            problems.append("refund gross is not positive")
        if row.net != -row.gross - row.fee:
            problems.append("refund net is not -gross - fee")
    elif kind is RowKind.FEE:
        if row.gross or row.tips:
            problems.append("a fee row has a gross or tips")
        if row.net != -row.fee:
            problems.append("fee net is not -fee")
    else:
        if row.tips:
            problems.append("a transfer has tips")
        if row.gross <= 0 or row.fee < 0 or abs(row.net + row.fee) != row.gross:
            problems.append("transfer amounts do not fit abs(net + fee) == gross > 0")
    return problems


class ImportFormatError(ValueError):
    """The file as a whole cannot be read in this format (wrong headers, not text...)."""

    def __init__(self, message: str, *, column: str = "", line: int = 0) -> None:
        super().__init__(message)
        self.column = column
        self.line = line


Progress = Callable[[int], None]
Importer = Callable[..., ParsedFile]
RowIterator = Iterator[tuple[int, dict[str, str]]]
