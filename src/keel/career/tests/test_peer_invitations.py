"""Inviting to a peer group says nothing about who uses Keel: a worker's address and an
address without a worker get the same answer, the group lists both by address, and an
invitation to an address without an account waits for someone with it to join Keel."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape

import pytest
from django.core import mail
from django.core.cache import caches
from django.test import Client

from keel.accounts.models import User
from keel.career import peer_services as services
from keel.career.errors import CareerError
from keel.career.models import PeerEmailInvitation, PeerGroup, PeerMembership, PeerStatus

from .conftest import person

Login = Callable[[User | None], Client]


@pytest.fixture(autouse=True)
def _fresh_limits(settings):
    caches[settings.RATELIMIT_USE_CACHE].clear()
    yield
    caches[settings.RATELIMIT_USE_CACHE].clear()


@pytest.fixture
def circle(maya: User) -> PeerGroup:
    return services.start_group(maya, name="Writers' circle")


def text(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def invite(client: Client, group: PeerGroup, email: str, capture):
    with capture(execute=True):
        return client.post(f"/career/peers/{group.pk}/invite/", {"email": email}, follow=True)


def test_a_workers_address_and_an_unknown_one_get_the_same_answer(
    circle: PeerGroup, maya: User, noor: User, login: Login, django_capture_on_commit_callbacks
) -> None:
    client = login(maya)
    known = invite(client, circle, "Noor@Example.org", django_capture_on_commit_callbacks)
    unknown = invite(client, circle, "Eve@Example.org", django_capture_on_commit_callbacks)
    back = [(f"/career/peers/{circle.pk}/", 302)]
    assert known.redirect_chain == unknown.redirect_chain == back
    for response, address in ((known, "noor@example.org"), (unknown, "eve@example.org")):
        assert (
            f"We have emailed an invitation to {address}. They join from their peers page."
            in text(response)
        )
    # Listed alike by address; the account holder's name is not shown.
    page = client.get(f"/career/peers/{circle.pk}/").content.decode()
    assert re.findall(r'data-testid="peer-invited">([^ <]+)', page) == [
        "eve@example.org",
        "noor@example.org",
    ]
    assert "Noor Other" not in page
    # Noor has an invitation to answer; Eve's address waits for an account.
    assert circle.memberships.get(worker=noor).status == PeerStatus.INVITED
    assert list(PeerEmailInvitation.objects.values_list("group", "email", "invited_by")) == [
        (circle.pk, "eve@example.org", maya.pk)
    ]
    to_noor, to_eve = mail.outbox
    assert (to_noor.to, to_eve.to) == (["noor@example.org"], ["eve@example.org"])
    subject = "Maya Maker invites you to the peer group Writers' circle on Keel"
    assert to_noor.subject == to_eve.subject == subject
    assert "Log in and join on your peers page:\nhttp://testserver/career/peers/" in to_noor.body
    assert "http://testserver/accounts/signup/?next=/career/peers/" in to_eve.body


def test_an_open_invitation_is_not_sent_again(
    circle: PeerGroup, maya: User, noor: User, login: Login, django_capture_on_commit_callbacks
) -> None:
    client = login(maya)
    for address in ("noor@example.org", "eve@example.org", "NOOR@example.org", "eve@example.org"):
        response = invite(client, circle, address, django_capture_on_commit_callbacks)
        assert response.redirect_chain == [(f"/career/peers/{circle.pk}/", 302)]
    assert len(mail.outbox) == 2
    assert PeerEmailInvitation.objects.count() == 1
    assert PeerMembership.objects.filter(status=PeerStatus.INVITED).count() == 1


def test_an_operators_address_is_answered_as_an_unknown_one(
    circle: PeerGroup, maya: User, django_capture_on_commit_callbacks
) -> None:
    User.objects.create_user("ops@example.org", None, name="Ops Person")  # no worker role
    with django_capture_on_commit_callbacks(execute=True):
        assert services.invite(circle, maya, "ops@example.org") is None
    assert list(PeerEmailInvitation.objects.values_list("email", flat=True)) == ["ops@example.org"]
    assert "create your Keel account" in mail.outbox[0].body


def test_the_invitation_waits_for_the_person_to_join_keel(
    circle: PeerGroup, maya: User, login: Login, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assert services.invite(circle, maya, "eve@example.org") is None
    eve = person("Eve@example.org", "Eve Newcomer")
    invited = circle.memberships.get(worker=eve)
    assert (invited.status, invited.invited_by) == (PeerStatus.INVITED, maya)
    assert PeerEmailInvitation.objects.count() == 0
    page = text(login(eve).get("/career/peers/"))
    assert "Writers' circle from Maya Maker" in page
    assert services.respond(eve, invited.pk, accept=True) is not None
    assert services.is_member(circle, eve)


def test_only_members_invite(circle: PeerGroup, noor: User) -> None:
    with pytest.raises(CareerError):
        services.invite(circle, noor, "eve@example.org")
    assert PeerEmailInvitation.objects.count() == 0
    assert len(mail.outbox) == 0
