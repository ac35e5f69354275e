"""Links between a platform's worker references and Keel workers, made only with the
worker's consent: an invitation the worker accepts in Keel, or a one-time code the worker
gives the platform. Accepting releases whatever the platform's suspense account held for
that reference into the worker's buckets."""

from __future__ import annotations

import hashlib
import secrets
from collections import defaultdict
from datetime import timedelta

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from keel.accounts.models import User
from keel.ledger import services as ledger
from keel.ledger.rules import JournalSpec, LegSpec

from ..errors import Conflict, GatewayError, NotFound
from ..models import (
    EarningsEvent,
    EventCorrection,
    EventStatus,
    LinkCode,
    LinkStatus,
    Platform,
    WorkerLink,
)
from .benefits import allocation_of, benefits_account, credit_legs, open_buckets
from .platforms import suspense_code

LINK_CODE_LIFETIME = timedelta(hours=24)
# Unambiguous letters and digits (no 0/O, 1/I/L): a code is read out and typed by people.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 12
MAX_REF_LENGTH = 120


def _clean_ref(worker_ref: str) -> str:
    ref = (worker_ref or "").strip()
    if not ref:
        raise GatewayError("the platform's worker reference is empty", field="worker_ref")
    if len(ref) > MAX_REF_LENGTH:
        raise GatewayError(
            f"a worker reference has at most {MAX_REF_LENGTH} characters", field="worker_ref"
        )
    return ref


def _hash_code(code: str) -> str:
    normalised = code.replace("-", "").replace(" ", "").upper()
    return hashlib.sha256(normalised.encode()).hexdigest()


def create_link_code(worker: User) -> str:
    """A one-time code, shown once, valid for a day. Handing it to a platform is the
    worker's consent to that platform linking them."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
    LinkCode.objects.create(
        worker=worker,
        code_hash=_hash_code(raw),
        expires_at=timezone.now() + LINK_CODE_LIFETIME,
    )
    return "-".join(raw[i : i + 4] for i in range(0, _CODE_LENGTH, 4))


@transaction.atomic
def invite(
    platform: Platform, worker_ref: str, email: str, *, worker_status: str = ""
) -> WorkerLink:
    """Invite the Keel worker with this email to link. Inviting again refreshes the
    invitation; a reference that is already linked stays linked."""
    ref = _clean_ref(worker_ref)
    email = (email or "").strip().lower()
    if "@" not in email:
        raise GatewayError("an invitation needs the worker's email address", field="email")
    link, created = WorkerLink.objects.select_for_update().get_or_create(
        platform=platform,
        worker_ref=ref,
        defaults={"invited_email": email, "worker_status": worker_status[:40]},
    )
    if not created:
        if link.status == LinkStatus.ACTIVE:
            raise Conflict(
                f"{ref} is already linked to a Keel worker", field="worker_ref", code="linked"
            )
        link.status = LinkStatus.INVITED
        link.invited_email = email
        link.invited_at = timezone.now()
        if worker_status:
            link.worker_status = worker_status[:40]
        link.save()
    return link


def invitations_for(worker: User) -> list[WorkerLink]:
    return list(
        WorkerLink.objects.filter(
            invited_email__iexact=worker.email, status=LinkStatus.INVITED
        ).select_related("platform")
    )


@transaction.atomic
def accept_invitation(worker: User, link_id: int) -> WorkerLink:
    link = (
        WorkerLink.objects.select_for_update()
        .filter(pk=link_id, invited_email__iexact=worker.email, status=LinkStatus.INVITED)
        .select_related("platform")
        .first()
    )
    if link is None:
        raise NotFound(f"no open invitation with id {link_id}", field="id")
    return _activate(link, worker)


@transaction.atomic
def decline_invitation(worker: User, link_id: int) -> WorkerLink:
    link = (
        WorkerLink.objects.select_for_update()
        .filter(pk=link_id, invited_email__iexact=worker.email, status=LinkStatus.INVITED)
        .first()
    )
    if link is None:
        raise NotFound(f"no open invitation with id {link_id}", field="id")
    link.status = LinkStatus.DECLINED
    link.save(update_fields=["status"])
    return link


@transaction.atomic
def link_with_code(
    platform: Platform, worker_ref: str, code: str, *, worker_status: str = ""
) -> WorkerLink:
    """The platform presents the code the worker gave it; the code is used up."""
    ref = _clean_ref(worker_ref)
    now = timezone.now()
    link_code = (
        LinkCode.objects.select_for_update()
        .filter(code_hash=_hash_code(code or ""), used_at__isnull=True, expires_at__gt=now)
        .select_related("worker")
        .first()
    )
    if link_code is None:
        # One answer for unknown, used and expired codes: the code is not usable.
        raise GatewayError(
            "the link code is not valid: it may be mistyped, used or expired (codes last"
            " 24 hours); ask the worker for a new one",
            field="link_code",
            code="invalid_link_code",
        )
    link, _ = WorkerLink.objects.select_for_update().get_or_create(
        platform=platform, worker_ref=ref, defaults={"invited_email": link_code.worker.email}
    )
    if link.status == LinkStatus.ACTIVE and link.worker_id != link_code.worker_id:
        raise Conflict(
            f"{ref} is already linked to another Keel worker", field="worker_ref", code="linked"
        )
    if worker_status:
        link.worker_status = worker_status[:40]
    link_code.used_at = now
    link_code.used_by = platform
    link_code.save(update_fields=["used_at", "used_by"])
    return _activate(link, link_code.worker)


def _activate(link: WorkerLink, worker: User) -> WorkerLink:
    if link.status == LinkStatus.ACTIVE and link.worker_id == worker.pk:
        return link
    link.worker = worker
    link.status = LinkStatus.ACTIVE
    link.linked_at = timezone.now()
    link.ended_at = None
    link.save()
    # Open the account and its buckets in the platform's currency now, so the worker sees
    # them at once and earnings batches never pay for opening accounts.
    benefits_account(worker)
    open_buckets(worker, link.platform.currency)
    release_suspense(link)
    # The reference's earlier events that brought no contribution (below a threshold) are
    # the worker's work too: their statement lists every event, and a back-dated
    # contribution says what it was 4% of, which only adds up with them.
    EarningsEvent.objects.filter(
        platform=link.platform,
        worker_ref=link.worker_ref,
        status=EventStatus.NONE,
        worker__isnull=True,
    ).update(worker=worker)
    return link


def release_suspense(link: WorkerLink) -> int:
    """Move everything held for this reference into the linked worker's buckets, one
    journal per currency, split by the worker's allocation today. Returns the amount.
    What corrections of the reference's events added to or took from suspense is released
    with them."""
    worker = link.worker
    if worker is None:
        return 0
    held = EarningsEvent.objects.select_for_update().filter(
        platform=link.platform, worker_ref=link.worker_ref, status=EventStatus.SUSPENSE
    )
    corrected = EventCorrection.objects.select_for_update(of=("self",)).filter(
        platform=link.platform, event__worker_ref=link.worker_ref, status=EventStatus.SUSPENSE
    )
    totals: dict[str, int] = defaultdict(int)
    ids: dict[str, list[int]] = defaultdict(list)
    correction_ids: dict[str, list[int]] = defaultdict(list)
    for event_pk, currency, amount in held.values_list("pk", "currency", "contribution"):
        totals[currency] += amount
        ids[currency].append(event_pk)
    for correction_pk, currency, amount in corrected.values_list("pk", "event__currency", "booked"):
        totals[currency] += amount
        correction_ids[currency].append(correction_pk)
    if not totals:
        return 0
    benefits_account(worker)
    allocation = allocation_of(worker)
    released = 0
    for currency, amount in sorted(totals.items()):
        journal_id: int | None = None
        if amount > 0:
            open_buckets(worker, currency)
            key = f"gateway:release:{link.platform_id}:{link.pk}:{currency}"
            if ids[currency]:
                first, last = min(ids[currency]), max(ids[currency])
                key += f":{first}-{last}:{len(ids[currency])}"
            if correction_ids[currency]:
                key += f":c{min(correction_ids[currency])}-{max(correction_ids[currency])}"
                key += f":{len(correction_ids[currency])}"
            posted = ledger.post_journal(
                JournalSpec(
                    idempotency_key=key,
                    kind="contribution_release",
                    effective_date=timezone.localdate(),
                    legs=(
                        LegSpec(suspense_code(link.platform_id, currency), amount, currency),
                        *credit_legs(worker, amount, currency, allocation),
                    ),
                    memo=(
                        f"Released from {link.platform.name} suspense on linking {link.worker_ref}"
                    ),
                    metadata={"platform": link.platform_id, "worker_ref": link.worker_ref},
                )
            )
            journal_id = posted.id
        # Corrections that took everything back leave nothing to move; the events still
        # become the worker's, so later corrections follow them to the worker's buckets.
        EarningsEvent.objects.filter(pk__in=ids[currency]).update(
            status=EventStatus.RELEASED, worker=worker, released_journal_id=journal_id
        )
        EventCorrection.objects.filter(pk__in=correction_ids[currency]).update(
            status=EventStatus.RELEASED, worker=worker, released_journal_id=journal_id
        )
        released += amount
    return released


@transaction.atomic
def end_link(link: WorkerLink) -> WorkerLink:
    """Either side may end a link. The worker keeps the account and its history; events
    for the reference after this are held in suspense again."""
    if link.status != LinkStatus.ACTIVE:
        raise GatewayError("only an active link can be ended", field="status")
    link.status = LinkStatus.ENDED
    link.ended_at = timezone.now()
    link.save(update_fields=["status", "ended_at"])
    return link


def worker_link(worker: User, link_id: int) -> WorkerLink:
    link = WorkerLink.objects.filter(pk=link_id, worker=worker).select_related("platform").first()
    if link is None:
        raise NotFound(f"no link with id {link_id}", field="id")
    return link


def platform_link(platform: Platform, worker_ref: str) -> WorkerLink:
    link = WorkerLink.objects.filter(platform=platform, worker_ref=worker_ref).first()
    if link is None:
        raise NotFound(f"no worker reference {worker_ref!r}", field="worker_ref")
    return link


def active_links(worker: User) -> list[WorkerLink]:
    return list(
        WorkerLink.objects.filter(worker=worker, status=LinkStatus.ACTIVE).select_related(
            "platform"
        )
    )


def links_of(worker: User) -> list[WorkerLink]:
    """Every platform the worker is or was linked to."""
    return list(
        WorkerLink.objects.filter(worker=worker)
        .exclude(status=LinkStatus.INVITED)
        .select_related("platform")
        .order_by("platform__name")
    )


def platform_links(platform: Platform) -> list[WorkerLink]:
    return list(
        WorkerLink.objects.filter(platform=platform).select_related("worker").order_by("worker_ref")
    )


def suspense_by_ref(platform: Platform) -> list[dict[str, object]]:
    """Unclaimed contributions per worker reference, largest first, for the console; with
    what corrections of those events added to or took from suspense."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for ref, currency, total in (
        EarningsEvent.objects.filter(platform=platform, status=EventStatus.SUSPENSE)
        .values_list("worker_ref", "currency")
        .annotate(total=Sum("contribution"))
        .values_list("worker_ref", "currency", "total")
    ):
        totals[(ref, currency)] += int(total or 0)
    for ref, currency, total in (
        EventCorrection.objects.filter(platform=platform, status=EventStatus.SUSPENSE)
        .values_list("event__worker_ref", "event__currency")
        .annotate(total=Sum("booked"))
        .values_list("event__worker_ref", "event__currency", "total")
    ):
        totals[(ref, currency)] += int(total or 0)
    held = sorted(
        ((ref, currency, total) for (ref, currency), total in totals.items() if total),
        key=lambda row: (-row[2], row[0]),
    )
    return [
        {"worker_ref": ref, "currency": currency, "total": total} for ref, currency, total in held
    ]


def pending_link_refs(platform: Platform) -> set[str]:
    return set(
        WorkerLink.objects.filter(platform=platform)
        .filter(~Q(status=LinkStatus.ACTIVE))
        .values_list("worker_ref", flat=True)
    )
