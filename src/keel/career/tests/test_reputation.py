"""Reputation through the services: a testimonial link works once, cannot be forged or
used after it expires or is replaced, and a refusal writes nothing; the raw token is never
stored; profile handles follow the rules and are unique."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from keel.accounts.models import User
from keel.career import reputation_services as services
from keel.career.errors import CareerError
from keel.career.models import Profile, Testimonial, TestimonialRequest
from keel.career.rules import reputation as rules


def ask(worker: User, **changes: object) -> tuple[TestimonialRequest, str]:
    fields: dict[str, object] = {"client_name": "Ada Client", "client_email": "ada@acme.example"}
    fields.update(changes)
    row, token = services.request_testimonial(worker, **fields)  # type: ignore[arg-type]
    assert token is not None
    return row, token


def write(token: str, **changes: str) -> Testimonial:
    fields = {"text": "Clear, fast and kind.", "author_name": "Ada", "author_role": "CTO, Acme"}
    fields.update(changes)
    return services.write_testimonial(token, **fields)


def counts() -> tuple[int, int]:
    return Testimonial.objects.count(), TestimonialRequest.objects.filter(
        used_at__isnull=False
    ).count()


def test_a_link_writes_one_verified_testimonial_and_cannot_be_reused(maya: User) -> None:
    row, token = ask(maya)
    # Only the digest is kept; the token appears in no column.
    stored = TestimonialRequest.objects.filter(pk=row.pk).values().get()
    assert stored["token_digest"] == services.token_digest(token) != token
    assert token not in {str(v) for v in stored.values()}
    assert services.open_link(token) == row
    testimonial = write(token)
    assert testimonial.verified and testimonial.shown
    row.refresh_from_db()
    assert row.used_at is not None and testimonial.request == row
    with pytest.raises(rules.TokenUsed):
        write(token, text="Again")
    with pytest.raises(rules.TokenUsed):
        services.open_link(token)
    assert counts() == (1, 1)


def test_forged_links_are_refused_and_write_nothing(maya: User) -> None:
    row, token = ask(maya)
    version, payload, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    others = [
        f"{version}.{payload}.{flipped}",  # a changed signature
        # Signed with another secret (a guessed SECRET_KEY): the right shape, wrong signature.
        rules.issue_token(b"x" * 32, row.pk, row.client_email, row.expires_at),
        "not-a-token",
        "",
    ]
    for forged in others:
        with pytest.raises(rules.TokenForged):
            write(forged)
    assert counts() == (0, 0)


def test_a_genuine_token_for_another_email_or_request_is_refused(maya: User) -> None:
    row, _ = ask(maya)
    # Signed with Keel's real key but not the token issued for the row (a different email,
    # or a request id that does not exist): its digest is not the row's.
    secret = services._secret()
    for request_id, email in ((row.pk, "eve@evil.example"), (row.pk + 99, row.client_email)):
        token = rules.issue_token(secret, request_id, email, row.expires_at)
        with pytest.raises(rules.WrongRequest):
            write(token)
    assert counts() == (0, 0)


def test_an_expired_link_is_refused(maya: User) -> None:
    _, token = ask(maya, now=timezone.now() - timedelta(days=31))  # valid for 30 days
    with pytest.raises(rules.TokenExpired):
        services.open_link(token)
    with pytest.raises(rules.TokenExpired):
        write(token)
    assert counts() == (0, 0)


def test_a_replaced_link_stops_working_and_the_new_one_works(maya: User) -> None:
    row, old = ask(maya)
    new = services.replace_link(row)
    assert new != old
    with pytest.raises(rules.WrongRequest):
        write(old)
    write(new)
    with pytest.raises(CareerError, match="already been used"):
        services.replace_link(row)
    assert counts() == (1, 1)


def test_a_replayed_request_form_returns_the_request_without_its_token(maya: User) -> None:
    row, _ = ask(maya, key="form-1")
    again, token = services.request_testimonial(
        maya, client_name="Ada Client", client_email="ada@acme.example", key="form-1"
    )
    assert (again, token) == (row, None)
    with pytest.raises(CareerError) as caught:
        services.request_testimonial(maya, client_name="Bo", client_email="not-an-email")
    assert caught.value.field == "client_email"


def test_profile_handles_follow_the_rules_and_are_unique(maya: User, noor: User) -> None:
    profile = services.save_profile(maya, handle=" maya-maker ", headline="Writer")
    assert (profile.handle, profile.public) == ("maya-maker", False)  # private by default
    for bad, code in (("Maya", "uppercase"), ("admin", "reserved"), ("a--b", "hyphen")):
        with pytest.raises(CareerError) as caught:
            services.save_profile(noor, handle=bad)
        assert (caught.value.field, caught.value.code) == ("handle", code)
    with pytest.raises(CareerError, match="taken"):
        services.save_profile(noor, handle="maya-maker")
    services.save_profile(maya, handle="maya", public=True)
    assert Profile.objects.get(worker=maya).handle == "maya"
    assert Profile.objects.count() == 1
