"""Closing an account: refused (changing nothing) while Keel holds money that is the
worker's; otherwise the person is erased and pseudonymised, their relationships end
through each domain's services, and the ledger stays exactly as it was."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from keel.accounts import closing
from keel.accounts.models import User
from keel.api import services as api_keys
from keel.api.models import ApiKey
from keel.audit.models import AuditEvent
from keel.career import client_links, peer_services, reputation_services, skills_services
from keel.career import services as career
from keel.career.models import PeerMembership, Profile, SkillSharing, TestimonialRequest
from keel.career.rules.reputation import TokenError
from keel.cli import main
from keel.gateway import services as gateway
from keel.gateway.models import Enrollment, LinkCode, LinkStatus, WithholdingConsent, WorkerLink
from keel.income import services as income
from keel.ledger import services as ledger
from keel.ledger.models import Account, Journal, Leg
from keel.pools import services as pools
from keel.pools.models import Membership, MemberStatus, Pool

from .worlds import (
    PASSWORD,
    USD_1000,
    USD_1500,
    contract,
    earnings,
    fund_rules,
    person,
    platform,
    this_month,
)

CONFIRM = "close my account"


class Closable:
    """Ana with a relationship in every domain and no money held for her: a member of Ben's
    public fund with an empty reserve, linked to a platform that paid nothing yet, in a peer
    group, enrolled in a plan, with a public profile, an API key, two-factor sign-in,
    withholding, peer-figure sharing, an open testimonial link and an unused link code.
    (Two-factor sign-in is added by the test that needs it: a session that has not given
    its code is sent to the code step, which the page tests do not go through.)"""

    def __init__(self) -> None:
        self.ana = person("ana@example.org", "Ana Souza")
        self.ben = person("ben@example.org", "Ben Baker")
        self.operator = person("ops@dash.example", "Dash Ops")
        self.pool = pools.create_pool(
            self.ben, name="Open Fund", rules=fund_rules(public=True), tier_gift=USD_1500
        )
        pools.apply(self.pool, self.ana, tier_gift=USD_1000)
        pools.pay_own_deposit(self.pool, self.ben, this_month())
        self.dash = platform(self.operator)
        self.link = gateway.link_with_code(self.dash, "ana-1", gateway.create_link_code(self.ana))
        gateway.create_link_code(self.ana)
        gateway.start_withholding(self.ana, 300)
        plan = gateway.add_plan("Acme Health", "health", "Acme Basic", "USD", 30_000)
        gateway.enroll(self.ana, plan, on=date(2026, 1, 1))
        group = peer_services.start_group(self.ben, name="Writers circle")
        invitation = peer_services.invite(group, self.ben, self.ana.email)
        peer_services.respond(self.ana, invitation.pk, accept=True)
        reputation_services.save_profile(self.ana, handle="ana-souza", public=True)
        reputation_services.request_testimonial(
            self.ana, client_name="Northwind", client_email="lead@northwind.example"
        )
        skills_services.set_sharing(self.ana, True)
        contract = career.create_contract(
            self.ana,
            title="Brochure",
            client_name="Northwind",
            client_email="lead@northwind.example",
            currency="USD",
            credit_limit=0,
            milestones=[career.MilestoneInput("Draft", 50_000)],
        )
        self.client_link = client_links.issue_link(contract)
        api_keys.create_key(self.ana, "My scripts", ["ledger:read"])
        settings = income.income_settings(self.ana)
        settings.salary = 300_000
        settings.save()
        self.ana.refresh_from_db()


@pytest.fixture
def world(db: None) -> Closable:
    return Closable()


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def state(user: User) -> tuple[Any, ...]:
    """Everything closing would change, to show a refusal changed none of it."""
    row = User.objects.get(pk=user.pk)
    return (
        (row.name, row.email, row.password, row.is_active, row.last_login),
        sorted(row.groups.values_list("name", flat=True)),
        sorted(Membership.objects.filter(user=user).values_list("pool_id", "status")),
        sorted(WorkerLink.objects.filter(worker=user).values_list("pk", "status")),
        WithholdingConsent.objects.filter(worker=user, revoked_at__isnull=True).count(),
        Enrollment.objects.filter(worker=user, ended_on__isnull=True).count(),
        sorted(PeerMembership.objects.filter(worker=user).values_list("group_id", "status")),
        Profile.objects.filter(worker=user).count(),
        ApiKey.objects.filter(user=user, revoked_at__isnull=True).count(),
        TOTPDevice.objects.filter(user=user).count(),
        Session.objects.count(),
        Journal.objects.count(),
        Leg.objects.count(),
    )


def books() -> tuple[int, int, int]:
    return Journal.objects.count(), Leg.objects.count(), Account.objects.count()


def test_closing_erases_the_person_and_keeps_the_books(world: Closable) -> None:
    ana = world.ana
    TOTPDevice.objects.create(user=ana, name="Authenticator app", confirmed=True)
    assert User.objects.get(pk=ana.pk).two_factor_enabled is True
    before = books()
    balances = {a.code: (a.posted_debits, a.posted_credits) for a in Account.objects.all()}
    today = timezone.localdate()

    closing.close_account(ana, password=PASSWORD, confirmation="  Close my   account ")

    row = User.objects.get(pk=ana.pk)
    assert (row.name, row.email) == (
        f"Closed account #{ana.pk}",
        f"closed-account-{ana.pk}@closed.invalid",
    )
    assert (row.is_active, row.is_staff, row.is_superuser, row.last_login) == (
        False,
        False,
        False,
        None,
    )
    assert row.has_usable_password() is False
    assert list(row.groups.all()) == []
    assert row.home_currency == "USD"
    assert row.two_factor_enabled is False
    assert TOTPDevice.objects.filter(user=ana).count() == 0
    assert Profile.objects.filter(worker=ana).count() == 0
    assert ApiKey.objects.filter(user=ana, revoked_at__isnull=True).count() == 0
    assert ApiKey.objects.filter(user=ana).count() == 1
    membership = Membership.objects.get(user=ana, pool=world.pool)
    assert (membership.status, membership.left_on) == (MemberStatus.LEFT, today)
    assert WorkerLink.objects.get(pk=world.link.pk).status == LinkStatus.ENDED
    assert WithholdingConsent.objects.filter(worker=ana, revoked_at__isnull=True).count() == 0
    assert Enrollment.objects.get(worker=ana).ended_on == today
    assert list(PeerMembership.objects.filter(worker=ana).values_list("status", flat=True)) == [
        "left"
    ]
    assert SkillSharing.objects.get(worker=ana).opted_in is False
    now = timezone.now()
    assert not TestimonialRequest.objects.filter(worker=ana, expires_at__gt=now).exists()
    assert not LinkCode.objects.filter(
        worker=ana, used_at__isnull=True, expires_at__gt=now
    ).exists()
    assert income.income_settings(ana).salary == 0
    with pytest.raises(TokenError):
        client_links.open_link(world.client_link)
    # The books: not one journal, leg, account or total changed, and they verify.
    assert books() == before
    assert {a.code: (a.posted_debits, a.posted_credits) for a in Account.objects.all()} == balances
    assert ledger.verify().ok
    assert main(["ledger", "verify"]) == 0


def test_the_audit_log_keeps_its_events_about_a_closed_account_as_the_page_says(
    world: Closable,
) -> None:
    ana = world.ana
    page = logged_in(ana).get(reverse("accounts:close")).content.decode()
    assert "with the email address you had then" in page
    created = AuditEvent.objects.filter(actor_id=ana.pk, action="api_key.created")
    assert list(created.values_list("actor_label", "subject")) == [
        ("ana@example.org", f"api_key:{ApiKey.objects.get(user=ana).pk}")
    ]

    closing.close_account(ana, password=PASSWORD, confirmation=CONFIRM)

    assert User.objects.get(pk=ana.pk).email == f"closed-account-{ana.pk}@closed.invalid"
    assert list(created.values_list("actor_label", "subject")) == [
        ("ana@example.org", f"api_key:{ApiKey.objects.get(user=ana).pk}")
    ]


def log_in(email: str) -> tuple[int, bool]:
    """The log-in form's answer: its status, and whether the client is now logged in."""
    client = Client()
    page = client.post(reverse("accounts:login"), {"username": email, "password": PASSWORD})
    return page.status_code, "_auth_user_id" in client.session


def test_a_closed_account_cannot_log_in_and_its_sessions_end(world: Closable) -> None:
    assert log_in("ana@example.org") == (302, True)
    session = logged_in(world.ana)
    assert session.get(reverse("web:dashboard")).status_code == 200
    assert Session.objects.count() == 2

    closing.close_account(world.ana, password=PASSWORD, confirmation=CONFIRM)

    assert Session.objects.count() == 0
    dashboard = session.get(reverse("web:dashboard"))
    assert dashboard.status_code == 302
    assert dashboard["Location"].startswith(reverse("accounts:login"))
    assert log_in("ana@example.org") == (200, False)
    assert log_in(f"closed-account-{world.ana.pk}@closed.invalid") == (200, False)


def test_closing_is_refused_while_a_benefits_bucket_holds_money(world: Closable) -> None:
    gateway.record_events(
        world.dash,
        [
            earnings("e1", "ana-1", "2026-02-02", 60_000),
            earnings("e2", "ana-1", "2026-02-03", 60_000),
        ],
    )
    before = state(world.ana)

    with pytest.raises(closing.ClosingRefused) as refused:
        closing.close_account(world.ana, password=PASSWORD, confirmation=CONFIRM)

    # 4% of USD 1,200.00 split by the default allocation: 30/30/20/10/10.
    assert [b.reason for b in refused.value.blockers] == [
        "your benefits account Benefits: Emergency holds $4.80",
        "your benefits account Benefits: Health holds $14.40",
        "your benefits account Benefits: Retirement holds $14.40",
        "your benefits account Benefits: Tax set-aside holds $4.80",
        "your benefits account Benefits: Time off holds $9.60",
    ]
    assert {b.first for b in refused.value.blockers} == {
        "Use or withdraw it on your benefits page."
    }
    assert state(world.ana) == before


def test_closing_is_refused_while_the_pool_reserve_holds_money(world: Closable) -> None:
    pools.pay_own_deposit(world.pool, world.ana, this_month())
    before = state(world.ana)

    with pytest.raises(closing.ClosingRefused) as refused:
        closing.close_account(world.ana, password=PASSWORD, confirmation=CONFIRM)

    # A USD 1,000 tier deposits 4.5% a month.
    assert [(b.reason, b.first) for b in refused.value.blockers] == [
        (
            "your reserve in Open Fund holds $45.00",
            "Leave Open Fund on its page: you take your reserve with you.",
        )
    ]
    assert state(world.ana) == before


def test_closing_is_refused_while_a_contract_has_money_in_escrow(world: Closable) -> None:
    row = contract(world.ana, "Northwind", 80_000)
    milestone = row.milestones.get()
    career.fund_milestone(milestone, on=date(2026, 3, 2), recorded_by=world.ana)
    before = state(world.ana)

    with pytest.raises(closing.ClosingRefused) as refused:
        closing.close_account(world.ana, password=PASSWORD, confirmation=CONFIRM)

    assert [b.reason for b in refused.value.blockers] == [
        "the escrow of your contract 'Website for Northwind' with Northwind holds $800.00"
    ]
    assert state(world.ana) == before


def test_the_only_steward_of_a_pool_with_members_cannot_close(world: Closable) -> None:
    before = state(world.ben)
    assert [b.reason for b in closing.blockers(world.ben)] == [
        "your reserve in Open Fund holds $67.50",
        "you are the only steward of Open Fund",
    ]
    with pytest.raises(closing.ClosingRefused):
        closing.close_account(world.ben, password=PASSWORD, confirmation=CONFIRM)
    assert state(world.ben) == before


@pytest.mark.parametrize(
    ("password", "confirmation", "field"),
    [
        ("wrong-password-1", CONFIRM, "password"),
        ("", CONFIRM, "password"),
        (PASSWORD, "close account", "confirmation"),
        (PASSWORD, "", "confirmation"),
    ],
)
def test_closing_needs_the_password_and_the_typed_confirmation(
    world: Closable, password: str, confirmation: str, field: str
) -> None:
    before = state(world.ana)
    with pytest.raises(closing.ClosingError) as refused:
        closing.close_account(world.ana, password=password, confirmation=confirmation)
    assert refused.value.field == field
    assert state(world.ana) == before


def test_the_close_page_says_what_to_do_first(world: Closable) -> None:
    pools.pay_own_deposit(world.pool, world.ana, this_month())
    client = logged_in(world.ana)
    page = client.get(reverse("accounts:close"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Your reserve in Open Fund holds $45.00. Leave Open Fund on its page" in text
    before = state(world.ana)

    refused = client.post(
        reverse("accounts:close"), {"password": PASSWORD, "confirmation": CONFIRM}
    )

    assert refused.status_code == 409
    assert "Your reserve in Open Fund holds $45.00." in refused.content.decode()
    assert state(world.ana) == before


def test_the_close_page_refuses_a_wrong_password(world: Closable) -> None:
    client = logged_in(world.ana)
    before = state(world.ana)
    page = client.post(
        reverse("accounts:close"), {"password": "not-my-password", "confirmation": CONFIRM}
    )
    assert page.status_code == 200
    assert page.context["form"].errors == {"password": ["That is not your password."]}
    assert state(world.ana) == before


def test_the_close_page_closes_and_logs_out(world: Closable) -> None:
    client = logged_in(world.ana)
    response = client.post(
        reverse("accounts:close"), {"password": PASSWORD, "confirmation": CONFIRM}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:closed")
    assert "_auth_user_id" not in client.session
    assert "Your account is closed" in client.get(reverse("accounts:closed")).content.decode()
    assert User.objects.get(pk=world.ana.pk).is_active is False


def test_pool_pages_show_the_closed_member_by_pseudonym(world: Closable) -> None:
    number = Membership.objects.get(user=world.ana, pool=world.pool).number
    closing.close_account(world.ana, password=PASSWORD, confirmation=CONFIRM)
    pool = Pool.objects.get(pk=world.pool.pk)

    to_members = pools.member_names(pool, with_names=True)[number]
    assert to_members == f"Closed account #{world.ana.pk} (Member {number})"
    page = logged_in(world.ben).get(reverse("pools:detail", args=[pool.slug])).content.decode()
    assert "Ana Souza" not in page
    assert "ana@example.org" not in page
    outsider = person("dee@example.org", "Dee Outsider")
    public = logged_in(outsider).get(reverse("pools:detail", args=[pool.slug])).content.decode()
    assert f"Member {number}" in public
    assert "Closed account" not in public


@pytest.mark.django_db(transaction=True)
def test_closing_deletes_the_export_files_the_person_uploaded() -> None:
    # Keel keeps an uploaded export after applying it (renamed *.applied); a PayPal or
    # Etsy export names clients with their addresses and phone numbers. Closing left them
    # on the server for good.
    from pathlib import Path

    from .worlds import SAMPLES, person

    lea = person("lea@example.org", "Lea Park")
    upwork = income.ensure_source(lea, "Upwork", kind="platform", currency="USD")
    applied = income.receive_upload(
        lea, name="upwork.csv", stream=(SAMPLES / "upwork.csv").open("rb"), fmt="upwork",
        source=upwork,
    )  # fmt: skip
    income.preview_batch(applied)
    income.apply_batch(applied)
    waiting = income.receive_upload(
        lea, name="paypal.csv", stream=(SAMPLES / "paypal.csv").open("rb"), fmt="paypal",
        source=upwork,
    )  # fmt: skip
    for batch in (applied, waiting):
        batch.refresh_from_db()
    files = [Path(applied.stored_path), Path(waiting.stored_path)]
    assert all(f.is_file() for f in files)
    items = lea.income_items.count()

    closing.close_account(lea, password=PASSWORD, confirmation=closing.CONFIRMATION)

    assert not any(f.exists() for f in files)
    assert list(lea.import_batches.values_list("stored_path", flat=True)) == ["", ""]
    assert lea.income_items.count() == items > 0
