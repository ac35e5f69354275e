"""Income other domains have committed to a worker: the extension point of the forecast.

Some income is known before it is paid because someone promised it: a platform's steady
micro-contract bundle guarantees so much a week for so many weeks. Income does not know
those domains (and must not import them), so they register a *provider* here, usually in
their ``AppConfig.ready``::

    from keel.income.commitments import register_commitment_provider
    register_commitment_provider(my_domain.services.commitments_for_worker)

A provider is called as ``provider(worker, start, end)`` and returns the ``Commitment``
payments due from ``start`` to ``end`` (both included). ``income_report`` asks for the
forecast's horizon and

* passes them to the forecast as scheduled items of their ``kind`` (``"recurring"`` unless
  the provider says ``"milestone"`` or ``"invoice"``): each counts in full on its due date,
  after ``forecast.consume_scheduled`` has removed those an actual payment already settled;
* averages the recurring ones to a month and shows them in the stability panel as committed
  recurring income, counted with the recurring baseline in the baseline coverage; a
  milestone or an invoice is a one-off and never counts as a baseline.

**Keys.** ``Commitment.key`` is the ``ScheduledItem.key`` of the forecast, and the forecast
matches it against ``IncomeFact.source``, which is the slug of the income ``Source`` a
payment was booked to. A payment settles a commitment, and that source's history stops
being simulated, only when the two are the same string. A provider must therefore choose
the key deliberately: the slug of the income source its payments are booked under when
there is one, or otherwise a key of its own (the gateway uses ``bundle-<bundle id>``) that
makes the commitment its own source. With a key of its own, no imported item settles the
commitment and history filed under another source is still simulated beside it; a worker
who books the payments under an income source with that slug makes them settle it.

Amounts are minor units of the worker's home currency: a provider converts, or leaves out
what it cannot convert (a promise in another currency has no known future rate).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from keel.accounts.models import User

from .rules.forecast import ScheduledItem

__all__ = [
    "Commitment",
    "CommitmentProvider",
    "commitments_for",
    "monthly_amount",
    "register_commitment_provider",
    "scheduled_items",
    "unregister_commitment_provider",
]

# Committed income is recurring income the worker can plan on before it arrives.
SCHEDULED_KIND = "recurring"


@dataclass(frozen=True, slots=True)
class Commitment:
    """One committed payment: ``amount`` minor units of the worker's home currency due on
    ``due_on``, under the forecast key ``key`` (see the module docstring), described to the
    worker as ``label``."""

    due_on: date
    amount: int
    key: str
    label: str
    # "recurring" (a bundle's weekly guarantee) counts in the recurring baseline; a one-off
    # promise ("milestone", "invoice") is scheduled in the forecast but is not a baseline.
    kind: str = SCHEDULED_KIND

    def __post_init__(self) -> None:
        # Reuses the forecast's own checks (a date, an int amount, a non-empty key, a kind).
        self.scheduled()
        if not isinstance(self.label, str):
            raise TypeError(f"label must be a str, not {type(self.label).__name__}")

    def scheduled(self) -> ScheduledItem:
        return ScheduledItem(self.due_on, self.amount, self.kind, self.key)


CommitmentProvider = Callable[[User, date, date], Iterable[Commitment]]

# Keyed by the provider's qualified name, so registering it again (ready() runs once per
# process, but tests and reloads can call it twice) replaces instead of counting twice.
_providers: dict[str, CommitmentProvider] = {}


def _name(provider: CommitmentProvider) -> str:
    module = getattr(provider, "__module__", "")
    qualname = getattr(provider, "__qualname__", repr(provider))
    return f"{module}.{qualname}"


def register_commitment_provider(provider: CommitmentProvider) -> CommitmentProvider:
    """Add a source of committed income; returns it, so it can decorate a function."""
    _providers[_name(provider)] = provider
    return provider


def unregister_commitment_provider(provider: CommitmentProvider) -> None:
    _providers.pop(_name(provider), None)


def commitments_for(worker: User, start: date, end: date) -> list[Commitment]:
    """Every registered provider's commitments due from ``start`` to ``end`` (inclusive),
    by due date then key. What a provider returns outside the range is left out."""
    found: list[Commitment] = []
    for provider in list(_providers.values()):
        for commitment in provider(worker, start, end):
            if not isinstance(commitment, Commitment):
                raise TypeError(
                    f"{_name(provider)} returned {type(commitment).__name__}, not Commitment"
                )
            if start <= commitment.due_on <= end:
                found.append(commitment)
    found.sort(key=lambda c: (c.due_on, c.key, c.amount))
    return found


def scheduled_items(commitments: Iterable[Commitment]) -> list[ScheduledItem]:
    return [commitment.scheduled() for commitment in commitments]


def monthly_amount(commitments: Iterable[Commitment], days: int) -> int:
    """What ``days`` days of recurring commitments come to in an average month: their
    total x 365 / (12 x days), rounded down, the same scaling as the forecast's monthly
    median. One-off promises (milestones, invoices) are left out: they are not a baseline."""
    if days < 1:
        raise ValueError("days must be at least 1")
    return sum(c.amount for c in commitments if c.kind == SCHEDULED_KIND) * 365 // (12 * days)
