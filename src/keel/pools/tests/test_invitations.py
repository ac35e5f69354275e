"""Inviting to a pool by email says nothing about who uses Keel: an address with an account
and one without get the same answer, and the stewards see both by address. An invitation
to an address without an account waits for someone with it to join Keel."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape

import pytest
from django.core import mail
from django.core.cache import caches
from django.test import Client

from keel.accounts.models import User
from keel.pools import services
from keel.pools.errors import Conflict, NotAllowed
from keel.pools.models import EmailInvitation, Membership, MemberStatus, Pool

from .conftest import EUR_1000, PASSWORD, person

Login = Callable[[User | None], Client]


@pytest.fixture(autouse=True)
def _fresh_limits(settings):
    caches[settings.RATELIMIT_USE_CACHE].clear()
    yield
    caches[settings.RATELIMIT_USE_CACHE].clear()


def text(response) -> str:
    """The page's words as a reader sees them: no tags, whitespace collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def invite(client: Client, pool: Pool, email: str, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(f"/pools/{pool.slug}/invite/", {"invite-email": email}, follow=True)


def open_list(page: str) -> str:
    found = re.search(r"Open invitations (.*?) Email of the person to invite", page)
    return found.group(1) if found else ""


def test_an_address_with_and_without_an_account_get_the_same_answer(
    login: Login, fund: Pool, ana: User, dee: User, django_capture_on_commit_callbacks
):
    client = login(ana)
    known = invite(client, fund, "Dee@Example.org", django_capture_on_commit_callbacks)
    unknown = invite(client, fund, "Eve@Example.org", django_capture_on_commit_callbacks)

    assert (
        known.redirect_chain
        == unknown.redirect_chain
        == [(f"/pools/{fund.slug}/#invitations", 302)]
    )
    assert "We have emailed an invitation to dee@example.org. They join by accepting it" in (
        text(known)
    )
    assert "We have emailed an invitation to eve@example.org. They join by accepting it" in (
        text(unknown)
    )
    # Listed alike, by the address typed: never the name of the person with the account.
    page = text(client.get(f"/pools/{fund.slug}/"))
    today = fund.memberships.get(user=dee).created_at.strftime("%-d %B %Y")
    assert open_list(page) == (
        f"dee@example.org invited by you on {today} withdraw"
        f" eve@example.org invited by you on {today} withdraw"
    )
    assert "Dee Outsider" not in page
    # The member list holds members, not invitations.
    assert "Invited" not in page

    # Dee has an invitation to accept; Eve's address waits for an account.
    assert fund.memberships.get(user=dee).status == MemberStatus.INVITED
    assert list(EmailInvitation.objects.values_list("pool", "email", "invited_by")) == [
        (fund.pk, "eve@example.org", ana.pk)
    ]
    to_dee, to_eve = mail.outbox
    assert (to_dee.to, to_eve.to) == (["dee@example.org"], ["eve@example.org"])
    assert to_dee.subject == to_eve.subject == "Ana Steward invites you to Bakers Fund on Keel"
    assert (
        f"Log in and accept the invitation on the pool's page:\nhttp://testserver/pools/{fund.slug}/"
        in (to_dee.body)
    )
    assert "create your Keel account with this email address" in to_eve.body.replace("\n", " ")
    assert f"http://testserver/accounts/signup/?next=/pools/{fund.slug}/" in to_eve.body


def test_inviting_twice_is_refused_alike_for_both(
    login: Login, fund: Pool, ana: User, dee: User, django_capture_on_commit_callbacks
):
    client = login(ana)
    for email in ("dee@example.org", "eve@example.org"):
        invite(client, fund, email, django_capture_on_commit_callbacks)
        again = client.post(f"/pools/{fund.slug}/invite/", {"invite-email": email.upper()})
        assert again.status_code == 409
        assert f"Already invited to or in this pool: {email}." in text(again)
    assert len(mail.outbox) == 2
    assert EmailInvitation.objects.count() == 1


def test_an_email_invitation_becomes_an_invitation_when_the_person_signs_up(
    fund: Pool, ana: User, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.invite(fund, ana, "eve@example.org", site="https://keel.example.org")
    eve = person("Eve@example.org", "Eve Newcomer")

    invited = fund.memberships.get(user=eve)
    assert (invited.status, invited.number, invited.invited_by) == (
        MemberStatus.INVITED,
        4,
        ana,
    )
    assert EmailInvitation.objects.count() == 0
    joined = services.accept_invitation(invited, tier_gift=EUR_1000)
    assert joined.status == MemberStatus.ACTIVE


def test_the_sign_up_link_leads_to_the_waiting_invitation(
    login: Login, fund: Pool, ana: User, django_capture_on_commit_callbacks
):
    invite(login(ana), fund, "eve@example.org", django_capture_on_commit_callbacks)
    signup = re.search(r"http://testserver(/accounts/signup/\S+)", mail.outbox[0].body)
    assert signup is not None
    visitor = Client()
    visitor.post(
        signup.group(1),
        {
            "name": "Eve Newcomer",
            "email": "eve@example.org",
            "home_currency": "EUR",
            "role": "worker",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    link = re.search(r"http://testserver(/accounts/signup/confirm/\S+/)", mail.outbox[1].body)
    assert link is not None
    response = visitor.post(link.group(1), follow=True)
    assert response.redirect_chain[-1] == (f"/pools/{fund.slug}/", 302)
    assert "You are invited to join" in text(response)


def test_a_steward_withdraws_either_kind(
    login: Login, fund: Pool, ana: User, ben: User, dee: User, django_capture_on_commit_callbacks
):
    invite(login(ben), fund, "dee@example.org", django_capture_on_commit_callbacks)
    invite(login(ben), fund, "eve@example.org", django_capture_on_commit_callbacks)
    steward = login(ana)
    for email in ("dee@example.org", "eve@example.org"):
        response = steward.post(
            f"/pools/{fund.slug}/invite/withdraw/", {"email": email}, follow=True
        )
        assert f"The invitation to {email} is withdrawn." in text(response)
    assert not fund.memberships.filter(user=dee).exists()
    assert EmailInvitation.objects.count() == 0
    assert open_list(text(steward.get(f"/pools/{fund.slug}/"))) == ""
    # Dee's pool page is closed to her again: the pool is private.
    assert login(dee).get(f"/pools/{fund.slug}/").status_code == 404


def test_a_member_sees_and_withdraws_only_their_own(
    login: Login, fund: Pool, ana: User, ben: User, cy: User, django_capture_on_commit_callbacks
):
    invite(login(ana), fund, "eve@example.org", django_capture_on_commit_callbacks)
    invite(login(ben), fund, "fay@example.org", django_capture_on_commit_callbacks)
    page = text(login(ben).get(f"/pools/{fund.slug}/"))
    assert "fay@example.org invited by you" in open_list(page)
    assert "eve@example.org" not in page
    assert open_list(text(login(cy).get(f"/pools/{fund.slug}/"))) == ""

    refused = login(ben).post(f"/pools/{fund.slug}/invite/withdraw/", {"email": "eve@example.org"})
    assert refused.status_code == 403
    assert list(EmailInvitation.objects.values_list("email", flat=True)) == [
        "eve@example.org",
        "fay@example.org",
    ]
    with pytest.raises(NotAllowed):
        services.withdraw_invitation(fund, cy, "fay@example.org")
    services.withdraw_invitation(fund, ben, "fay@example.org")
    assert list(EmailInvitation.objects.values_list("email", flat=True)) == ["eve@example.org"]


def test_withdrawing_an_invitation_back_leaves_a_former_member_as_they_were(
    fund: Pool, ana: User, ben: User
):
    services.leave(fund.memberships.get(user=ben))
    before = Membership.objects.get(pool=fund, user=ben)
    services.invite(fund, ana, "ben@example.org")
    services.withdraw_invitation(fund, ana, "ben@example.org")
    after = Membership.objects.get(pool=fund, user=ben)
    assert (after.status, after.number, after.left_on) == (
        MemberStatus.LEFT,
        before.number,
        before.left_on,
    )
    with pytest.raises(Conflict, match=r"there is no open invitation for ben@example\.org"):
        services.withdraw_invitation(fund, ana, "ben@example.org")


def test_invitations_are_limited_per_address(
    login: Login, fund: Pool, ana: User, settings, django_capture_on_commit_callbacks
):
    settings.KEEL_MAIL_RATE_PER_ADDRESS = "1/h"
    client = login(ana)
    invite(client, fund, "eve@example.org", django_capture_on_commit_callbacks)
    services.withdraw_invitation(fund, ana, "eve@example.org")
    again = client.post(f"/pools/{fund.slug}/invite/", {"invite-email": "eve@example.org"})
    assert again.status_code == 429
    assert "Too many requests for this email address" in text(again)
    assert EmailInvitation.objects.count() == 0
    assert len(mail.outbox) == 1


def test_the_api_lists_members_not_invitations(
    login: Login, fund: Pool, ana: User, dee: User, django_capture_on_commit_callbacks
):
    invite(login(ana), fund, "dee@example.org", django_capture_on_commit_callbacks)
    response = login(ana).get(f"/api/v1/pools/{fund.slug}")
    assert response.status_code == 200
    assert [m["name"] for m in response.json()["members"]] == [
        "Ana Steward (Member 1)",
        "Ben Baker (Member 2)",
        "Cy Carpenter (Member 3)",
    ]


def test_the_subject_is_plain_text_not_html(
    fund: Pool, ana: User, django_capture_on_commit_callbacks
):
    # Django escapes templates for HTML; a subject line is not HTML, so "Bakers' Fund"
    # arrived as "Bakers&#x27; Fund".
    fund.name = "Bakers' Fund & Co"
    fund.save(update_fields=["name"])
    with django_capture_on_commit_callbacks(execute=True):
        services.invite(fund, ana, "eve@example.org")
    assert mail.outbox[0].subject == "Ana Steward invites you to Bakers' Fund & Co on Keel"
