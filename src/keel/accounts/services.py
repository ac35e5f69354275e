"""Creating people and their starting books."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from keel.ledger import services as ledger
from keel.ledger.models import Account, Leg
from keel.money import MoneyError, get_currency

from . import mail
from .models import Role, SignupRequest, User


class AccountSetupError(ValueError):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def worker_account_code(user_id: int, *parts: str) -> str:
    return ":".join(("worker", str(user_id), *parts))


def open_worker_books(user: User) -> None:
    """Every worker starts with a cash account and a salary buffer in their home currency.

    Cash mirrors the worker's bank account, which Keel only sees through imports (a bank
    top-up of a PayPal balance may be the first thing it sees), so it has no floor. The
    buffer is Keel's own and never goes below zero. Other accounts open as income and
    benefits arrive."""
    for part, name, floor in (("cash", "Cash", None), ("buffer", "Salary buffer", 0)):
        ledger.open_account(
            worker_account_code(user.pk, part),
            owner_type="worker",
            owner_id=user.pk,
            kind="asset",
            currency=user.home_currency,
            floor=floor,
            name=name,
        )


@transaction.atomic
def change_home_currency(user: User, currency: str) -> None:
    """Make `currency` the person's home currency, moving their empty starting accounts
    (cash, buffer) to it.

    Account codes follow the home currency (``worker:N:cash`` holds it, ``worker:N:cash:usd``
    another), so once money has moved the books stay in the currency they were kept in:
    a change then is refused. Otherwise the next import of the new currency found
    ``worker:N:cash`` in the old one and failed."""
    try:
        code = get_currency(currency).code
    except MoneyError as exc:
        raise AccountSetupError(str(exc), field="home_currency") from None
    user = User.objects.select_for_update().get(pk=user.pk)
    if code == user.home_currency:
        return
    mine = Account.objects.filter(owner_type="worker", owner_id=user.pk)
    if Leg.objects.filter(account__in=mine).exists():
        raise AccountSetupError(
            f"Your books are kept in {user.home_currency}: money has already moved on them, "
            "so the home currency can no longer be changed.",
            field="home_currency",
        )
    mine.filter(currency=user.home_currency).update(currency=code)
    User.objects.filter(pk=user.pk).update(home_currency=code)


@transaction.atomic
def create_worker(email: str, *, name: str, password: str | None, currency: str = "USD") -> User:
    try:
        get_currency(currency)
    except MoneyError as exc:
        raise AccountSetupError(str(exc), field="currency") from None
    if User.objects.filter(email__iexact=email).exists():
        raise AccountSetupError(f"a person with the email {email} already exists", field="email")
    user = User.objects.create_user(email, password, name=name, home_currency=currency)
    grant_role(user, Role.WORKER)
    open_worker_books(user)
    return user


def grant_role(user: User, role: Role | str) -> None:
    """Give a person a Keel role (a Django group)."""
    role = Role(role)  # refuses a name that is not a Keel role
    # Migration 0002 creates the groups, but a flushed test database (or an operator who
    # deleted one in the admin) may not have it; the role must still be grantable.
    group, _ = Group.objects.get_or_create(name=role.value)
    user.groups.add(group)


# ------------------------------------------------------------------------------ sign-up

# How long a sign-up link works. A day: long enough to find the message the next morning.
SIGNUP_LINK_HOURS = 24


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def request_signup(
    *,
    email: str,
    name: str,
    home_currency: str,
    role: Role | str,
    password: str,
    next_url: str = "",
    site: str,
) -> None:
    """Someone asked for an account for `email`: email the address, and only the address,
    what happens next.

    A new address gets a link that creates the account (``confirm_signup``); an address
    that already has one gets a note that someone tried, with the ways back in. The caller
    answers the same in both cases, so the sign-up page tells nobody who uses Keel."""
    email = email.strip().lower()
    role = Role(role)
    # Hashed whether or not it is kept, so both answers cost the same time.
    hashed = make_password(password)
    if User.objects.filter(email__iexact=email).exists():
        mail.send(email, "signup_existing", {"site": site})
        return
    purge_expired_signups()
    token = secrets.token_urlsafe(32)
    SignupRequest.objects.create(
        email=email,
        name=name,
        home_currency=home_currency,
        role=role.value,
        password=hashed,
        next_url=next_url,
        token_digest=_digest(token),
    )
    mail.send(
        email,
        "signup_confirm",
        {"site": site, "name": name, "token": token, "hours": SIGNUP_LINK_HOURS},
    )


def purge_expired_signups(now: datetime | None = None) -> int:
    """Delete the sign-ups whose link no longer works (older than SIGNUP_LINK_HOURS at
    `now`); returns how many. Each holds a hashed password and the address of someone who
    never confirmed, kept no longer than the link lives: the hourly task
    (``accounts.purge_signups``) runs this, and so does every new sign-up. A second run
    finds nothing more to delete."""
    cutoff = (now or timezone.now()) - timedelta(hours=SIGNUP_LINK_HOURS)
    deleted, _ = SignupRequest.objects.filter(created_at__lt=cutoff).delete()
    return int(deleted)


def pending_signup(token: str) -> SignupRequest | None:
    """The sign-up a link is for, while it still works."""
    cutoff = timezone.now() - timedelta(hours=SIGNUP_LINK_HOURS)
    return SignupRequest.objects.filter(token_digest=_digest(token), created_at__gte=cutoff).first()


def confirm_signup(token: str) -> tuple[User, str]:
    """Create the person a sign-up link is for, with their role and starting books; returns
    them and the page they were heading for. The link then stops working, and so do other
    links sent to the same address."""
    request = pending_signup(token)
    if request is None:
        raise AccountSetupError(
            "This link does not work: it has been used already or is more than"
            f" {SIGNUP_LINK_HOURS} hours old."
        )
    already = AccountSetupError("This address has a Keel account already: log in.")
    try:
        with transaction.atomic():
            # The row, not the token, decides: of two clicks on one link, one finds it.
            if not SignupRequest.objects.filter(pk=request.pk).delete()[0]:
                raise AccountSetupError("This link has been used already: log in.")
            SignupRequest.objects.filter(email__iexact=request.email).delete()
            if User.objects.filter(email__iexact=request.email).exists():
                # Someone confirmed another link to the address first.
                raise already
            user = User(email=request.email, name=request.name, home_currency=request.home_currency)
            user.password = request.password
            user.full_clean(exclude=["password"])
            user.save()
            role = Role(request.role)
            grant_role(user, role)
            if role == Role.WORKER:
                # The same starting books `keel` gives a worker created on the command line.
                open_worker_books(user)
    except IntegrityError:
        # Two links to one address confirmed at the same moment: the other one won.
        raise already from None
    return user, request.next_url
