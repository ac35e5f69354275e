"""The settings page, and the operators' admin for people."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from pytest_django.asserts import assertContains

from keel.accounts.models import User

SETTINGS = reverse("accounts:settings")


def test_settings_needs_login(client, db):
    response = client.get(SETTINGS)
    assert response.url == f"{reverse('accounts:login')}?next={SETTINGS}"


def test_settings_shows_the_current_values(client, ana):
    client.force_login(ana)
    response = client.get(SETTINGS)
    assertContains(response, 'value="Ana Souza"')
    assertContains(response, '<option value="USD" selected>USD — US Dollar</option>', html=True)
    assertContains(response, "Logged in as ana@example.com.")


def test_settings_saves_name_and_home_currency(client, ana):
    client.force_login(ana)

    response = client.post(SETTINGS, {"name": "Ana Maria Souza", "home_currency": "BRL"})

    assert response.status_code == 302
    assert response.url == SETTINGS
    ana.refresh_from_db()
    assert (ana.name, ana.home_currency, ana.email) == ("Ana Maria Souza", "BRL", "ana@example.com")
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Your settings are saved."]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "Ana", "home_currency": "usd"}, "home_currency"),
        ({"name": "Ana", "home_currency": "XAU"}, "home_currency"),
        ({"name": "", "home_currency": "EUR"}, "name"),
    ],
)
def test_settings_refuses_bad_values_and_changes_nothing(client, ana, data, field):
    client.force_login(ana)

    response = client.post(SETTINGS, data)

    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    ana.refresh_from_db()
    assert (ana.name, ana.home_currency) == ("Ana Souza", "USD")


def test_settings_ignores_an_email_change(client, ana):
    client.force_login(ana)
    client.post(SETTINGS, {"name": "Ana", "home_currency": "USD", "email": "eve@example.com"})
    ana.refresh_from_db()
    assert ana.email == "ana@example.com"


def test_settings_keeps_an_uncommon_home_currency_selectable(client, ana):
    # An operator or the command line may give someone a currency outside the short list;
    # saving the form unchanged must not fail or switch it.
    User.objects.filter(pk=ana.pk).update(home_currency="ISK")
    client.force_login(ana)

    response = client.get(SETTINGS)
    assertContains(response, '<option value="ISK" selected>ISK — Iceland Krona</option>', html=True)
    response = client.post(SETTINGS, {"name": "Ana Souza", "home_currency": "ISK"})
    assert response.status_code == 302
    ana.refresh_from_db()
    assert ana.home_currency == "ISK"


@pytest.fixture
def operator(db) -> User:
    return User.objects.create_superuser("ops@example.com", "ops-password-2026", name="Ops")


def test_admin_lists_people(client, operator, ana):
    client.force_login(operator)
    response = client.get(reverse("admin:accounts_user_changelist"))
    assertContains(response, "ana@example.com")
    assertContains(response, "ops@example.com")


def test_admin_adds_a_person_with_a_lower_case_email(client, operator):
    client.force_login(operator)

    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "New.Person@Example.com",
            "name": "New Person",
            "home_currency": "GBP",
            "usable_password": "true",
            "password1": "river-stone-5150",
            "password2": "river-stone-5150",
        },
    )

    assert response.status_code == 302
    person = User.objects.get(name="New Person")
    assert (person.email, person.home_currency) == ("new.person@example.com", "GBP")
    assert person.check_password("river-stone-5150")


def test_admin_refuses_an_unknown_currency(client, operator):
    client.force_login(operator)

    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "x@example.com",
            "name": "X",
            "home_currency": "usd",
            "usable_password": "true",
            "password1": "river-stone-5150",
            "password2": "river-stone-5150",
        },
    )

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["home_currency"]
    assert not User.objects.filter(email="x@example.com").exists()


def test_admin_change_page_renders(client, operator, ana):
    client.force_login(operator)
    response = client.get(reverse("admin:accounts_user_change", args=[ana.pk]))
    assertContains(response, "ana@example.com")


def _usd_payment_and_payout(worker: User) -> bool:
    from datetime import date

    from keel.income import services as income
    from keel.income.importers.base import ParsedRow, RowKind

    upwork = income.ensure_source(worker, "Upwork", kind="platform", currency="USD")
    rows = [
        ParsedRow(line=2, kind=RowKind.INCOME, occurred_on=date(2026, 3, 2), currency="USD",
                  gross=10_000, net=10_000, external_id="P1"),
        ParsedRow(line=3, kind=RowKind.TRANSFER, occurred_on=date(2026, 3, 3), currency="USD",
                  gross=10_000, net=-10_000, external_id="W1"),
    ]  # fmt: skip
    return income.book_rows(worker, upwork, rows).applied


def test_a_new_worker_who_changes_home_currency_has_books_in_it(client, db):
    from keel.accounts.services import create_worker
    from keel.ledger.models import Account

    # Signed up in EUR by mistake, corrected to USD before anything moved: the starting
    # cash account stayed in EUR, and the first USD payout failed ("account worker:N:cash
    # already exists as a asset account in EUR").
    lea = create_worker("lea@example.com", name="Lea", password=None, currency="EUR")
    client.force_login(lea)
    response = client.post(SETTINGS, {"name": "Lea", "home_currency": "USD"})
    assert response.status_code == 302
    lea.refresh_from_db()
    assert lea.home_currency == "USD"
    currencies = dict(Account.objects.filter(owner_id=lea.pk).values_list("code", "currency"))
    assert currencies == {f"worker:{lea.pk}:cash": "USD", f"worker:{lea.pk}:buffer": "USD"}
    assert _usd_payment_and_payout(lea)


def test_home_currency_cannot_change_once_money_has_moved(client, db):
    from keel.accounts.services import create_worker

    lea = create_worker("lea@example.com", name="Lea", password=None, currency="USD")
    assert _usd_payment_and_payout(lea)
    client.force_login(lea)

    response = client.post(SETTINGS, {"name": "Lea B", "home_currency": "EUR"})

    assert response.status_code == 200
    assert response.context["form"].errors["home_currency"] == [
        "Your books are kept in USD: money has already moved on them, so the home currency "
        "can no longer be changed."
    ]
    lea.refresh_from_db()
    assert (lea.name, lea.home_currency) == ("Lea", "USD")
