"""Closing a worker's account: the person goes, their books stay.

Closing is refused, with each reason and what to do first, while Keel holds money that is
the worker's and not yet paid out (``blockers``):

- a benefits bucket with a balance (use or withdraw it from the benefits page);
- an active membership of a sick-leave fund whose reserve holds money (leave the pool,
  which pays the reserve out);
- escrow on one of their client contracts (release or refund it);

and while something else would be left half-done: a pool that would lose its last
steward, or an application to a pool that its members are still voting on.

Otherwise, in one transaction:

- Relationships end through each domain's own services, exactly as if the worker had ended
  them one by one: every active pool membership is left (``keel.pools.services.leave``;
  with an empty reserve no journal is posted and open claims close), every active platform
  link is ended (later earnings for the reference wait in the platform's suspense account,
  as for any ended link) and open link invitations declined, elective withholding stops,
  benefit plan enrollments end today, active peer-group memberships are left and
  invitations declined. Pool *invitations* the worker never answered stay as they are (the
  invited person can no longer accept them).
- What would still reach the person is cut off: unused platform link codes and unused
  testimonial links expire now, clients' contract links stop working, the steady salary
  stops (so no scheduled job posts to the closed books), anonymised peer figures stop
  using their work.
- The export files the person uploaded for imports are deleted (their rows stay booked).
- Personal data is erased or replaced: the name becomes "Closed account #<id>", the email
  a unique address under the reserved ``.invalid`` domain (RFC 2606, never deliverable),
  the password unusable, roles and staff rights removed, the public profile and its handle
  deleted, every API key revoked, every two-factor device deleted and every session ended.
  The person can no longer log in (the account is inactive, too).

What stays: every ledger account, journal and leg, untouched, so every other party's books
(a platform's clearing, a pool's fund, Keel's custody) still balance and ``keel ledger
verify`` passes; and the domain rows that index those journals (income entries, deposits,
claims and gifts, benefit uses, contracts). Pools keep showing the member by pseudonym
("Member 3"; to fellow members "Closed account #<id> (Member 3)"). The security audit log
keeps its past events as written, the email address the person had then included: the
database refuses any change to it (keel.audit), and the closing page says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.apps import apps
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.db import transaction
from django.utils import timezone

from keel.api import services as api_keys
from keel.api.models import ApiKey
from keel.career import peer_services, skills_services
from keel.career import services as career
from keel.career.models import Contract, PeerMembership, PeerStatus, Profile, TestimonialRequest
from keel.gateway import services as gateway
from keel.gateway.models import Enrollment, LinkCode
from keel.income import services as income
from keel.income.models import IncomeSettings
from keel.ledger.models import Account
from keel.ledger.rules import natural_balance
from keel.money import format_amount
from keel.pools import services as pools
from keel.pools.models import MemberRole, Membership, MemberStatus, PoolKind

from .models import User

# What the person types to show they mean it.
CONFIRMATION = "close my account"


class ClosingError(ValueError):
    """A request to close that is not accepted as it stands; ``field`` names the form
    field the message belongs to."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Blocker:
    """Why the account cannot close yet, and what the person does first."""

    reason: str
    first: str


class ClosingRefused(ClosingError):
    def __init__(self, found: list[Blocker]) -> None:
        super().__init__(
            "Your account cannot be closed yet: " + "; ".join(b.reason for b in found) + "."
        )
        self.blockers = tuple(found)


def closed_name(user_id: int) -> str:
    return f"Closed account #{user_id}"


def closed_email(user_id: int) -> str:
    # Unique per account (the email column is unique) and undeliverable by definition.
    return f"closed-account-{user_id}@closed.invalid"


def _money(amount: int, currency: str) -> str:
    return format_amount(amount, currency, symbol=True)


# ---------------------------------------------------------------------------- blockers


def _bucket_blockers(worker: User) -> list[Blocker]:
    found = []
    buckets = Account.objects.filter(
        owner_type="worker", owner_id=worker.pk, code__startswith=f"worker:{worker.pk}:benefits:"
    ).order_by("code")
    for account in buckets:
        held = natural_balance(account.kind, account.posted_debits, account.posted_credits)
        pending = account.pending_debits or account.pending_credits
        if held or pending:
            found.append(
                Blocker(
                    f"your benefits account {account.name or account.code} holds"
                    f" {_money(held, account.currency)}",
                    "Use or withdraw it on your benefits page.",
                )
            )
    return found


def _pool_blockers(worker: User) -> list[Blocker]:
    found = []
    memberships = (
        Membership.objects.filter(
            user=worker, status__in=(MemberStatus.ACTIVE, MemberStatus.APPLIED)
        )
        .select_related("pool")
        .order_by("pool__name", "pk")
    )
    for membership in memberships:
        pool = membership.pool
        if membership.status == MemberStatus.APPLIED:
            found.append(
                Blocker(
                    f"your application to {pool.name} is waiting for the members' vote",
                    f"Wait for the vote on your application to {pool.name} to close.",
                )
            )
            continue
        if pool.kind == PoolKind.SICK_LEAVE:
            reserve = pools.reserves(pool).get(membership.number, 0)
            if reserve:
                found.append(
                    Blocker(
                        f"your reserve in {pool.name} holds {_money(reserve, pool.currency)}",
                        f"Leave {pool.name} on its page: you take your reserve with you.",
                    )
                )
        if membership.role == MemberRole.STEWARD:
            others = pool.memberships.filter(status=MemberStatus.ACTIVE).exclude(pk=membership.pk)
            if others.exists() and not others.filter(role=MemberRole.STEWARD).exists():
                found.append(
                    Blocker(
                        f"you are the only steward of {pool.name}",
                        f"Make another member of {pool.name} a steward.",
                    )
                )
    return found


def _escrow_blockers(worker: User) -> list[Blocker]:
    found = []
    for contract in Contract.objects.filter(worker=worker).order_by("created_at", "pk"):
        account = Account.objects.filter(
            owner_type="worker", owner_id=worker.pk, code=career.escrow_code(contract)
        ).first()
        if account is None:
            continue
        held = natural_balance(account.kind, account.posted_debits, account.posted_credits)
        if held:
            found.append(
                Blocker(
                    f"the escrow of your contract {contract.title!r} with {contract.client_name}"
                    f" holds {_money(held, contract.currency)}",
                    f"Release the funded milestones of {contract.title!r} (or settle them)"
                    " so the escrow is empty.",
                )
            )
    return found


def blockers(worker: User) -> list[Blocker]:
    """Everything that stops the account from closing now (empty when it may close)."""
    return [*_bucket_blockers(worker), *_pool_blockers(worker), *_escrow_blockers(worker)]


# ---------------------------------------------------------------------------- closing


def close_account(
    worker: User, *, password: str, confirmation: str, today: date | None = None
) -> User:
    """Close the account (module docstring). Refused with ``ClosingError`` (wrong password
    or confirmation) or ``ClosingRefused`` (with its blockers); a refusal changes nothing."""
    if not password or not worker.check_password(password):
        raise ClosingError("That is not your password.", field="password")
    if " ".join(confirmation.split()).lower() != CONFIRMATION:
        raise ClosingError(f"Type {CONFIRMATION!r} to confirm.", field="confirmation")
    today = today or timezone.localdate()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=worker.pk)
        if not user.is_active:
            raise ClosingError("This account is closed already.")
        found = blockers(user)
        if found:
            raise ClosingRefused(found)
        _end_relationships(user, today)
        _erase(user)
        _end_sessions(user.pk)
    return user


def _end_relationships(user: User, today: date) -> None:
    for membership in Membership.objects.filter(user=user, status=MemberStatus.ACTIVE):
        pools.leave(membership, today=today)
    for link in gateway.invitations_for(user):
        gateway.decline_invitation(user, link.pk)
    for link in gateway.active_links(user):
        gateway.end_link(link)
    gateway.stop_withholding(user)
    for enrollment in Enrollment.objects.filter(worker=user, ended_on__isnull=True):
        gateway.leave(user, enrollment, on=max(today, enrollment.started_on))
    for peer in PeerMembership.objects.filter(worker=user).select_related("group"):
        if peer.status == PeerStatus.ACTIVE:
            peer_services.leave(peer.group, user)
        elif peer.status == PeerStatus.INVITED:
            peer_services.respond(user, peer.pk, accept=False)
    if skills_services.is_sharing(user):
        skills_services.set_sharing(user, False)
    now = timezone.now()
    # Neither has a service of its own: a code or a testimonial link is only ever used by
    # someone else, and closing is the one time Keel withdraws them.
    LinkCode.objects.filter(worker=user, used_at__isnull=True, expires_at__gt=now).update(
        expires_at=now
    )
    TestimonialRequest.objects.filter(worker=user, used_at__isnull=True, expires_at__gt=now).update(
        expires_at=now
    )
    # Clients' contract links (keel.career.client_links) stop opening the contracts.
    Contract.objects.filter(worker=user).exclude(client_link_digest="").update(
        client_link_digest=""
    )
    IncomeSettings.objects.filter(worker=user).update(salary=0)


def _erase(user: User) -> None:
    Profile.objects.filter(worker=user).delete()
    income.discard_import_files(user)
    for key in ApiKey.objects.filter(user=user, revoked_at__isnull=True):
        api_keys.revoke_key(user, key.pk)
    _delete_devices(user)
    user.name = closed_name(user.pk)
    user.email = closed_email(user.pk)
    user.set_unusable_password()
    user.is_active = False
    user.is_staff = False
    user.is_superuser = False
    user.last_login = None
    # two_factor_enabled is not written here: deleting the devices above updated it.
    user.save(
        update_fields=[
            "name",
            "email",
            "password",
            "is_active",
            "is_staff",
            "is_superuser",
            "last_login",
        ]
    )
    user.groups.clear()
    user.user_permissions.clear()


def _delete_devices(user: User) -> None:
    if not apps.is_installed("django_otp"):
        return
    from django_otp import devices_for_user

    for device in list(devices_for_user(user, confirmed=None)):
        device.delete()


def _end_sessions(user_id: int) -> None:
    """Delete every stored session of the person. Sessions in a store that cannot be
    listed (signed cookies) end on their next request all the same: the user is inactive
    and their password hash changed, which Django checks on every request."""
    if settings.SESSION_ENGINE not in (
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cached_db",
    ):
        return
    from django.contrib.sessions.models import Session

    mine = [
        session.session_key
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if session.get_decoded().get(SESSION_KEY) == str(user_id)
    ]
    if settings.SESSION_ENGINE.endswith("cached_db"):
        from django.contrib.sessions.backends.cached_db import SessionStore

        for key in mine:
            SessionStore(session_key=key).delete()
    Session.objects.filter(session_key__in=mine).delete()
