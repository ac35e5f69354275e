"""Creating people and their starting books."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction

from keel.ledger import services as ledger
from keel.ledger.models import Account, Leg
from keel.money import MoneyError, get_currency

from .models import Role, User


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
