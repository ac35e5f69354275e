"""The client's link to a contract: a signed link the worker sends the client, who opens it
without an account to see the milestones and release the escrow early, in full or in part
(the rest rolls to the next milestone), or dispute a milestone; and to download the
milestones' issued invoices and the credit notes and supplementary invoices against them.

The token is ``rules.reputation.issue_token`` signed with a key of its own
(``sha256(b"keel.client-links:" + SECRET_KEY)``), so a testimonial link can never open a
contract and the reverse. It names the contract and the client's email; the contract keeps
only its digest, so issuing a new link (or revoking it) stops the old one at once. Every
action goes through the contract services with ``recorded_by=None``: the milestone's
history shows the client did it. A document is looked up within the link's own contract
only, and only once issued: another contract's id, or a draft, is not there for the link.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import invoices, services
from .errors import CareerError
from .models import Contract, InvoiceAdjustment, Milestone
from .rules import reputation as tokens

VALIDITY = timedelta(days=90)
# What the client may do on the link; funding, delivery and resolving stay the worker's.
CLIENT_ACTIONS = ("release", "dispute")
# Which refusals are 400 (not one of ours) and which 410 (it was, and is gone).
GONE = frozenset({"expired"})


def _secret() -> bytes:
    return hashlib.sha256(b"keel.client-links:" + settings.SECRET_KEY.encode()).digest()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def issue_link(
    contract: Contract, *, now: datetime | None = None, validity: timedelta = VALIDITY
) -> str:
    """A new link for the contract's client (shown once, never stored); any earlier link
    stops working. Refused when the contract has no client email to sign it to."""
    now = now or timezone.now()
    with transaction.atomic():
        row = Contract.objects.select_for_update().get(pk=contract.pk)
        if not row.client_email:
            raise CareerError(
                "client_email: add the client's email to the contract to send them a link",
                field="client_email",
                code="required",
            )
        expires = (now + validity).replace(microsecond=0)
        previous = row.client_link_expires_at
        if previous is not None and expires <= previous:
            # Tokens are deterministic: the same expiry would sign the same link again.
            expires = previous + timedelta(seconds=1)
        token = tokens.issue_token(_secret(), row.pk, row.client_email, expires)
        row.client_link_digest = _digest(token)
        row.client_link_expires_at = expires
        row.save(update_fields=["client_link_digest", "client_link_expires_at"])
    contract.client_link_digest = row.client_link_digest
    contract.client_link_expires_at = row.client_link_expires_at
    return token


def revoke_link(contract: Contract) -> None:
    """The client's link stops working (the expiry is kept, so a new link differs)."""
    Contract.objects.filter(pk=contract.pk).update(client_link_digest="")
    contract.client_link_digest = ""


def open_link(token: str, now: datetime | None = None) -> Contract:
    """The contract a link is for, or the ``TokenError`` refusing it: forged or malformed,
    expired, or not (or no longer) this contract's link."""
    claims = tokens.verify_token(_secret(), token, now or timezone.now())
    row = (
        Contract.objects.select_related("worker").filter(pk=int(claims.request_id)).first()
        if claims.request_id.isdigit()
        else None
    )
    if (
        row is None
        or not row.client_link_digest
        or not hmac.compare_digest(row.client_link_digest, _digest(token))
        or row.client_email != claims.client_email
    ):
        raise tokens.WrongRequest("the link is not, or no longer, the link of this contract")
    return row


def _milestone(contract: Contract, milestone_id: int) -> Milestone:
    milestone = contract.milestones.filter(pk=milestone_id).first()
    if milestone is None:
        raise CareerError("milestone: not a milestone of this contract", field="milestone")
    milestone.contract = contract
    return milestone


def client_release(
    token: str,
    milestone_id: int,
    *,
    amount: int | None,
    expected_version: int,
    key: str = "",
    today: date | None = None,
) -> Milestone:
    """The client releases a milestone's escrow, all of it or ``amount`` (the rest rolls to
    the next milestone), today."""
    contract = open_link(token)
    return services.release_milestone(
        _milestone(contract, milestone_id),
        on=today or timezone.localdate(),
        recorded_by=None,
        amount=amount,
        key=key,
        expected_version=expected_version,
    )


def client_dispute(
    token: str,
    milestone_id: int,
    *,
    reason: str,
    expected_version: int,
    key: str = "",
    today: date | None = None,
) -> Milestone:
    """The client disputes a milestone today: its review window stops and the escrow stays
    until the worker and the client resolve it."""
    contract = open_link(token)
    return services.dispute_milestone(
        _milestone(contract, milestone_id),
        on=today or timezone.localdate(),
        reason=reason,
        recorded_by=None,
        key=key,
        expected_version=expected_version,
    )


def client_invoice(token: str, milestone_id: int) -> invoices.InvoiceDocument:
    """The issued invoice of one of the link's contract's milestones, for its PDF. Refused
    (``not_found``) for a milestone of another contract and for an invoice not yet issued:
    a draft can still change, so the client never holds one."""
    contract = open_link(token)
    milestone = contract.milestones.filter(pk=milestone_id).exclude(invoice_number="").first()
    if milestone is None or milestone.invoice_issued_on is None:
        raise CareerError(
            "milestone: no issued invoice of this contract", field="milestone", code="not_found"
        )
    milestone.contract = contract
    # An issued invoice is dated by its issue, so "today" only names the draft it is not.
    return invoices.invoice_document(milestone, milestone.invoice_issued_on)


def client_adjustment(token: str, adjustment_id: int) -> invoices.AdjustmentDocument:
    """A credit note or supplementary invoice against one of the link's contract's
    invoices, for its PDF; ``not_found`` for any other contract's."""
    contract = open_link(token)
    row = (
        InvoiceAdjustment.objects.select_related("milestone")
        .filter(pk=adjustment_id, milestone__contract=contract)
        .first()
    )
    if row is None:
        raise CareerError(
            "document: no credit note or supplementary invoice of this contract",
            field="document",
            code="not_found",
        )
    row.milestone.contract = contract
    return invoices.adjustment_document(row)
