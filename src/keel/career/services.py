"""The career domain's database work for client contracts and milestones: creating a
contract with its schedule, the escrow actions (fund, deliver, release in full or in part
with roll-over, dispute, resolve), the automatic release when a review window closes,
exposure and lateness, invoices, and the milestones the income forecast counts on.

The rules (``keel.career.rules.contracts``, no Django) decide what each action does and
which escrow journals it needs; this module loads their inputs from the rows, posts the
journals through the ledger service and records the outcome, all inside one transaction
per action (the contract's row is locked first, so two actions on one contract queue).

Chart of accounts (all owned by the worker, in the contract's currency)
    ==========================================  ========================================
    ``worker:<w>:career:escrow:<c>``            asset, floored at 0: the client's money
                                                in escrow for contract ``c``
    ``worker:<w>:career:client-funds:<c>``      liability: the client's claim on that
                                                escrow (what would go back to them)
    ``worker:<w>:sources:<client>:<ccy>``       asset (the income domain's "held at
                                                source"): money released to the worker,
                                                not yet paid out to their bank
    ``worker:<w>:income:<client>:project``      income (the income domain's): what the
                                                worker earned from the client
    ==========================================  ========================================

    ``<client>`` is the slug of the client's income source (``Contract.income_source_slug``),
    so released money counts in every income report and forecast as income from that
    client. The journals:

    ==========================  =========================================================
    fund (top-up)               ``career.escrow.deposit``: escrow +t, client-funds -t
    fund, roll-over             ``career.escrow`` pending: client-funds +r, escrow -r
    release, award              the reservation posted (in full or in part, same legs);
                                what is not posted goes back to escrow's available balance
    the same release            ``income.income`` through ``income.services.book_rows``:
                                held at the client +p, income -p (and the tax set-aside
                                cash → tax when the worker has it on)
    rest with nowhere to roll   ``career.escrow.refund``: client-funds +x, escrow -x
    ==========================  =========================================================

    So after every action the escrow's posted balance equals the client-funds balance
    and the sum of the milestones' open reservations, and nothing in escrow is
    unreserved (its available balance is 0). The escrow's floor makes the ledger itself
    refuse a reservation the client has not paid for.

Reservations never expire: they are made with ``expires_at`` far in the future
(``ESCROW_EXPIRES_AT``), because a dispute may stay open for as long as it takes.

Idempotency
    Every journal key names the milestone and its version before the change
    (``career:milestone:<id>:v<n>:post``); the version is bumped by every change, so a
    key is never reused for different content. An action called with a ``key`` (the page's
    form token) is recorded with it: the same key again returns the milestone as it is,
    without doing anything twice; the same key for another action is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Prefetch

from keel.accounts.models import User
from keel.audit import services as audit
from keel.income import services as income
from keel.income.commitments import Commitment
from keel.income.importers.base import ParsedRow, RowKind
from keel.income.models import IncomeItem, SourceKind, StreamKind
from keel.ledger import services as ledger
from keel.ledger.rules import MAX_LEG_AMOUNT, JournalSpec, LedgerError, LegSpec
from keel.money import format_amount

from .errors import CareerError, Conflict
from .models import (
    AdjustmentKind,
    Contract,
    EventAction,
    InvoiceAdjustment,
    InvoiceCounter,
    Milestone,
    MilestoneEvent,
    MilestoneState,
    Party,
)
from .rules import contracts as rules
from .rules.contracts import ContractError, EscrowAction, EscrowJournal, MilestoneChange

__all__ = [
    "CREDIT_NOTE_PREFIX",
    "ESCROW_EXPIRES_AT",
    "INVOICE_PREFIX",
    "ContractSummary",
    "MilestoneInput",
    "MilestoneView",
    "auto_release_due",
    "client_funds_code",
    "contract_summaries",
    "contract_summary",
    "create_contract",
    "deliver_milestone",
    "dispute_milestone",
    "escrow_code",
    "fund_milestone",
    "invoice_adjustments",
    "invoice_for",
    "invoice_register",
    "invoice_standings",
    "issue_credit_note",
    "issue_invoice",
    "issue_supplement",
    "milestone_commitments",
    "release_milestone",
    "resolve_milestone",
]

# Far enough that no reservation ever expires while a dispute is open; the ledger's
# default expiry (KEEL_PENDING_TIMEOUT_SECONDS) is for short-lived holds.
ESCROW_EXPIRES_AT = datetime(2999, 12, 31, tzinfo=UTC)
ESCROW_KIND = "career.escrow"
DEPOSIT_KIND = "career.escrow.deposit"
REFUND_KIND = "career.escrow.refund"
INVOICE_PREFIX = "INV"
CREDIT_NOTE_PREFIX = "CN"
MAX_MILESTONES = 50
MAX_DAYS = 365
# Rolled-over money can move onto a milestone in these states (the rules refuse others).
ROLL_TARGETS = (MilestoneState.PLANNED, MilestoneState.FUNDED, MilestoneState.DELIVERED)
OPEN_STATES = (
    MilestoneState.PLANNED,
    MilestoneState.FUNDED,
    MilestoneState.DELIVERED,
    MilestoneState.DISPUTED,
)
# Events that record a document, not a change of the milestone: they do not count as its
# last change when a later action is dated.
DOCUMENT_EVENTS = (EventAction.INVOICE, EventAction.CREDIT_NOTE, EventAction.SUPPLEMENT)

# The rules name some inputs differently from the model and the forms.
_FIELD_NAMES = {
    "client": "client_name",
    "days_after_delivery": "payment_due_days",
    "use_contract_date": "payment_due_uses_contract_date",
    "released": "amount",
}


def _money(minor: int, currency: str) -> str:
    return format_amount(minor, currency, symbol=True)


def _error(exc: ContractError, prefix: str = "") -> CareerError:
    name = _FIELD_NAMES.get(exc.field, exc.field)
    return CareerError(str(exc), field=f"{prefix}{name}", code=exc.code)


# ---------------------------------------------------------------------------- accounts


def escrow_code(contract: Contract) -> str:
    return f"worker:{contract.worker_id}:career:escrow:{contract.pk}"


def client_funds_code(contract: Contract) -> str:
    return f"worker:{contract.worker_id}:career:client-funds:{contract.pk}"


def _open_accounts(contract: Contract) -> None:
    owner: dict[str, Any] = {"owner_type": "worker", "owner_id": contract.worker_id}
    ledger.open_account(
        escrow_code(contract),
        kind="asset",
        currency=contract.currency,
        floor=0,
        name=f"Escrow: {contract.client_name} ({contract.title})"[:200],
        **owner,
    )
    ledger.open_account(
        client_funds_code(contract),
        kind="liability",
        currency=contract.currency,
        name=f"{contract.client_name}: money in escrow ({contract.title})"[:200],
        **owner,
    )


# ---------------------------------------------------------------------------- rows ↔ rules


def terms_of(contract: Contract) -> rules.ContractTerms:
    return rules.ContractTerms(
        review_window_days=contract.review_window_days,
        payment_due=rules.PaymentDueRule(
            days_after_delivery=contract.payment_due_days,
            use_contract_date=contract.payment_due_uses_contract_date,
        ),
    )


def rule_contract(contract: Contract) -> rules.Contract:
    return rules.Contract(
        client=contract.client_name,
        currency=contract.currency,
        credit_limit=contract.credit_limit,
        terms=terms_of(contract),
    )


def rule_milestone(row: Milestone) -> rules.Milestone:
    return rules.Milestone(
        id=row.pk,
        amount=row.amount,
        deliverable=row.deliverable,
        due_on=row.due_on,
        starts_on=row.starts_on,
        state=rules.MilestoneState(row.state),
        rolled_in=row.rolled_in,
        reserved=row.reserved,
        released=row.released,
        delivered_on=row.delivered_on,
        settled_on=row.settled_on,
        refunded=row.refunded,
    )


# ---------------------------------------------------------------------------- contracts


@dataclass(frozen=True, slots=True)
class MilestoneInput:
    """One milestone of a new contract's schedule, as a form or the API sends it."""

    deliverable: str
    amount: int
    due_on: date | None = None
    starts_on: date | None = None


def _text(value: object, field: str, *, max_length: int, required: bool = True) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise CareerError(f"{field} must not be empty", field=field, code="required")
    if len(text) > max_length:
        raise CareerError(
            f"{field} must be at most {max_length} characters, not {len(text)}",
            field=field,
            code="too_long",
        )
    return text


def _days(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
        raise CareerError(
            f"{field} must be a whole number of days from 0 to {MAX_DAYS}, not {value!r}",
            field=field,
            code="out_of_range",
        )
    return value


def _check_milestones(milestones: Sequence[MilestoneInput]) -> list[rules.Milestone]:
    if not milestones:
        raise CareerError(
            "a contract needs at least one milestone", field="milestones", code="required"
        )
    if len(milestones) > MAX_MILESTONES:
        raise CareerError(
            f"a contract can have at most {MAX_MILESTONES} milestones, not {len(milestones)}",
            field="milestones",
            code="too_many",
        )
    checked = []
    for index, given in enumerate(milestones):
        prefix = f"milestones[{index}]."
        if not isinstance(given, MilestoneInput):
            raise CareerError(
                f"milestones[{index}] must be a MilestoneInput", field=f"milestones[{index}]"
            )
        deliverable = given.deliverable.strip() if isinstance(given.deliverable, str) else ""
        try:
            milestone = rules.Milestone(
                id=index,
                amount=given.amount,
                deliverable=deliverable,
                due_on=given.due_on,
                starts_on=given.starts_on,
            )
        except ContractError as exc:
            raise _error(exc, prefix) from None
        if (
            milestone.starts_on is not None
            and milestone.due_on is not None
            and milestone.starts_on > milestone.due_on
        ):
            raise CareerError(
                f"{prefix}starts_on ({milestone.starts_on.isoformat()}) must not be after"
                f" due_on ({milestone.due_on.isoformat()})",
                field=f"{prefix}starts_on",
                code="out_of_order",
            )
        checked.append(milestone)
    return checked


def create_contract(
    worker: User,
    *,
    title: str,
    client_name: str,
    currency: str,
    credit_limit: int,
    milestones: Sequence[MilestoneInput],
    client_email: str = "",
    review_window_days: int = 14,
    payment_due_days: int = 30,
    payment_due_uses_contract_date: bool = True,
    key: str = "",
) -> Contract:
    """Create a contract with its schedule of milestones, all planned, and open its escrow
    accounts. Every input is checked first; a refusal names the field
    (``milestones[1].amount``) and creates nothing. With ``key``, a second call with the
    same key returns the contract the first one created."""
    if key:
        existing = Contract.objects.filter(worker=worker, request_key=key).first()
        if existing is not None:
            return existing
    title = _text(title, "title", max_length=200)
    client_name = _text(client_name, "client_name", max_length=200)
    client_email = _text(client_email, "client_email", max_length=254, required=False)
    if client_email:
        try:
            validate_email(client_email)
        except ValidationError:
            raise CareerError(
                f"client_email {client_email!r} is not an email address",
                field="client_email",
                code="invalid_format",
            ) from None
    review_window_days = _days(review_window_days, "review_window_days")
    payment_due_days = _days(payment_due_days, "payment_due_days")
    if not isinstance(payment_due_uses_contract_date, bool):
        raise CareerError(
            "payment_due_uses_contract_date must be true or false",
            field="payment_due_uses_contract_date",
            code="invalid_type",
        )
    try:
        checked = rules.Contract(
            client=client_name,
            currency=currency.upper() if isinstance(currency, str) else currency,
            credit_limit=credit_limit,
            terms=rules.ContractTerms(
                review_window_days=review_window_days,
                payment_due=rules.PaymentDueRule(payment_due_days, payment_due_uses_contract_date),
            ),
        )
    except ContractError as exc:
        raise _error(exc) from None
    most = _money(MAX_LEG_AMOUNT, checked.currency)
    if checked.credit_limit > MAX_LEG_AMOUNT:
        raise CareerError(
            f"credit_limit must be at most {most}",
            field="credit_limit",
            code="out_of_range",
        )
    schedule = _check_milestones(milestones)
    # Partial releases roll the rest onward, so one milestone's escrow can come to the
    # whole schedule: that must fit in one ledger leg, or the ledger refuses the money
    # (and a bigger number overflows the database's integer before that).
    if sum(m.amount for m in schedule) > MAX_LEG_AMOUNT:
        raise CareerError(
            f"the milestones must add up to at most {most}",
            field="milestones",
            code="too_much",
        )
    with transaction.atomic():
        contract = Contract.objects.create(
            worker=worker,
            title=title,
            client_name=client_name,
            client_email=client_email,
            currency=checked.currency,
            credit_limit=checked.credit_limit,
            review_window_days=review_window_days,
            payment_due_days=payment_due_days,
            payment_due_uses_contract_date=payment_due_uses_contract_date,
            income_source_slug=income.source_slug(client_name),
            request_key=key,
        )
        Milestone.objects.bulk_create(
            Milestone(
                contract=contract,
                sequence=index,
                deliverable=m.deliverable,
                amount=m.amount,
                due_on=m.due_on,
                starts_on=m.starts_on,
            )
            for index, m in enumerate(schedule, start=1)
        )
        _open_accounts(contract)
    return contract


# ---------------------------------------------------------------------------- actions


@dataclass
class _Action:
    """One action in progress: the locked contract, its milestones by id, and the
    journals posted so far per milestone (for the events)."""

    contract: Contract
    rows: dict[int, Milestone]
    target: Milestone
    on: date
    journals: dict[int, dict[str, list[int]]]

    def note(self, milestone_id: int, what: str, journal_id: int) -> None:
        self.journals.setdefault(milestone_id, {}).setdefault(what, []).append(journal_id)


def _check_date(value: object, field: str = "on") -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise CareerError(
            f"{field} must be a calendar date, not {type(value).__name__}",
            field=field,
            code="invalid_type",
        )
    return value


def _begin(
    milestone: Milestone,
    *,
    action: EventAction,
    on: date,
    key: str,
    expected_version: int | None,
) -> _Action | Milestone:
    """Lock the contract, reload its milestones, and check the request: returns the
    milestone as it is for a replayed key, else the action to carry out. Must run inside
    the action's transaction."""
    on = _check_date(on)
    contract = Contract.objects.select_for_update().get(pk=milestone.contract_id)
    rows = {m.pk: m for m in contract.milestones.select_for_update().order_by("sequence")}
    target = rows[milestone.pk]
    if key:
        replay = MilestoneEvent.objects.filter(milestone=target, request_key=key).first()
        if replay is not None:
            if replay.action != action:
                raise Conflict(
                    f"this request was already used to {replay.get_action_display().lower()}"
                    " the milestone; nothing else was done",
                    field="key",
                )
            return target
    if expected_version is not None and expected_version != target.version:
        raise Conflict(
            "the milestone changed since this page was loaded; look at it again and repeat"
            " the action if it still applies",
            field="version",
        )
    last = (
        MilestoneEvent.objects.filter(milestone=target)
        .exclude(action__in=DOCUMENT_EVENTS)
        .order_by("-on")
        .values_list("on", flat=True)
        .first()
    )
    if last is not None and on < last:
        raise CareerError(
            f"on ({on.isoformat()}) cannot be before the milestone's last change on"
            f" {last.isoformat()}",
            field="on",
            code="out_of_order",
        )
    return _Action(contract, rows, target, on, {})


def _legs(contract: Contract, amount: int) -> tuple[LegSpec, LegSpec]:
    """Money leaving escrow: the client's claim shrinks by what escrow gives up."""
    currency = contract.currency
    return (
        LegSpec(client_funds_code(contract), amount, currency),
        LegSpec(escrow_code(contract), -amount, currency),
    )


def _key(row: Milestone, step: str) -> str:
    return f"career:milestone:{row.pk}:v{row.version}:{step}"


def _metadata(act: _Action, row: Milestone) -> dict[str, Any]:
    return {"contract": act.contract.pk, "milestone": row.pk, "sequence": row.sequence}


def _deposit(act: _Action, row: Milestone, amount: int) -> None:
    contract = act.contract
    currency = contract.currency
    result = ledger.post_journal(
        JournalSpec(
            idempotency_key=_key(row, "deposit"),
            kind=DEPOSIT_KIND,
            effective_date=act.on,
            legs=(
                LegSpec(escrow_code(contract), amount, currency),
                LegSpec(client_funds_code(contract), -amount, currency),
            ),
            memo=f"{contract.client_name} funds milestone {row.sequence} into escrow",
            metadata=_metadata(act, row),
        )
    )
    act.note(row.pk, "posted", result.id)


def _refund(act: _Action, row: Milestone, amount: int) -> None:
    contract = act.contract
    result = ledger.post_journal(
        JournalSpec(
            idempotency_key=_key(row, "refund"),
            kind=REFUND_KIND,
            effective_date=act.on,
            legs=_legs(contract, amount),
            memo=f"Rest of milestone {row.sequence} returned to {contract.client_name}",
            metadata=_metadata(act, row),
        )
    )
    act.note(row.pk, "posted", result.id)


def _apply_journals(act: _Action, journals: Iterable[EscrowJournal]) -> None:
    """Post the rules' escrow steps in order, keeping each milestone's pointer to its one
    open reservation."""
    contract = act.contract
    for step in journals:
        row = act.rows[int(step.milestone)]
        if step.action is EscrowAction.RESERVE:
            result = ledger.reserve(
                JournalSpec(
                    idempotency_key=_key(row, "reserve"),
                    kind=ESCROW_KIND,
                    effective_date=act.on,
                    legs=_legs(contract, step.amount),
                    memo=f"Escrow for milestone {row.sequence}: {row.deliverable}"[:500],
                    metadata=_metadata(act, row),
                ),
                expires_at=ESCROW_EXPIRES_AT,
            )
            row.escrow_pending_id = result.id
            act.note(row.pk, "reserved", result.id)
            continue
        pending = row.escrow_pending_id
        if pending is None:  # the rules only post or void what a row has reserved
            raise AssertionError(f"milestone {row.pk} has no open reservation to {step.action}")
        if step.action is EscrowAction.POST:
            result = ledger.post_pending(
                pending,
                idempotency_key=_key(row, "post"),
                amount=step.amount,
                effective_date=act.on,
                memo=f"Escrow released for milestone {row.sequence}: {row.deliverable}"[:500],
            )
            act.note(row.pk, "posted", result.id)
        else:
            ledger.void_pending(pending, reason=f"escrow of milestone {row.pk} changed")
            act.note(row.pk, "voided", pending)
        row.escrow_pending_id = None


def _book_income(act: _Action, row: Milestone, amount: int) -> int:
    """Book what the client paid for ``row`` as the worker's income from the client,
    through the income domain, in this transaction. Returns the income journal's id."""
    contract = act.contract
    worker = contract.worker
    source = income.ensure_source(
        worker,
        contract.client_name,
        kind=SourceKind.CLIENT,
        default_stream=StreamKind.PROJECT,
        currency=contract.currency,
    )
    paid = ParsedRow(
        line=row.sequence,
        kind=RowKind.INCOME,
        occurred_on=act.on,
        currency=contract.currency,
        gross=amount,
        net=amount,
        external_id=f"keel-milestone-{row.pk}",
        description=f"{contract.title}: milestone {row.sequence}, {row.deliverable}"[:500],
        counterparty=contract.client_name[:200],
        stream_hint=StreamKind.PROJECT,
    )
    rejected: list[dict[str, Any]] = []
    booked = income.book_rows(worker, source, [paid], rejected=rejected)
    if not booked.applied or booked.duplicates:
        reason = rejected[0]["reason"] if rejected else "it is booked already"
        raise CareerError(
            f"the payment for milestone {row.sequence} cannot be booked as income: {reason}",
            field="on",
            code="income_refused",
        )
    identity = income.identities(source, [paid])[0]
    journal_id = IncomeItem.objects.get(worker=worker, identity=identity).journal_id
    act.note(row.pk, "income", journal_id)
    return int(journal_id)


def _next_open(act: _Action) -> Milestone | None:
    """Where the rest of a partial release rolls: the first later milestone (by sequence)
    that is still open to it; None when there is none (the rest goes back)."""
    later = [
        m for m in act.rows.values() if m.sequence > act.target.sequence and m.state in ROLL_TARGETS
    ]
    return min(later, key=lambda m: m.sequence) if later else None


def _update(row: Milestone, after: rules.Milestone) -> None:
    row.state = after.state.value
    row.rolled_in = after.rolled_in
    row.reserved = after.reserved
    row.released = after.released
    row.delivered_on = after.delivered_on
    row.settled_on = after.settled_on


def _record(
    act: _Action,
    row: Milestone,
    *,
    action: EventAction,
    party: Party,
    recorded_by: User | None,
    before: str,
    amount: int = 0,
    note: str = "",
    key: str = "",
) -> MilestoneEvent:
    row.version += 1
    row.save()
    return MilestoneEvent.objects.create(
        milestone=row,
        action=action,
        party=party,
        recorded_by=recorded_by,
        on=act.on,
        amount=amount,
        state_before=before,
        state_after=row.state,
        note=note,
        journals=act.journals.get(row.pk, {}),
        request_key=key,
    )


def _finish(
    act: _Action,
    change: MilestoneChange,
    *,
    action: EventAction,
    party: Party,
    recorded_by: User | None,
    paid: int = 0,
    amount: int = 0,
    note: str = "",
    key: str = "",
) -> Milestone:
    """Post the change's journals, book what was paid as income, give back what has
    nowhere to go, and record every milestone the change touched."""
    target = act.target
    before = target.state
    _apply_journals(act, change.journals)
    if paid:
        target.income_journal_id = _book_income(act, target, paid)
    if change.refunded:
        _refund(act, target, change.refunded)
        target.refunded += change.refunded
    _update(target, change.milestone)
    if change.next_milestone is not None:
        following = act.rows[int(change.next_milestone.id)]
        following_before = following.state
        moved = change.next_milestone.rolled_in - following.rolled_in
        _update(following, change.next_milestone)
        _record(
            act,
            following,
            action=EventAction.ROLL_IN,
            party=party,
            recorded_by=recorded_by,
            before=following_before,
            amount=moved,
            note=f"from milestone {target.sequence}",
        )
    _record(
        act,
        target,
        action=action,
        party=party,
        recorded_by=recorded_by,
        before=before,
        amount=amount,
        note=note,
        key=key,
    )
    return target


def _run(compute: Callable[[], MilestoneChange], act: _Action | None = None) -> MilestoneChange:
    try:
        return compute()
    except ContractError as exc:
        error = _error(exc)
        if exc.code == "too_much" and act is not None:
            # The rules speak in minor units; the worker reads money.
            held = _money(act.target.reserved, act.contract.currency)
            error.message = f"{error.field} cannot be more than the {held} held in escrow"
            error.args = (error.message,)
        raise error from None


def _refusing_ledger(exc: LedgerError) -> CareerError:
    return CareerError(f"the ledger refused the change: {exc.message}", code=exc.code)


def fund_milestone(
    milestone: Milestone,
    *,
    on: date,
    recorded_by: User | None,
    key: str = "",
    expected_version: int | None = None,
) -> Milestone:
    """The client pays the milestone's total into escrow (as the worker records it): the
    escrow is topped up by what is not reserved yet (a roll-over may have reserved part)
    and the whole total is reserved for the milestone."""
    try:
        with transaction.atomic():
            act = _begin(
                milestone,
                action=EventAction.FUND,
                on=on,
                key=key,
                expected_version=expected_version,
            )
            if isinstance(act, Milestone):
                return act
            current = rule_milestone(act.target)
            change = _run(lambda: rules.fund(current))
            top_up = current.total - current.reserved
            if top_up:
                _deposit(act, act.target, top_up)
            return _finish(
                act,
                change,
                action=EventAction.FUND,
                party=Party.CLIENT,
                recorded_by=recorded_by,
                amount=current.total,
                key=key,
            )
    except LedgerError as exc:
        raise _refusing_ledger(exc) from exc


def deliver_milestone(
    milestone: Milestone,
    *,
    on: date,
    recorded_by: User | None,
    key: str = "",
    expected_version: int | None = None,
) -> Milestone:
    """The worker delivers the work on ``on``: the client's review window starts."""
    with transaction.atomic():
        act = _begin(
            milestone, action=EventAction.DELIVER, on=on, key=key, expected_version=expected_version
        )
        if isinstance(act, Milestone):
            return act
        current = rule_milestone(act.target)
        change = _run(lambda: rules.deliver(current, act.on))
        return _finish(
            act,
            change,
            action=EventAction.DELIVER,
            party=Party.WORKER,
            recorded_by=recorded_by,
            key=key,
        )


def release_milestone(
    milestone: Milestone,
    *,
    on: date,
    recorded_by: User | None,
    amount: int | None = None,
    key: str = "",
    expected_version: int | None = None,
    automatic: bool = False,
) -> Milestone:
    """The client releases the escrow to the worker: all of it (``amount`` None), or
    ``amount`` of it with the rest rolled onto the next open milestone (or given back to
    the client when there is none). The released money is booked as the worker's income
    from the client. ``automatic`` marks Keel's release when the review window closed."""
    action = EventAction.AUTO_RELEASE if automatic else EventAction.RELEASE
    try:
        with transaction.atomic():
            act = _begin(
                milestone, action=action, on=on, key=key, expected_version=expected_version
            )
            if isinstance(act, Milestone):
                return act
            current = rule_milestone(act.target)
            following = _next_open(act)
            nxt = rule_milestone(following) if following is not None else None
            change = _run(
                lambda: rules.release(current, act.on, amount=amount, next_milestone=nxt), act
            )
            paid = change.milestone.released
            rest = _money(current.reserved - paid, act.contract.currency)
            if following is not None and change.next_milestone is not None:
                note = f"{rest} rolled to milestone {following.sequence}"
            elif change.refunded:
                note = f"{rest} returned to {act.contract.client_name}"
            else:
                note = ""
            released = _finish(
                act,
                change,
                action=action,
                party=Party.KEEL if automatic else Party.CLIENT,
                recorded_by=recorded_by,
                paid=paid,
                amount=paid,
                note=note,
                key=key,
            )
            if not automatic:
                _audit_milestone(
                    "milestone.released",
                    act,
                    recorded_by,
                    amount=paid,
                    currency=act.contract.currency,
                )
            return released
    except LedgerError as exc:
        raise _refusing_ledger(exc) from exc


def dispute_milestone(
    milestone: Milestone,
    *,
    on: date,
    reason: str,
    recorded_by: User | None,
    key: str = "",
    expected_version: int | None = None,
) -> Milestone:
    """The client disputes the milestone: the review window stops and the escrow stays
    reserved until the dispute is resolved."""
    reason = _text(reason, "reason", max_length=2000)
    with transaction.atomic():
        act = _begin(
            milestone, action=EventAction.DISPUTE, on=on, key=key, expected_version=expected_version
        )
        if isinstance(act, Milestone):
            return act
        current = rule_milestone(act.target)
        change = _run(lambda: rules.dispute(current))
        act.target.dispute_reason = reason
        disputed = _finish(
            act,
            change,
            action=EventAction.DISPUTE,
            party=Party.CLIENT,
            recorded_by=recorded_by,
            note=reason,
            key=key,
        )
        _audit_milestone("milestone.disputed", act, recorded_by)
        return disputed


def _audit_milestone(action: str, act: _Action, by: User | None, **extra: object) -> None:
    # The dispute's reason stays on the milestone: it is the client's words, not a
    # security fact.
    audit.record(
        action,
        actor=by,
        subject=f"milestone:{act.target.pk}",
        worker_id=act.contract.worker_id,
        details={
            "contract": act.contract.pk,
            "milestone": act.target.sequence,
            "on": act.on.isoformat(),
            **extra,
        },
    )


def resolve_milestone(
    milestone: Milestone,
    *,
    on: date,
    awarded: int,
    recorded_by: User | None,
    note: str = "",
    key: str = "",
    expected_version: int | None = None,
) -> Milestone:
    """End a dispute: ``awarded`` (from nothing to everything in escrow) is paid to the
    worker and booked as income; the rest goes back to the client."""
    note = _text(note, "note", max_length=2000, required=False)
    try:
        with transaction.atomic():
            act = _begin(
                milestone,
                action=EventAction.RESOLVE,
                on=on,
                key=key,
                expected_version=expected_version,
            )
            if isinstance(act, Milestone):
                return act
            current = rule_milestone(act.target)
            change = _run(lambda: rules.resolve(current, act.on, awarded), act)
            resolved = _finish(
                act,
                change,
                action=EventAction.RESOLVE,
                party=Party.CLIENT,
                recorded_by=recorded_by,
                paid=change.milestone.released,
                amount=change.milestone.released,
                note=note,
                key=key,
            )
            # It moves the escrow (to the worker, back to the client), as a release does.
            _audit_milestone(
                "milestone.resolved",
                act,
                recorded_by,
                amount=change.milestone.released,
                currency=act.contract.currency,
            )
            return resolved
    except LedgerError as exc:
        raise _refusing_ledger(exc) from exc


# ---------------------------------------------------------------------------- auto-release


@dataclass
class AutoReleaseReport:
    released: list[int]
    failures: dict[int, str]


def auto_release_due(today: date) -> AutoReleaseReport:
    """Release every delivered milestone whose review window has closed by ``today``
    (``rules.auto_release_due``): on the day the window closed, or on the milestone's last
    change when that came later. Disputed milestones are never released here. Running it
    again, or for an earlier day, releases nothing twice: a released milestone is no longer
    delivered, and the release carries the key ``auto-release``."""
    today = _check_date(today, "today")
    report = AutoReleaseReport([], {})
    candidates = (
        Milestone.objects.filter(state=MilestoneState.DELIVERED, delivered_on__lte=today)
        .select_related("contract")
        .order_by("pk")
    )
    for row in candidates:
        assert row.delivered_on is not None  # the filter above
        window = row.contract.review_window_days
        if not rules.auto_release_due(row.delivered_on, window, today):
            continue
        closes = rules.auto_release_date(row.delivered_on, window)
        last = (
            MilestoneEvent.objects.filter(milestone=row)
            .exclude(action__in=DOCUMENT_EVENTS)
            .order_by("-on")
            .values_list("on", flat=True)
            .first()
        )
        on = max(closes, last) if last is not None else closes
        try:
            release_milestone(row, on=on, recorded_by=None, key="auto-release", automatic=True)
        except CareerError as exc:
            if exc.code != "invalid_transition":
                report.failures[row.pk] = exc.message
            # else the client released or disputed it meanwhile: nothing is due any more.
            continue
        report.released.append(row.pk)
    return report


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class MilestoneView:
    """A milestone as the pages show it on a day."""

    row: Milestone
    rule: rules.Milestone
    lateness: rules.Lateness
    actions: tuple[str, ...]
    auto_release_on: date | None
    # The milestone (its sequence) the rest of a part release would roll to now; None
    # when there is none and the rest would go back to the client.
    rolls_to: int | None = None

    @property
    def late(self) -> bool:
        return self.lateness.late


@dataclass(frozen=True, slots=True)
class ContractSummary:
    contract: Contract
    milestones: tuple[MilestoneView, ...]
    exposure: rules.Exposure
    paid: int
    in_escrow: int
    value: int

    @property
    def late(self) -> tuple[MilestoneView, ...]:
        return tuple(m for m in self.milestones if m.late)

    @property
    def most_days_overdue(self) -> int:
        return max((m.lateness.days_overdue for m in self.milestones), default=0)

    @property
    def open(self) -> bool:
        return any(m.row.state in OPEN_STATES for m in self.milestones)


def _view(
    terms: rules.ContractTerms, row: Milestone, today: date, later: Sequence[Milestone]
) -> MilestoneView:
    rule = rule_milestone(row)
    auto = None
    if rule.state is rules.MilestoneState.DELIVERED and rule.delivered_on is not None:
        auto = rules.auto_release_date(rule.delivered_on, terms.review_window_days)
    # As release_milestone picks it (_next_open): the first later milestone open to it.
    rolls_to = next((m.sequence for m in later if m.state in ROLL_TARGETS), None)
    return MilestoneView(
        row=row,
        rule=rule,
        lateness=rules.lateness(rule, today, terms.payment_due),
        actions=tuple(a.value for a in rules.allowed_actions(rule.state)),
        auto_release_on=auto,
        rolls_to=rolls_to,
    )


def contract_summary(contract: Contract, today: date) -> ContractSummary:
    """What a contract stands at on ``today``: its milestones with lateness and the actions
    open to them, the client's exposure against the credit limit, what was paid and what
    is in escrow."""
    # all() uses the rows contract_summaries prefetched; sorted here, not by a new query.
    rows = sorted(contract.milestones.all(), key=lambda m: m.sequence)
    terms = terms_of(contract)
    views = tuple(_view(terms, row, today, rows[i + 1 :]) for i, row in enumerate(rows))
    rule_rows = [v.rule for v in views]
    return ContractSummary(
        contract=contract,
        milestones=views,
        exposure=rules.exposure(rule_contract(contract), rule_rows, today),
        paid=sum(r.released for r in rule_rows),
        in_escrow=sum(r.reserved for r in rule_rows),
        value=sum(r.amount for r in rule_rows),
    )


def contract_summaries(worker: User, today: date) -> list[ContractSummary]:
    contracts = Contract.objects.filter(worker=worker).prefetch_related(
        Prefetch("milestones", queryset=Milestone.objects.order_by("sequence"))
    )
    return [contract_summary(c, today) for c in contracts]


@dataclass(frozen=True, slots=True)
class ClientExposure:
    """A client's exposure across all the worker's contracts with them in one currency."""

    exposure: rules.Exposure
    contracts: tuple[Contract, ...]


def client_exposures(summaries: Sequence[ContractSummary]) -> list[ClientExposure]:
    """Each client's exposure (``rules.client_exposure``) from the contracts' summaries,
    by client (their income source) and currency, in the order first seen."""
    groups: dict[tuple[str, str], list[ContractSummary]] = {}
    for summary in summaries:
        key = (summary.contract.income_source_slug, summary.contract.currency)
        groups.setdefault(key, []).append(summary)
    return [
        ClientExposure(
            rules.client_exposure([s.exposure for s in group]),
            tuple(s.contract for s in group),
        )
        for group in groups.values()
    ]


def client_exposure_of(summary: ContractSummary, today: date) -> ClientExposure:
    """The exposure of a contract's client across every contract the worker has with them
    in its currency: ``summary`` (the contract's, already worked out) and the others."""
    contract = summary.contract
    others = (
        Contract.objects.filter(
            worker_id=contract.worker_id,
            income_source_slug=contract.income_source_slug,
            currency=contract.currency,
        )
        .exclude(pk=contract.pk)
        .prefetch_related(Prefetch("milestones", queryset=Milestone.objects.order_by("sequence")))
    )
    return client_exposures([summary, *(contract_summary(c, today) for c in others)])[0]


def release_blocked_by(contract: Contract, today: date) -> str | None:
    """Why a release of the contract's escrow would be refused today, when the reason is
    the worker's books rather than the milestone: a release is booked as income, and income
    in another currency than the worker's needs an exchange rate for the day. ``None``
    when a release could be booked."""
    worker = contract.worker
    home = worker.home_currency
    if contract.currency == home:
        return None
    try:
        income.RateBook(worker, [(contract.currency, home)], today, today).rate(
            contract.currency, home, today
        )
    except income.MissingRate as exc:
        return str(exc)
    return None


def escrow_balance(contract: Contract) -> ledger.Balance:
    """The contract's escrow account as the ledger has it."""
    return ledger.balance(escrow_code(contract))


def events_of(contract: Contract) -> list[MilestoneEvent]:
    return list(
        MilestoneEvent.objects.filter(milestone__contract=contract)
        .select_related("milestone", "recorded_by")
        .order_by("-on", "-id")
    )


# ---------------------------------------------------------------------------- invoices


def issue_invoice(
    milestone: Milestone, *, on: date, recorded_by: User | None, key: str = ""
) -> Milestone:
    """Give the milestone's invoice its number (``INV-YYYY-NNNN``, the worker's running
    number in the year of issue, never reused or skipped) and its date of issue. An invoice
    already issued keeps both."""
    on = _check_date(on)
    with transaction.atomic():
        contract = Contract.objects.select_for_update().get(pk=milestone.contract_id)
        row = Milestone.objects.select_for_update().get(pk=milestone.pk)
        if row.invoice_number:
            return row
        row.invoice_number = _next_number(contract.worker_id, INVOICE_PREFIX, on)
        row.invoice_issued_on = on
        row.contract = contract
        invoice = invoice_for(row, on)
        row.invoice_total = invoice.subtotal
        row.save(update_fields=["invoice_number", "invoice_issued_on", "invoice_total"])
        MilestoneEvent.objects.create(
            milestone=row,
            action=EventAction.INVOICE,
            party=Party.WORKER,
            recorded_by=recorded_by,
            on=on,
            amount=invoice.subtotal,
            state_before=row.state,
            state_after=row.state,
            note=row.invoice_number,
            request_key=key,
        )
        return row


def _next_number(worker_id: int, prefix: str, on: date) -> str:
    """The next number of the worker's ``prefix`` series in ``on``'s year. Must run inside
    the transaction that uses it: the counter's row stays locked until it commits, so two
    documents never get one number, and a rolled-back one gives its number back."""
    InvoiceCounter.objects.get_or_create(worker_id=worker_id, prefix=prefix, year=on.year)
    counter = InvoiceCounter.objects.select_for_update().get(
        worker_id=worker_id, prefix=prefix, year=on.year
    )
    counter.last += 1
    counter.save(update_fields=["last"])
    return rules.invoice_number(prefix, on, counter.last)


DRAFT = "DRAFT"


def invoice_adjustments(milestone: Milestone) -> list[InvoiceAdjustment]:
    """The credit notes and supplementary invoices against the milestone's invoice, in
    the order they were issued."""
    if not milestone.invoice_number:
        return []
    return list(InvoiceAdjustment.objects.filter(milestone=milestone).order_by("issued_on", "id"))


def _sums(adjustments: Iterable[InvoiceAdjustment]) -> tuple[int, int]:
    credited = supplemented = 0
    for adjustment in adjustments:
        if adjustment.kind == AdjustmentKind.CREDIT_NOTE:
            credited += adjustment.amount
        else:
            supplemented += adjustment.amount
    return credited, supplemented


def invoice_for(
    milestone: Milestone,
    today: date,
    adjustments: Sequence[InvoiceAdjustment] | None = None,
) -> rules.Invoice:
    """The milestone's invoice: numbered once issued, a draft dated today before; with
    the credit notes and supplements against it (``adjustments``, read when not given)."""
    contract = milestone.contract
    issued = bool(milestone.invoice_number)
    if adjustments is None:
        adjustments = invoice_adjustments(milestone) if issued else []
    credited, supplemented = _sums(adjustments)
    return rules.milestone_invoice(
        rule_contract(contract),
        rule_milestone(milestone),
        number=milestone.invoice_number or DRAFT,
        issued_on=milestone.invoice_issued_on or today,
        issued_total=milestone.invoice_total if issued else None,
        credited=credited,
        supplemented=supplemented,
    )


@dataclass(frozen=True, slots=True)
class InvoiceStanding:
    """An issued invoice with the credit notes and supplements against it."""

    invoice: rules.Invoice
    adjustments: tuple[InvoiceAdjustment, ...]


def invoice_standings(
    contract: Contract, milestones: Sequence[Milestone]
) -> dict[int, InvoiceStanding]:
    """The issued invoices among ``milestones`` (the contract's), by milestone id, with
    the credit notes and supplements against each, read in one query."""
    issued = [m for m in milestones if m.invoice_number and m.invoice_issued_on is not None]
    if not issued:
        return {}
    by_milestone: dict[int, list[InvoiceAdjustment]] = {m.pk: [] for m in issued}
    for adjustment in InvoiceAdjustment.objects.filter(milestone__in=issued).order_by(
        "issued_on", "id"
    ):
        by_milestone[adjustment.milestone_id].append(adjustment)
    out = {}
    for row in issued:
        assert row.invoice_issued_on is not None  # the filter above
        row.contract = contract
        adjustments = by_milestone[row.pk]
        out[row.pk] = InvoiceStanding(
            invoice_for(row, row.invoice_issued_on, adjustments), tuple(adjustments)
        )
    return out


@dataclass(frozen=True, slots=True)
class RegisterRow:
    """An issued document as the invoice register lists it, with what it belongs to."""

    entry: rules.RegisterEntry
    milestone: Milestone
    # The credit note or supplementary invoice; None for the invoice itself.
    adjustment: InvoiceAdjustment | None
    invoice_number: str

    @property
    def title(self) -> str:
        if self.adjustment is None:
            return "Invoice"
        return str(self.adjustment.get_kind_display())


def invoice_register(
    worker: User,
) -> tuple[list[RegisterRow], list[rules.RegisterTotal]]:
    """Every invoice, credit note and supplementary invoice the worker has issued, newest
    first, and what they come to per year and currency (``rules.register_totals``): the
    net of credit notes, so the invoiced figure is never overstated. Two queries."""
    rows: list[RegisterRow] = []
    issued = (
        Milestone.objects.filter(contract__worker=worker)
        .exclude(invoice_number="")
        .filter(invoice_issued_on__isnull=False)
        .select_related("contract")
    )
    for milestone in issued:
        assert milestone.invoice_issued_on is not None  # the filter above
        entry = rules.RegisterEntry(
            milestone.invoice_issued_on,
            milestone.invoice_number,
            None,
            milestone.contract.currency,
            milestone.invoice_total,
        )
        rows.append(RegisterRow(entry, milestone, None, milestone.invoice_number))
    adjustments = InvoiceAdjustment.objects.filter(worker=worker).select_related(
        "milestone__contract"
    )
    for adjustment in adjustments:
        entry = rules.RegisterEntry(
            adjustment.issued_on,
            adjustment.number,
            rules.AdjustmentKind(adjustment.kind),
            adjustment.currency,
            adjustment.signed_amount,
        )
        rows.append(RegisterRow(entry, adjustment.milestone, adjustment, adjustment.invoice_number))
    # Newest first; within a day, a credit note or supplement (the later of them first)
    # before the invoice it corrects, invoices by number.
    rows.sort(
        key=lambda r: (
            r.entry.issued_on,
            r.adjustment is not None,
            r.adjustment.pk if r.adjustment is not None else 0,
            r.entry.number,
        ),
        reverse=True,
    )
    return rows, rules.register_totals(r.entry for r in rows)


def adjustment_document(adjustment: InvoiceAdjustment) -> rules.InvoiceAdjustment:
    """What a credit note's or supplementary invoice's page and PDF show."""
    milestone = adjustment.milestone
    return rules.invoice_adjustment(
        rule_contract(milestone.contract),
        rule_milestone(milestone),
        kind=rules.AdjustmentKind(adjustment.kind),
        number=adjustment.number,
        issued_on=adjustment.issued_on,
        amount=adjustment.amount,
        reason=adjustment.reason,
        invoice_number=adjustment.invoice_number,
        invoice_issued_on=adjustment.invoice_issued_on,
        invoice_total=adjustment.invoice_total,
    )


def issue_credit_note(
    milestone: Milestone,
    *,
    amount: int,
    reason: str,
    on: date,
    recorded_by: User | None,
    key: str = "",
) -> InvoiceAdjustment:
    """Issue a credit note (``CN-YYYY-NNNN``, the worker's own running number for credit
    notes in the year of issue, never reused or skipped) that takes ``amount`` off the
    milestone's issued invoice, for ``reason``. At most what the invoice still asks for
    (its issued total less earlier credit notes, plus supplements) can be credited."""
    return _issue_adjustment(
        milestone,
        kind=AdjustmentKind.CREDIT_NOTE,
        amount=amount,
        reason=reason,
        on=on,
        recorded_by=recorded_by,
        key=key,
    )


def issue_supplement(
    milestone: Milestone,
    *,
    amount: int,
    reason: str,
    on: date,
    recorded_by: User | None,
    key: str = "",
) -> InvoiceAdjustment:
    """Issue a supplementary invoice (the next ``INV-YYYY-NNNN`` number) that asks for
    ``amount`` in addition to the milestone's issued invoice: at most what the milestone
    has grown beyond what was invoiced (a roll-over onto it after issue)."""
    return _issue_adjustment(
        milestone,
        kind=AdjustmentKind.SUPPLEMENT,
        amount=amount,
        reason=reason,
        on=on,
        recorded_by=recorded_by,
        key=key,
    )


def _issue_adjustment(
    milestone: Milestone,
    *,
    kind: AdjustmentKind,
    amount: int,
    reason: str,
    on: date,
    recorded_by: User | None,
    key: str,
) -> InvoiceAdjustment:
    on = _check_date(on)
    reason = _text(reason, "reason", max_length=500)
    rule_kind = rules.AdjustmentKind(kind)
    with transaction.atomic():
        contract = Contract.objects.select_for_update().get(pk=milestone.contract_id)
        row = Milestone.objects.select_for_update().get(pk=milestone.pk)
        row.contract = contract
        if key:
            replay = InvoiceAdjustment.objects.filter(milestone=row, request_key=key).first()
            if replay is not None:
                if replay.kind != kind:
                    raise Conflict(
                        f"this request already issued {replay.get_kind_display().lower()}"
                        f" {replay.number}; nothing else was done",
                        field="key",
                    )
                return replay
        if not row.invoice_number or row.invoice_issued_on is None:
            raise CareerError(
                f"milestone {row.sequence}'s invoice is not issued yet: issue it first, for"
                " what the milestone comes to now",
                field="invoice",
                code="not_issued",
            )
        if on < row.invoice_issued_on:
            raise CareerError(
                f"on ({on.isoformat()}) cannot be before invoice {row.invoice_number} was"
                f" issued on {row.invoice_issued_on.isoformat()}",
                field="on",
                code="out_of_order",
            )
        invoice = invoice_for(row, on)
        try:
            amount = rules.check_adjustment(invoice, rule_kind, amount)
        except ContractError as exc:
            raise _error(exc) from None
        assert row.invoice_total is not None  # check_adjustment refuses an invoice without
        prefix = CREDIT_NOTE_PREFIX if kind == AdjustmentKind.CREDIT_NOTE else INVOICE_PREFIX
        adjustment = InvoiceAdjustment.objects.create(
            worker_id=contract.worker_id,
            milestone=row,
            kind=kind,
            number=_next_number(contract.worker_id, prefix, on),
            issued_on=on,
            amount=amount,
            currency=contract.currency,
            reason=reason,
            invoice_number=row.invoice_number,
            invoice_issued_on=row.invoice_issued_on,
            invoice_total=row.invoice_total,
            recorded_by=recorded_by,
            request_key=key,
        )
        event = (
            EventAction.CREDIT_NOTE
            if kind == AdjustmentKind.CREDIT_NOTE
            else (EventAction.SUPPLEMENT)
        )
        MilestoneEvent.objects.create(
            milestone=row,
            action=event,
            party=Party.WORKER,
            recorded_by=recorded_by,
            on=on,
            amount=adjustment.signed_amount,
            state_before=row.state,
            state_after=row.state,
            note=f"{adjustment.number} against {row.invoice_number}: {reason}"[:2000],
        )
        audit.record(
            "invoice.credit_note_issued"
            if kind == AdjustmentKind.CREDIT_NOTE
            else "invoice.supplement_issued",
            actor=recorded_by,
            subject=f"milestone:{row.pk}",
            worker_id=contract.worker_id,
            details={
                "contract": contract.pk,
                "milestone": row.sequence,
                "invoice": row.invoice_number,
                "number": adjustment.number,
                "amount": adjustment.signed_amount,
                "currency": contract.currency,
                "on": on.isoformat(),
            },
        )
        return adjustment


# ---------------------------------------------------------------------------- forecast


def milestone_commitments(worker: User, start: date, end: date) -> list[Commitment]:
    """Unpaid milestones the income forecast can count on from ``start`` to ``end``
    (``rules.scheduled_income``: delivered work on the earlier of its auto-release and due
    dates, planned and funded work on its contract date, overdue work today, disputed work
    not at all), under the key of the client's income source, so the payment that settles
    one is recognised. Contracts in another currency than the worker's home currency are
    left out: a future payment has no exchange rate yet."""
    if end < start:
        return []
    contracts = (
        Contract.objects.filter(
            worker=worker,
            currency=worker.home_currency,
            milestones__state__in=[
                MilestoneState.PLANNED,
                MilestoneState.FUNDED,
                MilestoneState.DELIVERED,
            ],
        )
        .distinct()
        .prefetch_related(Prefetch("milestones", queryset=Milestone.objects.order_by("sequence")))
    )
    horizon = (end - start).days + 1
    out: list[Commitment] = []
    for contract in contracts:
        items = rules.scheduled_income(
            rule_contract(contract),
            [rule_milestone(m) for m in contract.milestones.all()],
            start,
            horizon_days=horizon,
        )
        out += [
            Commitment(
                item.expected_on,
                item.amount,
                contract.income_source_slug,
                item.description,
                kind="milestone",
            )
            for item in items
            if item.amount > 0
        ]
    return out
