"""Peer groups and their referral board.

Groups
    Any worker can start a group (and is its first active member). An active member
    invites another Keel worker by email; the invitation is a membership in ``invited``
    until that worker accepts (``active``) or declines (``left``). A member may leave; a
    member who left can be invited again. Only active members see a group: to anyone else
    it does not exist (the pages answer 404). Members see each other's public profiles (a
    link to /p/<handle>/, only when the profile is public) and the public pools each member
    is active in (``keel.pools.services.public_pools_of``).

Referrals
    An active member offers a gig to another active member (``offered``); the receiver
    accepts or declines it; either of the two marks an accepted gig done. A referral may
    carry a fee that the member who got the gig (the payer) owes the member who passed it
    on (the referrer).

The referral fee journal
    Paying the fee posts one ledger journal, kind ``referral_fee``, idempotency key
    ``career:referral:<id>:fee``, with four legs in the fee's currency (positive debits):

    * ``worker:<payer>:expenses:referral-fees``   +fee  (the payer's expense)
    * ``worker:<payer>:cash``                     -fee  (the payer's cash goes out)
    * ``worker:<referrer>:cash``                  +fee  (the referrer's cash comes in)
    * ``worker:<referrer>:income:referral-fees``  -fee  (the referrer's income)

    Each code takes the suffix ``:<currency>`` when the fee's currency is not that worker's
    home currency (as ``income.cash_code`` and the gateway's ``bucket_code`` do), and the
    accounts are opened first. Only the payer records the payment, and only for an accepted
    or done referral; the referral row is locked meanwhile, so paying twice posts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from keel.accounts import mail
from keel.accounts.models import Role, User
from keel.income.services import cash_code
from keel.ledger import services as ledger
from keel.ledger.rules import MAX_LEG_AMOUNT, JournalSpec, LegSpec
from keel.money import MoneyError, format_amount, get_currency
from keel.pools import services as pools

from .errors import CareerError, Conflict
from .models import (
    PeerEmailInvitation,
    PeerGroup,
    PeerMembership,
    PeerStatus,
    Profile,
    Referral,
    ReferralStatus,
)


def _text(value: object, field: str, *, max_length: int, required: bool = False) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise CareerError(f"{field}: must not be empty", field=field, code="required")
    if len(text) > max_length:
        raise CareerError(f"{field}: at most {max_length} characters", field=field, code="too_long")
    return text


# ---------------------------------------------------------------------------- groups


def start_group(worker: User, *, name: str, key: str = "") -> PeerGroup:
    """A new group with its starter as the first active member."""
    if key:
        existing = PeerGroup.objects.filter(created_by=worker, request_key=key).first()
        if existing is not None:
            return existing
    checked = _text(name, "name", max_length=120, required=True)
    with transaction.atomic():
        group = PeerGroup.objects.create(name=checked, created_by=worker, request_key=key)
        PeerMembership.objects.create(group=group, worker=worker, status=PeerStatus.ACTIVE)
    return group


def is_member(group: PeerGroup, worker: User) -> bool:
    return PeerMembership.objects.filter(
        group=group, worker=worker, status=PeerStatus.ACTIVE
    ).exists()


def group_of(worker: User, group_id: int) -> PeerGroup | None:
    """The group if ``worker`` is an active member of it; ``None`` (a 404) otherwise."""
    return PeerGroup.objects.filter(
        pk=group_id, memberships__worker=worker, memberships__status=PeerStatus.ACTIVE
    ).first()


def groups_of(worker: User) -> QuerySet[PeerGroup]:
    return PeerGroup.objects.filter(
        memberships__worker=worker, memberships__status=PeerStatus.ACTIVE
    ).order_by("name", "id")


def invitations_of(worker: User) -> QuerySet[PeerMembership]:
    return PeerMembership.objects.filter(worker=worker, status=PeerStatus.INVITED).select_related(
        "group", "invited_by"
    )


def invite(group: PeerGroup, by: User, email: str, *, site: str = "") -> PeerMembership | None:
    """Invite an email address to the group, and email it.

    The answer is the same whether or not a Keel worker has the address, so members cannot
    use invitations to find out who uses Keel: a worker gets an invited membership (returned)
    they accept on their peers page; any other address gets a ``PeerEmailInvitation`` (and
    None) that becomes that membership when someone with the address joins Keel
    (``claim_email_invitations``). An invitation already open is left as it is and not sent
    again. `site` starts the links in the email."""
    if not is_member(group, by):
        raise CareerError("only members of the group can invite", code="not_member")
    address = _text(email, "email", max_length=254, required=True).lower()
    invitee = User.objects.filter(email__iexact=address).first()
    if invitee is not None and not invitee.has_role(Role.WORKER):
        invitee = None  # an operator's address is answered as any address without a worker
    with transaction.atomic():
        PeerGroup.objects.select_for_update().filter(pk=group.pk).first()
        if invitee is None:
            _, created = PeerEmailInvitation.objects.get_or_create(
                group=group, email=address, defaults={"invited_by": by}
            )
            membership = None
        else:
            membership, created = _invite_worker(group, by, invitee)
        if created:
            context = {
                "site": site,
                "group": group.name,
                "inviter": by.get_full_name() or by.email,
                "has_account": invitee is not None,
                "peers_path": reverse("career:peers"),
            }
            transaction.on_commit(
                lambda: mail.send_rendered(
                    address,
                    "career/email/peer_invitation_subject.txt",
                    "career/email/peer_invitation.txt",
                    context,
                )
            )
    return membership


def _invite_worker(group: PeerGroup, by: User, invitee: User) -> tuple[PeerMembership, bool]:
    membership = PeerMembership.objects.filter(group=group, worker=invitee).first()
    if membership is None:
        created = PeerMembership.objects.create(
            group=group, worker=invitee, invited_by=by, status=PeerStatus.INVITED
        )
        return created, True
    if membership.status == PeerStatus.ACTIVE:
        raise CareerError(
            "email: they are already a member of the group", field="email", code="member"
        )
    if membership.status == PeerStatus.LEFT:
        membership.status = PeerStatus.INVITED
        membership.invited_by = by
        membership.save(update_fields=["status", "invited_by"])
        return membership, True
    return membership, False


def claim_email_invitations(user: User) -> int:
    """Turn the group invitations waiting for `user`'s address into ordinary invitations;
    returns how many. Called when a person joins Keel (keel.career.apps)."""
    claimed = 0
    for waiting in PeerEmailInvitation.objects.filter(email__iexact=user.email).order_by("pk"):
        with transaction.atomic():
            if not PeerMembership.objects.filter(group_id=waiting.group_id, worker=user).exists():
                PeerMembership.objects.create(
                    group_id=waiting.group_id,
                    worker=user,
                    invited_by=waiting.invited_by,
                    status=PeerStatus.INVITED,
                )
                claimed += 1
            waiting.delete()
    return claimed


def respond(worker: User, membership_id: int, *, accept: bool) -> PeerMembership | None:
    """Accept or decline one's own invitation; ``None`` when there is no such invitation."""
    with transaction.atomic():
        membership = (
            PeerMembership.objects.select_for_update()
            .filter(pk=membership_id, worker=worker, status=PeerStatus.INVITED)
            .select_related("group")
            .first()
        )
        if membership is None:
            return None
        membership.status = PeerStatus.ACTIVE if accept else PeerStatus.LEFT
        membership.save(update_fields=["status"])
    return membership


def leave(group: PeerGroup, worker: User) -> None:
    PeerMembership.objects.filter(group=group, worker=worker, status=PeerStatus.ACTIVE).update(
        status=PeerStatus.LEFT
    )


# ---------------------------------------------------------------------------- the group page


@dataclass(frozen=True, slots=True)
class Member:
    worker: User
    name: str
    is_me: bool
    # The public profile's handle, only when the profile is public.
    public_handle: str
    pools: list[Any]


@dataclass(frozen=True, slots=True)
class ReferralRow:
    referral: Referral
    # The fee as text, shown to the two members of the referral only (empty otherwise).
    fee: str
    fee_paid: bool
    # What the viewer may do now: a subset of accept, decline, done, pay.
    actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GroupPage:
    group: PeerGroup
    members: list[Member]
    # Open invitations by the address they were sent to, never by an account's name, so
    # the page does not say which addresses belong to Keel workers.
    invited: list[str]
    referrals: list[ReferralRow]


def actions_for(referral: Referral, viewer: User) -> tuple[str, ...]:
    """What ``viewer`` may do with the referral now (the services check it again)."""
    to_me = referral.to_worker_id == viewer.pk
    mine = to_me or referral.from_worker_id == viewer.pk
    actions: list[str] = []
    if to_me and referral.status == ReferralStatus.OFFERED:
        actions += ["accept", "decline"]
    if mine and referral.status == ReferralStatus.ACCEPTED:
        actions.append("done")
    if (
        to_me
        and referral.fee_amount is not None
        and referral.fee_journal_id is None
        and referral.status in (ReferralStatus.ACCEPTED, ReferralStatus.DONE)
    ):
        actions.append("pay")
    return tuple(actions)


def member_choices(group: PeerGroup, viewer: User) -> list[tuple[int, str]]:
    """The other active members, to pass a gig to: (worker id, name)."""
    return [
        (m.worker_id, m.worker.get_full_name() or m.worker.email)
        for m in group.memberships.filter(status=PeerStatus.ACTIVE)
        .exclude(worker=viewer)
        .select_related("worker")
        .order_by("created_at", "id")
    ]


def group_page(group: PeerGroup, viewer: User) -> GroupPage:
    memberships = list(
        group.memberships.filter(status=PeerStatus.ACTIVE)
        .select_related("worker")
        .order_by("created_at", "id")
    )
    workers = [m.worker for m in memberships]
    handles = dict(
        Profile.objects.filter(worker__in=workers, public=True).values_list("worker_id", "handle")
    )
    pools_by = pools.public_pools_of(workers)
    members = [
        Member(
            worker=w,
            name=w.get_full_name() or w.email,
            is_me=w.pk == viewer.pk,
            public_handle=handles.get(w.pk, ""),
            pools=pools_by.get(w.pk, []),
        )
        for w in workers
    ]
    return GroupPage(
        group=group,
        members=members,
        invited=sorted(
            [
                m.worker.email
                for m in group.memberships.filter(status=PeerStatus.INVITED).select_related(
                    "worker"
                )
            ]
            + list(group.email_invitations.values_list("email", flat=True))
        ),
        referrals=[
            ReferralRow(
                referral=r,
                fee=fee_label(r) if viewer.pk in (r.from_worker_id, r.to_worker_id) else "",
                fee_paid=r.fee_journal_id is not None,
                actions=actions_for(r, viewer),
            )
            for r in group.referrals.select_related("from_worker", "to_worker").order_by(
                "-created_at", "-id"
            )
        ],
    )


# ---------------------------------------------------------------------------- referrals


def offer_referral(
    group: PeerGroup,
    by: User,
    *,
    to_worker_id: int,
    title: str,
    description: str = "",
    client_name: str = "",
    fee_amount: int | None = None,
    fee_currency: str = "",
    key: str = "",
) -> Referral:
    """Pass a gig to another active member, with an optional fee (minor units)."""
    if key:
        existing = Referral.objects.filter(from_worker=by, request_key=key).first()
        if existing is not None:
            return existing
    if not is_member(group, by):
        raise CareerError("only members of the group can offer gigs", code="not_member")
    to = PeerMembership.objects.filter(
        group=group, worker_id=to_worker_id, status=PeerStatus.ACTIVE
    ).first()
    if to is None:
        raise CareerError("to_worker: not a member of the group", field="to_worker", code="missing")
    if to.worker_id == by.pk:
        raise CareerError("to_worker: pass the gig to someone else", field="to_worker", code="self")
    currency = ""
    if fee_amount is not None:
        if isinstance(fee_amount, bool) or not isinstance(fee_amount, int) or fee_amount <= 0:
            raise CareerError("fee_amount: above zero", field="fee_amount", code="out_of_range")
        if fee_amount > MAX_LEG_AMOUNT:
            # The ledger would refuse to pay it.
            raise CareerError(
                f"fee_amount: at most {MAX_LEG_AMOUNT} minor units",
                field="fee_amount",
                code="out_of_range",
            )
        try:
            currency = get_currency(str(fee_currency or "").upper()).code
        except MoneyError as exc:
            raise CareerError(
                f"fee_currency: {exc}", field="fee_currency", code="invalid"
            ) from None
    return Referral.objects.create(
        group=group,
        from_worker=by,
        to_worker_id=to.worker_id,
        title=_text(title, "title", max_length=200, required=True),
        description=_text(description, "description", max_length=5000),
        client_name=_text(client_name, "client_name", max_length=200),
        fee_amount=fee_amount,
        fee_currency=currency,
        request_key=key,
    )


def referral_in(group: PeerGroup, referral_id: int) -> Referral | None:
    return Referral.objects.filter(group=group, pk=referral_id).first()


# Which step each action takes, who may take it and from which states.
_STEPS: dict[str, tuple[str, tuple[str, ...], ReferralStatus]] = {
    "accept": ("to", (ReferralStatus.OFFERED,), ReferralStatus.ACCEPTED),
    "decline": ("to", (ReferralStatus.OFFERED,), ReferralStatus.DECLINED),
    "done": ("either", (ReferralStatus.ACCEPTED,), ReferralStatus.DONE),
}


def _locked(referral: Referral) -> Referral:
    return Referral.objects.select_for_update().get(pk=referral.pk)


def move_referral(referral: Referral, by: User, action: str) -> Referral:
    """Accept or decline (the receiver) or mark done (either of the two)."""
    if action not in _STEPS:
        raise CareerError(f"unknown action {action!r}", code="invalid")
    who, allowed, target = _STEPS[action]
    with transaction.atomic():
        row = _locked(referral)
        parties = {row.to_worker_id} if who == "to" else {row.to_worker_id, row.from_worker_id}
        if by.pk not in parties or not is_member(row.group, by):
            raise CareerError("only the member the gig was passed to can do this", code="party")
        if row.status not in allowed:
            raise Conflict(f"the referral is {row.get_status_display().lower()}", code="state")
        row.status = target
        row.save(update_fields=["status"])
    return row


def fee_codes(payer: User, referrer: User, currency: str) -> dict[str, str]:
    """The four accounts of a fee's journal (module docstring)."""

    def code(worker: User, *parts: str) -> str:
        base = ":".join(("worker", str(worker.pk), *parts))
        return base if currency == worker.home_currency else f"{base}:{currency.lower()}"

    return {
        "payer_expense": code(payer, "expenses", "referral-fees"),
        "payer_cash": cash_code(payer, currency),
        "referrer_cash": cash_code(referrer, currency),
        "referrer_income": code(referrer, "income", "referral-fees"),
    }


def _open_fee_accounts(payer: User, referrer: User, currency: str) -> dict[str, str]:
    codes = fee_codes(payer, referrer, currency)
    suffix = "" if currency == payer.home_currency else f" ({currency})"
    r_suffix = "" if currency == referrer.home_currency else f" ({currency})"
    for key, worker, kind, name in (
        ("payer_expense", payer, "expense", f"Referral fees paid{suffix}"),
        ("payer_cash", payer, "asset", f"Cash{suffix}"),
        ("referrer_cash", referrer, "asset", f"Cash{r_suffix}"),
        ("referrer_income", referrer, "income", f"Referral fees earned{r_suffix}"),
    ):
        ledger.open_account(
            codes[key],
            owner_type="worker",
            owner_id=worker.pk,
            kind=kind,
            currency=currency,
            name=name,
        )
    return codes


def pay_fee(referral: Referral, by: User, *, on: date | None = None) -> Referral:
    """Record the fee as paid: one journal in both ledgers (module docstring). Only the
    payer (the member who got the gig), only for an accepted or done referral with a fee;
    a refusal changes nothing, and paying again returns the referral as it is."""
    on = on or timezone.localdate()
    with transaction.atomic():
        row = _locked(referral)
        if row.fee_journal_id is not None:
            return row
        if row.fee_amount is None:
            raise CareerError("this referral has no fee", code="no_fee")
        if by.pk != row.to_worker_id or not is_member(row.group, by):
            raise CareerError("only the member who got the gig pays its referral fee", code="party")
        if row.status not in (ReferralStatus.ACCEPTED, ReferralStatus.DONE):
            raise Conflict(
                f"the fee is paid once the gig is accepted; it is "
                f"{row.get_status_display().lower()}",
                code="state",
            )
        payer, referrer = row.to_worker, row.from_worker
        amount, currency = row.fee_amount, row.fee_currency
        codes = _open_fee_accounts(payer, referrer, currency)
        posted = ledger.post_journal(
            JournalSpec(
                idempotency_key=f"career:referral:{row.pk}:fee",
                kind="referral_fee",
                effective_date=on,
                legs=(
                    LegSpec(codes["payer_expense"], amount, currency),
                    LegSpec(codes["payer_cash"], -amount, currency),
                    LegSpec(codes["referrer_cash"], amount, currency),
                    LegSpec(codes["referrer_income"], -amount, currency),
                ),
                memo=f"Referral fee for {row.title}",
                metadata={"referral": row.pk, "group": row.group_id},
            )
        )
        row.fee_journal_id = posted.id
        row.fee_paid_on = on
        row.save(update_fields=["fee_journal", "fee_paid_on"])
    return row


def fee_label(referral: Referral) -> str:
    if referral.fee_amount is None:
        return ""
    return format_amount(referral.fee_amount, referral.fee_currency, symbol=True)
