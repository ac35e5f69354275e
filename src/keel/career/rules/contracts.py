"""Client contracts and their milestones: escrow, review, partial release, exposure, lateness.

Every amount is an ``int`` of minor units in the contract's currency; nothing here uses a float.

A milestone's life (Upwork's model)
    ::

        from        action                        to
        planned     fund                          funded
        funded      deliver | release | dispute   delivered | released | disputed
        delivered   release | dispute             released | disputed
        disputed    resolve                       resolved
        released, resolved: final

    The client funds a milestone into escrow before work starts. Delivery opens a review
    window (``ContractTerms.review_window_days``, 14 by default); when it closes without a
    release or a dispute the escrow is released automatically (``auto_release_due``). The
    client may release earlier, even before delivery, in full or in part, or dispute. A
    dispute stops the clock and ends only by a resolution that awards the worker anything
    from nothing to everything in escrow. ``released`` and ``resolved`` are final.

Partial release and roll-over
    When the client releases part of a milestone, the rest is not lost and not refunded: it
    moves with its share of the work to the next milestone, whose amount grows by the rest
    (``Milestone.rolled_in``) and whose escrow grows by the same amount at once, so the
    client's money stays reserved for the worker throughout. With no next milestone the rest
    goes back to the client's escrow balance (``MilestoneChange.refunded``).

Escrow in the ledger: one open pending journal per milestone
    A milestone's escrow is one pending (two-phase) journal, client escrow → worker
    receivable, for exactly ``Milestone.reserved``. Whenever that amount has to change, the
    journal is voided and a new one reserved for the new amount; no pending journal is ever
    posted twice or topped up, so a milestone row needs one pointer to its reservation and
    every reservation is closed exactly once. The journals the service posts, in the order
    ``MilestoneChange.journals`` lists them:

    * fund: ``void`` the milestone's reservation if a roll-over had already reserved part of
      it, then ``reserve`` the whole ``total``. The client tops their escrow up by
      ``total - reserved`` beforehand; the rest is already there.
    * release in full: ``post`` the reservation in full.
    * release in part: ``post`` the released part of the reservation; the ledger releases
      what is not posted back to the client's escrow in the same step. Then, for the roll-over,
      ``void`` the next milestone's reservation if it has one and ``reserve`` it again for
      its old reservation plus the rest.
    * dispute: nothing. The reservation must not expire while the dispute is open, so the
      service reserves milestone escrow with no early ``expires_at``.
    * resolve: ``post`` the award (in part, as above), or ``void`` when the award is nothing.

When a client must pay (NYC Freelance Isn't Free Act by default)
    Payment for a milestone is due by its contract date (``Milestone.due_on``) when it has
    one; without one it is due ``PaymentDueRule.days_after_delivery`` (30) days after
    delivery. A due date never falls before delivery: work delivered after its contract date
    is due on the day it is delivered. A release counts as payment. Only delivered work can
    be late: a client is not late paying for work they do not have yet.

Exposure (the credit a worker extends to a client)
    Exposure = delivered but unpaid + work in progress, where

    * delivered but unpaid: milestones delivered or disputed after delivery, at their total;
    * work in progress: funded milestones not delivered yet (and ones disputed before
      delivery), plus planned milestones whose ``starts_on`` has come (on or before today).
      A planned milestone without a start date is not counted: nobody has scheduled work on
      it yet.

    Escrow is counted in exposure, not netted against it: it is a reservation the worker
    records, not money a third party holds, so ``Exposure.in_escrow`` shows how much of the
    exposure it covers instead. Exposure above the contract's credit limit is warned about
    with the amount over it. A client with several contracts is also judged as a whole
    (``client_exposure``): the sum across them against the largest limit set on any.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TypeAlias

from keel.money import MoneyError, format_amount, get_currency

__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "FREELANCE_ISNT_FREE",
    "Contract",
    "ContractError",
    "ContractTerms",
    "EscrowAction",
    "EscrowJournal",
    "Exposure",
    "Invoice",
    "InvoiceLine",
    "Lateness",
    "Milestone",
    "MilestoneAction",
    "MilestoneChange",
    "MilestoneId",
    "MilestoneState",
    "PaymentDueRule",
    "Rollover",
    "ScheduledIncome",
    "allowed_actions",
    "auto_release_date",
    "auto_release_due",
    "client_exposure",
    "deliver",
    "dispute",
    "exposure",
    "fund",
    "invoice_number",
    "lateness",
    "milestone_invoice",
    "next_state",
    "partial_release",
    "payment_due_date",
    "release",
    "resolve",
    "scheduled_income",
]

MilestoneId: TypeAlias = int | str

# The income forecast looks this far ahead (days from today, today included).
DEFAULT_HORIZON_DAYS = 90


# --------------------------------------------------------------------------- errors


class ContractError(ValueError):
    """Bad input to a contract rule, or a milestone action its state does not allow.

    ``field`` names the offending input (``"state"``, ``"released"``,
    ``"milestones[2].amount"``) so forms and the API can attach the message to it;
    ``code`` is a stable machine-readable reason (``"invalid_transition"``, ``"too_much"``).
    """

    def __init__(self, message: str, *, field: str, code: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code


def _int(value: object, field: str, *, minimum: int = 0) -> int:
    # bool is an int and a float may hide a fraction of a cent: both are refused, not coerced.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ContractError(
            f"{field} must be a whole number (int), not {type(value).__name__}",
            field=field,
            code="invalid_type",
        )
    if value < minimum:
        words = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
        raise ContractError(f"{field} {words}, not {value}", field=field, code="out_of_range")
    return value


def _date(value: object, field: str) -> date:
    # A datetime is a date subclass; accepting one would drop its time and zone silently.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ContractError(
            f"{field} must be a calendar date, not {type(value).__name__}",
            field=field,
            code="invalid_type",
        )
    return value


def _optional_date(value: object, field: str) -> date | None:
    return None if value is None else _date(value, field)


def _text(value: object, field: str, *, max_length: int = 200) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ContractError(f"{field} must not be empty", field=field, code="required")
    if len(value) > max_length:
        raise ContractError(
            f"{field} must be at most {max_length} characters, not {len(value)}",
            field=field,
            code="too_long",
        )
    return value


def _money(amount: int, currency: str) -> str:
    return format_amount(amount, currency, symbol=True)


# --------------------------------------------------------------------------- states


class MilestoneState(StrEnum):
    PLANNED = "planned"
    FUNDED = "funded"
    DELIVERED = "delivered"
    RELEASED = "released"
    DISPUTED = "disputed"
    RESOLVED = "resolved"


class MilestoneAction(StrEnum):
    FUND = "fund"
    DELIVER = "deliver"
    RELEASE = "release"
    DISPUTE = "dispute"
    RESOLVE = "resolve"


_TRANSITIONS: dict[MilestoneState, dict[MilestoneAction, MilestoneState]] = {
    MilestoneState.PLANNED: {MilestoneAction.FUND: MilestoneState.FUNDED},
    MilestoneState.FUNDED: {
        MilestoneAction.DELIVER: MilestoneState.DELIVERED,
        MilestoneAction.RELEASE: MilestoneState.RELEASED,
        MilestoneAction.DISPUTE: MilestoneState.DISPUTED,
    },
    MilestoneState.DELIVERED: {
        MilestoneAction.RELEASE: MilestoneState.RELEASED,
        MilestoneAction.DISPUTE: MilestoneState.DISPUTED,
    },
    MilestoneState.DISPUTED: {MilestoneAction.RESOLVE: MilestoneState.RESOLVED},
    MilestoneState.RELEASED: {},
    MilestoneState.RESOLVED: {},
}

_PAST = {
    MilestoneAction.FUND: "funded",
    MilestoneAction.DELIVER: "delivered",
    MilestoneAction.RELEASE: "released",
    MilestoneAction.DISPUTE: "disputed",
    MilestoneAction.RESOLVE: "resolved",
}
_STATE_NAMES = tuple(s.value for s in MilestoneState)
_ACTION_NAMES = tuple(a.value for a in MilestoneAction)
_SETTLED = frozenset({MilestoneState.RELEASED, MilestoneState.RESOLVED})
# Escrow holds the whole total in these states (see the module docstring).
_FULLY_RESERVED = frozenset(
    {MilestoneState.FUNDED, MilestoneState.DELIVERED, MilestoneState.DISPUTED}
)


def _state(value: object, field: str = "state") -> MilestoneState:
    if isinstance(value, str) and value in _STATE_NAMES:
        return MilestoneState(value)
    raise ContractError(
        f"{field} must be one of {', '.join(_STATE_NAMES)}, not {value!r}",
        field=field,
        code="invalid_choice",
    )


def _action(value: object) -> MilestoneAction:
    if isinstance(value, str) and value in _ACTION_NAMES:
        return MilestoneAction(value)
    raise ContractError(
        f"action must be one of {', '.join(_ACTION_NAMES)}, not {value!r}",
        field="action",
        code="invalid_choice",
    )


def allowed_actions(state: MilestoneState | str) -> tuple[MilestoneAction, ...]:
    """What can happen next to a milestone in ``state`` (nothing once it is settled)."""
    return tuple(_TRANSITIONS[_state(state)])


def next_state(state: MilestoneState | str, action: MilestoneAction | str) -> MilestoneState:
    """The state ``action`` moves a milestone to, or a ``ContractError`` on ``state``."""
    current, wanted = _state(state), _action(action)
    target = _TRANSITIONS[current].get(wanted)
    if target is not None:
        return target
    options = allowed_actions(current)
    if not options:
        why = "it is settled and cannot change"
    else:
        why = "it can only be " + " or ".join(_PAST[a] for a in options)
    raise ContractError(
        f"cannot {wanted.value} the milestone: its state is {current.value}, so {why}",
        field="state",
        code="invalid_transition",
    )


# --------------------------------------------------------------------------- contract


@dataclass(frozen=True, slots=True)
class PaymentDueRule:
    """When the client must pay for a delivered milestone (module docstring).

    With ``use_contract_date`` off, every milestone is due ``days_after_delivery`` days
    after delivery whatever its contract date says (a plain "net N" contract).
    """

    days_after_delivery: int = 30
    use_contract_date: bool = True

    def __post_init__(self) -> None:
        _int(self.days_after_delivery, "days_after_delivery")
        if not isinstance(self.use_contract_date, bool):
            raise ContractError(
                "use_contract_date must be true or false",
                field="use_contract_date",
                code="invalid_type",
            )

    def describe(self) -> str:
        after = f"{self.days_after_delivery} days after delivery"
        if self.use_contract_date:
            return f"Due by the milestone's contract date, or {after} when it has none."
        return f"Due {after}."


FREELANCE_ISNT_FREE = PaymentDueRule()


@dataclass(frozen=True, slots=True)
class ContractTerms:
    review_window_days: int = 14
    payment_due: PaymentDueRule = FREELANCE_ISNT_FREE

    def __post_init__(self) -> None:
        _int(self.review_window_days, "review_window_days")
        if not isinstance(self.payment_due, PaymentDueRule):
            raise ContractError(
                "payment_due must be a PaymentDueRule", field="payment_due", code="invalid_type"
            )


@dataclass(frozen=True, slots=True)
class Contract:
    """A worker's contract with one client. ``credit_limit`` is the most the worker is
    willing to have outstanding with this client (``exposure``); 0 extends no credit."""

    client: str
    currency: str
    credit_limit: int
    terms: ContractTerms = ContractTerms()

    def __post_init__(self) -> None:
        _text(self.client, "client")
        try:
            code = get_currency(self.currency).code
        except (MoneyError, TypeError) as exc:
            raise ContractError(str(exc), field="currency", code="invalid_currency") from exc
        object.__setattr__(self, "currency", code)
        _int(self.credit_limit, "credit_limit")
        if not isinstance(self.terms, ContractTerms):
            raise ContractError("terms must be ContractTerms", field="terms", code="invalid_type")


# --------------------------------------------------------------------------- milestones


@dataclass(frozen=True, slots=True)
class Milestone:
    """One milestone of a contract's schedule, as the service loads it.

    ``amount`` is what the schedule says it is worth and ``rolled_in`` what partial releases
    of earlier milestones moved onto it; ``total`` is both. ``reserved`` is its escrow now,
    ``released`` what has been paid to the worker for it. ``settled_on`` is the day it was
    released or resolved, and ``refunded`` what of its rest went back to the client then
    (the rest of a part release with no milestone to roll to, or of a dispute's award).
    """

    id: MilestoneId
    amount: int
    deliverable: str
    due_on: date | None = None
    starts_on: date | None = None
    state: MilestoneState = MilestoneState.PLANNED
    rolled_in: int = 0
    reserved: int = 0
    released: int = 0
    delivered_on: date | None = None
    settled_on: date | None = None
    refunded: int = 0

    def __post_init__(self) -> None:
        _int(self.amount, "amount", minimum=1)
        _text(self.deliverable, "deliverable", max_length=500)
        _optional_date(self.due_on, "due_on")
        _optional_date(self.starts_on, "starts_on")
        object.__setattr__(self, "state", _state(self.state))
        _int(self.rolled_in, "rolled_in")
        _int(self.reserved, "reserved")
        _int(self.released, "released")
        _optional_date(self.delivered_on, "delivered_on")
        _optional_date(self.settled_on, "settled_on")
        _int(self.refunded, "refunded")
        self._check_state()

    def _check_state(self) -> None:
        # The service builds milestones from rows: a row that breaks these is a bug there,
        # and money rules run on it would be wrong, so it is refused here.
        state, total = self.state, self.total
        if self.reserved > total:
            self._bad("reserved", f"cannot exceed the total {total}")
        if self.released > total:
            self._bad("released", f"cannot exceed the total {total}")
        if state in _FULLY_RESERVED and self.reserved != total:
            self._bad("reserved", f"must be the total {total} while {state.value}")
        if state in _SETTLED:
            if self.reserved:
                self._bad("reserved", f"must be 0 once {state.value}")
            if self.settled_on is None:
                self._bad("settled_on", f"is required once {state.value}")
            if state is MilestoneState.RELEASED and not self.released:
                self._bad("released", "must be more than 0 once released")
            if self.refunded > total - self.released:
                self._bad("refunded", f"cannot exceed the rest {total - self.released}")
        else:
            if self.refunded:
                self._bad("refunded", f"must be 0 while {state.value}")
            if self.released:
                self._bad("released", f"must be 0 while {state.value}")
            if self.settled_on is not None:
                self._bad("settled_on", f"must be empty while {state.value}")
        if state is MilestoneState.DELIVERED and self.delivered_on is None:
            self._bad("delivered_on", "is required once delivered")
        if (
            state in (MilestoneState.PLANNED, MilestoneState.FUNDED)
            and self.delivered_on is not None
        ):
            self._bad("delivered_on", f"must be empty while {state.value}")

    def _bad(self, field: str, message: str) -> None:
        raise ContractError(
            f"milestone {self.id!r}: {field} {message}", field=field, code="inconsistent"
        )

    @property
    def total(self) -> int:
        return self.amount + self.rolled_in

    @property
    def settled(self) -> bool:
        return self.state in _SETTLED

    @property
    def unpaid(self) -> int:
        """What the client still owes for it (0 once settled: any rest moved on or went back)."""
        return 0 if self.settled else self.total - self.released


class EscrowAction(StrEnum):
    RESERVE = "reserve"
    POST = "post"
    VOID = "void"


@dataclass(frozen=True, slots=True)
class EscrowJournal:
    """One ledger step on a milestone's escrow (module docstring). ``amount`` is what to
    reserve, what to post (the rest of the reservation is released by the post), or the
    reservation being voided."""

    action: EscrowAction
    milestone: MilestoneId
    amount: int


@dataclass(frozen=True, slots=True)
class Rollover:
    """A partial release: ``released`` is paid, ``rest`` moves to ``next_milestone`` (already
    updated) with the re-reservation ``journals``, or goes back to the client as
    ``refunded`` when there is no next milestone."""

    released: int
    rest: int
    next_milestone: Milestone | None
    refunded: int
    journals: tuple[EscrowJournal, ...]


@dataclass(frozen=True, slots=True)
class MilestoneChange:
    """The result of one action: the milestone after it, the next milestone when a
    roll-over changed it, the escrow journals to post in order, and what went back to the
    client's escrow balance."""

    milestone: Milestone
    next_milestone: Milestone | None = None
    journals: tuple[EscrowJournal, ...] = ()
    refunded: int = 0


def fund(milestone: Milestone) -> MilestoneChange:
    """Reserve the milestone's whole total in escrow (voiding a roll-over's part first)."""
    state = next_state(milestone.state, MilestoneAction.FUND)
    journals = _re_reserve(milestone, milestone.total)
    return MilestoneChange(
        replace(milestone, state=state, reserved=milestone.total), None, journals
    )


def deliver(milestone: Milestone, on: date) -> MilestoneChange:
    """Record delivery on ``on``: the review window starts that day."""
    state = next_state(milestone.state, MilestoneAction.DELIVER)
    return MilestoneChange(replace(milestone, state=state, delivered_on=_date(on, "on")))


def dispute(milestone: Milestone) -> MilestoneChange:
    """Freeze the milestone: no auto-release, the escrow stays reserved until resolved."""
    state = next_state(milestone.state, MilestoneAction.DISPUTE)
    return MilestoneChange(replace(milestone, state=state))


def release(
    milestone: Milestone,
    on: date,
    *,
    amount: int | None = None,
    next_milestone: Milestone | None = None,
) -> MilestoneChange:
    """Release the escrow to the worker on ``on``: all of it (``amount`` None), or part of it
    with the rest rolled to ``next_milestone`` (``partial_release``)."""
    state = next_state(milestone.state, MilestoneAction.RELEASE)
    _date(on, "on")
    paid = milestone.reserved if amount is None else amount
    if next_milestone is not None and next_milestone.id == milestone.id:
        raise ContractError(
            "next_milestone must be a different milestone",
            field="next_milestone",
            code="same_milestone",
        )
    rollover = partial_release(milestone.reserved, paid, next_milestone)
    journals = (EscrowJournal(EscrowAction.POST, milestone.id, paid), *rollover.journals)
    return MilestoneChange(
        replace(milestone, state=state, reserved=0, released=paid, settled_on=on),
        rollover.next_milestone,
        journals,
        rollover.refunded,
    )


def partial_release(
    milestone_amount: int, released: int, next_milestone: Milestone | None
) -> Rollover:
    """Split an escrowed ``milestone_amount`` into the ``released`` part and the rest, and
    roll the rest onto ``next_milestone`` (module docstring). ``released`` equal to the
    whole amount is a full release with nothing to roll."""
    _int(milestone_amount, "milestone_amount", minimum=1)
    _int(released, "released")
    if released == 0:
        raise ContractError(
            "released must be more than 0: to pay nothing, dispute the milestone",
            field="released",
            code="nothing_released",
        )
    if released > milestone_amount:
        raise ContractError(
            f"released cannot be more than the {milestone_amount} held in escrow, not {released}",
            field="released",
            code="too_much",
        )
    rest = milestone_amount - released
    if rest == 0:
        return Rollover(released, 0, None, 0, ())
    if next_milestone is None:
        return Rollover(released, rest, None, rest, ())
    if not isinstance(next_milestone, Milestone):
        raise ContractError(
            f"next_milestone must be a Milestone, not {type(next_milestone).__name__}",
            field="next_milestone",
            code="invalid_type",
        )
    if next_milestone.state not in (
        MilestoneState.PLANNED,
        MilestoneState.FUNDED,
        MilestoneState.DELIVERED,
    ):
        raise ContractError(
            f"cannot roll the rest onto milestone {next_milestone.id!r}: it is "
            f"{next_milestone.state.value}",
            field="next_milestone",
            code="invalid_transition",
        )
    reserved = next_milestone.reserved + rest
    moved = replace(next_milestone, rolled_in=next_milestone.rolled_in + rest, reserved=reserved)
    return Rollover(released, rest, moved, 0, _re_reserve(next_milestone, reserved))


def resolve(milestone: Milestone, on: date, awarded: int) -> MilestoneChange:
    """End a dispute on ``on``: ``awarded`` goes to the worker, the rest back to the client."""
    state = next_state(milestone.state, MilestoneAction.RESOLVE)
    _date(on, "on")
    _int(awarded, "awarded")
    if awarded > milestone.reserved:
        raise ContractError(
            f"awarded cannot be more than the {milestone.reserved} held in escrow, not {awarded}",
            field="awarded",
            code="too_much",
        )
    if awarded:
        journals = (EscrowJournal(EscrowAction.POST, milestone.id, awarded),)
    else:
        journals = (EscrowJournal(EscrowAction.VOID, milestone.id, milestone.reserved),)
    return MilestoneChange(
        replace(milestone, state=state, reserved=0, released=awarded, settled_on=on),
        None,
        journals,
        milestone.reserved - awarded,
    )


def _re_reserve(milestone: Milestone, amount: int) -> tuple[EscrowJournal, ...]:
    steps = []
    if milestone.reserved:
        steps.append(EscrowJournal(EscrowAction.VOID, milestone.id, milestone.reserved))
    steps.append(EscrowJournal(EscrowAction.RESERVE, milestone.id, amount))
    return tuple(steps)


# --------------------------------------------------------------------------- review window


def auto_release_date(delivered_on: date, window_days: int) -> date:
    """The day the escrow releases itself: ``window_days`` after delivery (delivered on
    1 March with 14 days, it releases on 15 March)."""
    return _date(delivered_on, "delivered_on") + timedelta(days=_int(window_days, "window_days"))


def auto_release_due(delivered_on: date, window_days: int, today: date) -> bool:
    """Whether the review window has closed by ``today`` (on the release day itself too)."""
    return _date(today, "today") >= auto_release_date(delivered_on, window_days)


# --------------------------------------------------------------------------- payment due


def payment_due_date(
    milestone: Milestone, rule: PaymentDueRule = FREELANCE_ISNT_FREE
) -> date | None:
    """The day payment is due (module docstring), or None while it cannot be known: no
    contract date and nothing delivered yet. Before delivery the contract date is shown as
    it stands."""
    if rule.use_contract_date and milestone.due_on is not None:
        if milestone.delivered_on is not None and milestone.delivered_on > milestone.due_on:
            return milestone.delivered_on
        return milestone.due_on
    if milestone.delivered_on is None:
        return None
    return milestone.delivered_on + timedelta(days=rule.days_after_delivery)


@dataclass(frozen=True, slots=True)
class Lateness:
    """How late a milestone's payment is on a day.

    ``days_overdue`` counts whole days after ``due_on`` while the milestone is delivered and
    unpaid (due on 31 March and unpaid on 12 April: 12 days). ``paid_late_by`` is the same
    count frozen on the day a settled milestone was paid, for its history.
    """

    due_on: date | None
    days_overdue: int
    paid_late_by: int
    unpaid: int

    @property
    def late(self) -> bool:
        return self.days_overdue > 0


def lateness(
    milestone: Milestone, today: date, rule: PaymentDueRule = FREELANCE_ISNT_FREE
) -> Lateness:
    _date(today, "today")
    due = payment_due_date(milestone, rule)
    overdue = paid_late = 0
    if due is not None and milestone.delivered_on is not None:
        if milestone.settled_on is not None:
            paid_late = max(0, (milestone.settled_on - due).days)
        else:
            overdue = max(0, (today - due).days)
    return Lateness(due, overdue, paid_late, milestone.unpaid)


# --------------------------------------------------------------------------- exposure


@dataclass(frozen=True, slots=True)
class Exposure:
    """A client's exposure on a day (module docstring)."""

    client: str
    currency: str
    delivered_unpaid: int
    work_in_progress: int
    in_escrow: int
    credit_limit: int

    @property
    def total(self) -> int:
        return self.delivered_unpaid + self.work_in_progress

    @property
    def over_by(self) -> int:
        return max(0, self.total - self.credit_limit)

    @property
    def over_limit(self) -> bool:
        return self.over_by > 0

    def warning(self) -> str | None:
        """The sentence shown when the exposure is over the credit limit; None when not."""
        if not self.over_limit:
            return None
        cur = self.currency
        return (
            f"{self.client} owes or has work in progress worth {_money(self.total, cur)}, "
            f"{_money(self.over_by, cur)} over the credit limit of "
            f"{_money(self.credit_limit, cur)} ({_money(self.delivered_unpaid, cur)} delivered "
            f"and unpaid, {_money(self.work_in_progress, cur)} in progress; "
            f"{_money(self.in_escrow, cur)} of it is in escrow)."
        )


def _milestones(milestones: Iterable[Milestone]) -> list[Milestone]:
    out: list[Milestone] = []
    seen: set[MilestoneId] = set()
    for i, milestone in enumerate(milestones):
        if not isinstance(milestone, Milestone):
            raise ContractError(
                f"milestones[{i}] must be a Milestone, not {type(milestone).__name__}",
                field=f"milestones[{i}]",
                code="invalid_type",
            )
        if milestone.id in seen:
            raise ContractError(
                f"milestone {milestone.id!r} is listed twice",
                field=f"milestones[{i}].id",
                code="duplicate",
            )
        seen.add(milestone.id)
        out.append(milestone)
    return out


def exposure(contract: Contract, milestones: Sequence[Milestone], today: date) -> Exposure:
    """Delivered-but-unpaid plus work in progress on ``today`` (module docstring)."""
    _date(today, "today")
    delivered = in_progress = in_escrow = 0
    for milestone in _milestones(milestones):
        state = milestone.state
        delivered_work = milestone.delivered_on is not None
        if state in (MilestoneState.DELIVERED, MilestoneState.DISPUTED) and delivered_work:
            delivered += milestone.unpaid
        elif state in (MilestoneState.FUNDED, MilestoneState.DISPUTED) or (
            state is MilestoneState.PLANNED
            and milestone.starts_on is not None
            and milestone.starts_on <= today
        ):
            in_progress += milestone.unpaid
        else:
            continue
        in_escrow += milestone.reserved
    return Exposure(
        contract.client, contract.currency, delivered, in_progress, in_escrow, contract.credit_limit
    )


def client_exposure(exposures: Sequence[Exposure]) -> Exposure:
    """One client's exposure across all their contracts in one currency: the sums of what
    each contract has delivered and unpaid, in progress and in escrow, against the largest
    credit limit set on any of them (a limit is what the worker is willing to have
    outstanding with the client, and a later, bigger contract usually raises it).

    Two contracts with the client: EUR 1,000 delivered and unpaid (limit EUR 1,500) and
    EUR 800 in progress (limit EUR 1,000) make EUR 1,800 against EUR 1,500, EUR 300 over.
    """
    if not exposures:
        raise ContractError(
            "a client's exposure needs at least one contract", field="exposures", code="empty"
        )
    first = exposures[0]
    for i, exposure in enumerate(exposures):
        if exposure.currency != first.currency:
            raise ContractError(
                f"exposures[{i}] is in {exposure.currency}, not {first.currency}: a client's"
                " exposure is summed per currency",
                field=f"exposures[{i}].currency",
                code="currency_mismatch",
            )
    return Exposure(
        first.client,
        first.currency,
        sum(e.delivered_unpaid for e in exposures),
        sum(e.work_in_progress for e in exposures),
        sum(e.in_escrow for e in exposures),
        max(e.credit_limit for e in exposures),
    )


# --------------------------------------------------------------------------- invoices


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    description: str
    amount: int


@dataclass(frozen=True, slots=True)
class Invoice:
    """What an invoice page or PDF shows for one milestone; the service only renders it.

    ``subtotal`` is the sum of the lines, ``paid`` what has been released for the milestone
    and ``balance_due = subtotal - paid``. ``issued_total`` is the subtotal the invoice was
    issued with (None while it is a draft, or when it was not kept): the lines follow the
    milestone, so they can drift from what the client was sent. ``credited`` and
    ``supplemented`` are what credit notes and supplementary invoices issued against it
    since took off and added, so ``net_total`` is what the client has been asked for in all.
    """

    number: str
    issued_on: date
    client: str
    currency: str
    milestone: MilestoneId
    lines: tuple[InvoiceLine, ...]
    subtotal: int
    paid: int
    balance_due: int
    due_on: date | None
    payment_terms: str
    issued_total: int | None = None
    credited: int = 0
    supplemented: int = 0

    def money(self, amount: int) -> str:
        return _money(amount, self.currency)

    @property
    def net_total(self) -> int | None:
        """What the client has been invoiced for the milestone: the total as issued, less
        the credit notes, plus the supplementary invoices (None without a kept total)."""
        if self.issued_total is None:
            return None
        return self.issued_total - self.credited + self.supplemented

    @property
    def adjusted(self) -> bool:
        return bool(self.credited or self.supplemented)

    @property
    def difference(self) -> int:
        """The milestone's total now less what has been invoiced for it: below zero, a
        credit note is owed; above, a supplementary invoice; 0 when they agree."""
        net = self.net_total
        return 0 if net is None else self.subtotal - net

    @property
    def credit_due(self) -> int:
        """What a credit note would take off to make the invoiced match the milestone."""
        return max(-self.difference, 0)

    @property
    def supplement_due(self) -> int:
        """What a supplementary invoice would add to make the invoiced match the milestone."""
        return max(self.difference, 0)

    @property
    def changed_since_issue(self) -> bool:
        return self.difference != 0

    def change_notice(self) -> str | None:
        """The sentence an invoice shows while the milestone differs from what was invoiced."""
        if not self.changed_since_issue:
            return None
        assert self.issued_total is not None  # changed_since_issue
        difference = self.difference
        moved = "more" if difference > 0 else "less"
        issued = f"Issued for {self.money(self.issued_total)}"
        if self.adjusted:
            assert self.net_total is not None  # issued_total is set
            parts = []
            if self.credited:
                parts.append(f"{self.money(self.credited)} credited")
            if self.supplemented:
                parts.append(f"{self.money(self.supplemented)} invoiced in addition")
            issued += f", {' and '.join(parts)} since: {self.money(self.net_total)} in all"
        remedy = (
            f"issue a credit note for {self.money(-difference)}"
            if difference < 0
            else f"issue a supplementary invoice for {self.money(difference)}"
        )
        return (
            f"{issued}; the milestone has changed since (money rolled onto it or moved"
            f" on) and now comes to {self.money(self.subtotal)},"
            f" {self.money(abs(difference))} {moved}. The client holds the invoice as issued:"
            f" {remedy} so that your books and theirs agree."
        )

    def credit_room(self) -> int:
        """The most a further credit note may take off: never below nothing invoiced."""
        return max(self.net_total or 0, 0)


_INVOICE_PREFIX = re.compile(r"[A-Z][A-Z0-9]{0,9}")


def invoice_number(prefix: str, issued_on: date, sequence: int) -> str:
    """``PREFIX-YYYY-NNNN``: the worker's prefix, the year of issue and the worker's running
    number within that year, at least four digits (``KEEL-2025-0007``). The service keeps
    the sequence so numbers are never reused or skipped."""
    if not isinstance(prefix, str) or not _INVOICE_PREFIX.fullmatch(prefix):
        raise ContractError(
            "prefix must be 1 to 10 capital letters and digits, starting with a letter, "
            f"not {prefix!r}",
            field="prefix",
            code="invalid_format",
        )
    _date(issued_on, "issued_on")
    _int(sequence, "sequence", minimum=1)
    return f"{prefix}-{issued_on.year}-{sequence:04d}"


def milestone_invoice(
    contract: Contract,
    milestone: Milestone,
    *,
    number: str,
    issued_on: date,
    issued_total: int | None = None,
    credited: int = 0,
    supplemented: int = 0,
) -> Invoice:
    """The invoice for ``milestone`` (any state), due as ``payment_due_date`` says;
    ``credited`` and ``supplemented`` are the sums of the credit notes and supplementary
    invoices issued against it (only an invoice with a kept ``issued_total`` has any)."""
    _text(number, "number", max_length=40)
    _date(issued_on, "issued_on")
    cur = contract.currency
    lines = [InvoiceLine(milestone.deliverable, milestone.amount)]
    if milestone.rolled_in:
        lines.append(InvoiceLine("Carried over from earlier milestones", milestone.rolled_in))
    rest = milestone.total - milestone.released
    if milestone.state is MilestoneState.RELEASED and rest:
        # A part release rolls its rest onto the next open milestone, or gives it back to
        # the client when there is none.
        moved = rest - milestone.refunded
        if moved:
            lines.append(InvoiceLine("Moved to the next milestone", -moved))
        if milestone.refunded:
            lines.append(InvoiceLine("Returned to the client", -milestone.refunded))
    elif milestone.state is MilestoneState.RESOLVED and rest:
        lines.append(InvoiceLine("Returned to the client when the dispute was resolved", -rest))
    subtotal = sum(line.amount for line in lines)
    due, terms = _payment_terms(milestone, contract.terms.payment_due)
    terms += f" Total {_money(subtotal, cur)}."
    credited = _int(credited, "credited")
    supplemented = _int(supplemented, "supplemented")
    if issued_total is None and (credited or supplemented):
        raise ContractError(
            "an invoice without a kept issued total has no credit notes or supplements",
            field="issued_total",
            code="required",
        )
    return Invoice(
        number=number,
        issued_on=issued_on,
        client=contract.client,
        currency=cur,
        milestone=milestone.id,
        lines=tuple(lines),
        subtotal=subtotal,
        paid=milestone.released,
        balance_due=subtotal - milestone.released,
        due_on=due,
        payment_terms=terms,
        issued_total=None if issued_total is None else _int(issued_total, "issued_total"),
        credited=credited,
        supplemented=supplemented,
    )


def _payment_terms(milestone: Milestone, rule: PaymentDueRule) -> tuple[date | None, str]:
    """When the milestone's money is due, and the sentence that says so."""
    due = payment_due_date(milestone, rule)
    if milestone.settled_on is not None:
        terms = f"Paid on {milestone.settled_on.isoformat()}."
    elif due is None:
        terms = f"Due {rule.days_after_delivery} days after delivery."
    elif rule.use_contract_date and due == milestone.due_on:
        terms = f"Due by {due.isoformat()}, the contract date."
    else:
        terms = f"Due by {due.isoformat()}."
    return due, terms


# --------------------------------------------------------------------------- credit notes


class AdjustmentKind(StrEnum):
    """A document that puts an issued invoice right after its milestone changed: a credit
    note takes an amount off it (its own ``CN-YYYY-NNNN`` sequence), a supplementary
    invoice asks for more (the next ``INV-YYYY-NNNN`` number)."""

    CREDIT_NOTE = "credit_note"
    SUPPLEMENT = "supplement"


@dataclass(frozen=True, slots=True)
class InvoiceAdjustment:
    """What a credit note's or supplementary invoice's page and PDF show. ``lines`` and
    ``total`` carry the sign the client books: negative on a credit note."""

    kind: AdjustmentKind
    number: str
    issued_on: date
    client: str
    currency: str
    invoice_number: str
    invoice_issued_on: date
    invoice_total: int
    reason: str
    lines: tuple[InvoiceLine, ...]
    total: int
    due_on: date | None
    terms: str

    @property
    def title(self) -> str:
        return "Credit note" if self.kind is AdjustmentKind.CREDIT_NOTE else "Supplementary invoice"

    def money(self, amount: int) -> str:
        return _money(amount, self.currency)


def check_adjustment(invoice: Invoice, kind: AdjustmentKind, amount: object) -> int:
    """The amount of a new credit note or supplementary invoice against ``invoice``, or
    why it cannot be issued. A credit note takes off at most what is still invoiced (the
    issued total less earlier credit notes, plus supplements), so the net never goes below
    nothing; a supplementary invoice asks for at most what the milestone has grown beyond
    what was invoiced."""
    if invoice.net_total is None:
        raise ContractError(
            f"invoice {invoice.number} has no issued total kept (it was issued before Keel"
            " kept them, or it is a draft), so nothing can be credited or added against it",
            field="invoice",
            code="not_issued",
        )
    value = _int(amount, "amount", minimum=1)
    if kind is AdjustmentKind.CREDIT_NOTE:
        room = invoice.credit_room()
        if value > room:
            raise ContractError(
                f"amount cannot be more than the {invoice.money(room)} still invoiced on"
                f" {invoice.number} (issued for {invoice.money(invoice.issued_total or 0)},"
                f" {invoice.money(invoice.credited)} credited already)",
                field="amount",
                code="too_much",
            )
        return value
    room = max(invoice.difference, 0)
    if room == 0:
        raise ContractError(
            f"the milestone has not grown beyond the {invoice.money(invoice.net_total)}"
            f" invoiced on {invoice.number}: there is nothing to invoice in addition",
            field="amount",
            code="nothing_to_add",
        )
    if value > room:
        raise ContractError(
            f"amount cannot be more than the {invoice.money(room)} the milestone has grown"
            f" beyond what {invoice.number} asks for",
            field="amount",
            code="too_much",
        )
    return value


def invoice_adjustment(
    contract: Contract,
    milestone: Milestone,
    *,
    kind: AdjustmentKind,
    number: str,
    issued_on: date,
    amount: int,
    reason: str,
    invoice_number: str,
    invoice_issued_on: date,
    invoice_total: int,
) -> InvoiceAdjustment:
    """The document of an issued credit note or supplementary invoice. It is built from
    what was stored when it was issued and the milestone's payment terms, never from the
    milestone's amounts now: an issued document does not change."""
    _text(number, "number", max_length=40)
    _text(invoice_number, "invoice_number", max_length=40)
    _date(issued_on, "issued_on")
    _date(invoice_issued_on, "invoice_issued_on")
    _int(amount, "amount", minimum=1)
    _int(invoice_total, "invoice_total")
    _text(reason, "reason", max_length=500)
    cur = contract.currency
    original = f"invoice {invoice_number} of {invoice_issued_on.isoformat()}"
    if kind is AdjustmentKind.CREDIT_NOTE:
        line = InvoiceLine(f"{milestone.deliverable}: credited against {original}", -amount)
        terms = (
            f"Reduces {original}, issued for {_money(invoice_total, cur)}, by"
            f" {_money(amount, cur)}. Nothing is due on this credit note."
        )
        due = None
    else:
        line = InvoiceLine(f"{milestone.deliverable}: in addition to {original}", amount)
        due, terms = _payment_terms(milestone, contract.terms.payment_due)
        terms = f"Adds to {original}. {terms} Total {_money(amount, cur)}."
    return InvoiceAdjustment(
        kind=kind,
        number=number,
        issued_on=issued_on,
        client=contract.client,
        currency=cur,
        invoice_number=invoice_number,
        invoice_issued_on=invoice_issued_on,
        invoice_total=invoice_total,
        reason=reason,
        lines=(line,),
        total=line.amount,
        due_on=due,
        terms=terms,
    )


# --------------------------------------------------------------------------- the register


@dataclass(frozen=True, slots=True)
class RegisterEntry:
    """One issued document in the worker's invoice register: an invoice (``kind`` None),
    a credit note or a supplementary invoice. ``amount`` carries the sign the client
    books (negative on a credit note); None for an invoice issued before Keel kept issued
    totals, whose amount is not known any more."""

    issued_on: date
    number: str
    kind: AdjustmentKind | None
    currency: str
    amount: int | None


@dataclass(frozen=True, slots=True)
class RegisterTotal:
    """A year's documents in one currency: ``invoiced`` (invoices and supplementary
    invoices), ``credited`` (credit notes, as a positive sum) and ``net``, what the
    clients were invoiced in the end. ``not_kept`` counts the invoices left out because
    their issued total was not kept."""

    year: int
    currency: str
    invoiced: int
    credited: int
    not_kept: int

    @property
    def net(self) -> int:
        return self.invoiced - self.credited


def register_totals(entries: Iterable[RegisterEntry]) -> list[RegisterTotal]:
    """Invoiced, credited and net per year of issue and currency, the latest year first.

    INV-2026-0001 for $1,500.00 and CN-2026-0001 for -$300.00 make $1,500.00 invoiced,
    $300.00 credited, $1,200.00 net in 2026: a credit note nets what was invoiced, so the
    year is not overstated by what the client was asked for and never owed.
    """
    sums: dict[tuple[int, str], list[int]] = {}
    for entry in entries:
        row = sums.setdefault((entry.issued_on.year, entry.currency), [0, 0, 0])
        if entry.amount is None:
            row[2] += 1
        elif entry.amount < 0:
            row[1] -= entry.amount
        else:
            row[0] += entry.amount
    return [
        RegisterTotal(year, currency, invoiced, credited, not_kept)
        for (year, currency), (invoiced, credited, not_kept) in sorted(
            sums.items(), key=lambda item: (-item[0][0], item[0][1])
        )
    ]


# --------------------------------------------------------------------------- forecast


@dataclass(frozen=True, slots=True)
class ScheduledIncome:
    """A milestone payment the income forecast can count on.

    ``secured`` says the amount is reserved in escrow; ``overdue`` that its expected date
    has passed unpaid, in which case ``expected_on`` is moved to today (still expected, just
    late).
    """

    milestone: MilestoneId
    client: str
    currency: str
    expected_on: date
    amount: int
    secured: bool
    overdue: bool
    description: str


def _expected_on(milestone: Milestone, terms: ContractTerms) -> date | None:
    if milestone.state is MilestoneState.DELIVERED:
        assert milestone.delivered_on is not None  # guaranteed by Milestone._check_state
        release_on = auto_release_date(milestone.delivered_on, terms.review_window_days)
        due = payment_due_date(milestone, terms.payment_due)
        return release_on if due is None else min(release_on, due)
    if milestone.state in (MilestoneState.PLANNED, MilestoneState.FUNDED):
        return payment_due_date(milestone, terms.payment_due)
    # Disputed money is not counted on until resolved; settled money is income already.
    return None


def scheduled_income(
    contract: Contract,
    milestones: Sequence[Milestone],
    today: date,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> list[ScheduledIncome]:
    """Unpaid milestones expected within ``horizon_days`` from ``today`` (today included).

    Expected on: for delivered work the earlier of the auto-release day and the payment
    due date; for planned or funded work the contract date (work without one cannot be
    placed on the calendar and is left out). Disputed milestones are left out.
    """
    _date(today, "today")
    _int(horizon_days, "horizon_days", minimum=1)
    end = today + timedelta(days=horizon_days)
    items: list[ScheduledIncome] = []
    for milestone in _milestones(milestones):
        expected = _expected_on(milestone, contract.terms)
        if expected is None or expected >= end:
            continue
        overdue = expected < today
        items.append(
            ScheduledIncome(
                milestone=milestone.id,
                client=contract.client,
                currency=contract.currency,
                expected_on=today if overdue else expected,
                amount=milestone.unpaid,
                secured=milestone.reserved == milestone.total,
                overdue=overdue,
                description=f"{contract.client}: {milestone.deliverable}",
            )
        )
    items.sort(key=lambda item: (item.expected_on, str(item.milestone)))
    return items
