"""Reputation: portfolio items, testimonials requested by a signed link, and the opt-in
public profile. (``keel.career.rules.reputation`` holds the pure token and handle rules;
this module stores and checks rows with them.)

Testimonial links
    A request's link carries a token from ``rules.reputation.issue_token`` signed with a
    key derived from ``settings.SECRET_KEY`` for this use only
    (``sha256(b"keel.testimonials:" + SECRET_KEY)``). The token itself is never stored:
    the request row keeps its SHA-256 digest, and the page shows the link once, right
    after it is made (in production Keel would email it to the client). Opening a link
    checks, in order: the signature and shape (forged: 400), the expiry (expired: 410),
    that the request exists, was sent to the email signed in the token and still has this
    token's digest (anything else: 400), and that no testimonial was written with it yet
    (used: 410). Writing the testimonial repeats every check with the request row locked,
    then stores the testimonial and marks the request used in one transaction; the
    one-to-one from testimonial to request refuses a second one even if two submissions
    race. A refused link writes nothing. A worker may replace a request's link (a new
    expiry and digest): the old link then fails the digest check.

What is public
    Nothing, until the worker makes their profile public. Then /p/<handle>/ shows the
    profile's headline and bio, every portfolio item with its link (never an uploaded
    file: uploads are served to their worker only), the testimonials the worker has left
    shown (author name, role, text: never the client's email), and the active offers with
    their prices. A private profile is a 404 to everyone but its worker, who sees it with
    a "private" banner.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from keel.accounts.models import User

from . import offers as offer_services
from .errors import CareerError
from .models import Offer, PortfolioItem, Profile, Testimonial, TestimonialRequest
from .rules import reputation as rules
from .rules.recurring import RecurringError

VALIDITY = rules.DEFAULT_VALIDITY
# What an upload may be, by extension and by the bytes it starts with.
FILE_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    ".pdf": (b"%PDF-",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
}
MAX_FILE_BYTES: int = settings.KEEL_MAX_PORTFOLIO_BYTES


def _text(value: object, field: str, *, max_length: int, required: bool = False) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise CareerError(f"{field} must not be empty", field=field, code="required")
    if len(text) > max_length:
        raise CareerError(
            f"{field} must be at most {max_length} characters, not {len(text)}",
            field=field,
            code="too_long",
        )
    return text


def _email(value: object, field: str) -> str:
    text = _text(value, field, max_length=254, required=True)
    try:
        validate_email(text)
    except ValidationError:
        raise CareerError(
            f"{field}: {text!r} is not an email address", field=field, code="invalid"
        ) from None
    return text


# ---------------------------------------------------------------------------- portfolio


def _link(value: object) -> str:
    text = _text(value, "link", max_length=500)
    if text:
        try:
            URLValidator(schemes=["http", "https"])(text)
        except ValidationError:
            raise CareerError(
                "link: enter a web address starting with https://", field="link", code="invalid"
            ) from None
    return text


def too_big_message() -> str:
    return f"file: can be at most {MAX_FILE_BYTES // (1024 * 1024)} MB"


def check_upload(upload: IO[bytes], name: str) -> None:
    """A PDF, PNG or JPG of at most ``MAX_FILE_BYTES`` whose first bytes match its name."""
    suffix = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if suffix not in FILE_SIGNATURES:
        raise CareerError("file: must be a PDF, PNG or JPG file", field="file", code="type")
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_FILE_BYTES:
        raise CareerError(too_big_message(), field="file", code="too_big")
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if not head.startswith(FILE_SIGNATURES[suffix]):
        raise CareerError(
            f"file: this is not a {suffix.lstrip('.').upper()}: its content does not match"
            " its name",
            field="file",
            code="type",
        )


def _fill(item: PortfolioItem, fields: dict[str, Any]) -> None:
    item.title = _text(fields.get("title"), "title", max_length=200, required=True)
    item.summary = _text(fields.get("summary"), "summary", max_length=20_000)
    item.link = _link(fields.get("link"))
    item.done_on = fields.get("done_on")
    skills = [s.strip() for s in str(fields.get("skills") or "").split(",") if s.strip()]
    item.skills = _text(", ".join(dict.fromkeys(skills)), "skills", max_length=300)
    item.client_name = _text(fields.get("client_name"), "client_name", max_length=200)


def create_portfolio_item(
    worker: User,
    *,
    upload: IO[bytes] | None = None,
    upload_name: str = "",
    key: str = "",
    **fields: Any,
) -> PortfolioItem:
    """A new portfolio item (``fields``: title, summary, link, done_on, skills,
    client_name), with its uploaded file stored privately. With ``key``, a second call
    with the same key returns the item the first one created."""
    if key:
        existing = PortfolioItem.objects.filter(worker=worker, request_key=key).first()
        if existing is not None:
            return existing
    item = PortfolioItem(worker=worker, request_key=key)
    _fill(item, fields)
    if upload is not None:
        check_upload(upload, upload_name)
        item.file_name = upload_name[-200:]
    with transaction.atomic():
        if upload is not None:
            item.file.save(upload_name or "file", File(upload), save=False)
        item.save()
    return item


def update_portfolio_item(
    item: PortfolioItem,
    *,
    upload: IO[bytes] | None = None,
    upload_name: str = "",
    remove_file: bool = False,
    **fields: Any,
) -> PortfolioItem:
    _fill(item, fields)
    old = item.file.name if item.file else ""
    if upload is not None:
        check_upload(upload, upload_name)
        item.file.save(upload_name or "file", File(upload), save=False)
        item.file_name = upload_name[-200:]
    elif remove_file:
        item.file = None
        item.file_name = ""
    item.save()
    if old and old != (item.file.name if item.file else ""):
        item.file.storage.delete(old)
    return item


def delete_portfolio_item(item: PortfolioItem) -> None:
    name = item.file.name if item.file else ""
    storage = item.file.storage
    item.delete()
    if name:
        storage.delete(name)


# ---------------------------------------------------------------------------- testimonials


def _secret() -> bytes:
    return hashlib.sha256(b"keel.testimonials:" + settings.SECRET_KEY.encode()).digest()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _issue(row: TestimonialRequest, now: datetime, validity: timedelta) -> str:
    # Whole seconds, as the token carries them, so the row and the link agree.
    row.expires_at = (now + validity).replace(microsecond=0)
    token = rules.issue_token(_secret(), row.pk, row.client_email, row.expires_at)
    row.token_digest = token_digest(token)
    return token


def request_testimonial(
    worker: User,
    *,
    client_name: str,
    client_email: str,
    now: datetime | None = None,
    validity: timedelta = VALIDITY,
    key: str = "",
) -> tuple[TestimonialRequest, str | None]:
    """A new request and its link's token (shown once, never stored). A replayed ``key``
    returns the request it made and ``None``: the token cannot be shown again."""
    if key:
        existing = TestimonialRequest.objects.filter(worker=worker, request_key=key).first()
        if existing is not None:
            return existing, None
    name = _text(client_name, "client_name", max_length=200, required=True)
    email = _email(client_email, "client_email")
    now = now or timezone.now()
    with transaction.atomic():
        row = TestimonialRequest.objects.create(
            worker=worker,
            client_name=name,
            client_email=email,
            created_at=now,
            expires_at=now + validity,
            token_digest="",
            request_key=key,
        )
        token = _issue(row, now, validity)
        row.save(update_fields=["expires_at", "token_digest"])
    return row, token


def replace_link(
    row: TestimonialRequest, *, now: datetime | None = None, validity: timedelta = VALIDITY
) -> str:
    """A new link for an unused request, valid from now; the old link stops working. The
    row is read again under a lock, so a testimonial written meanwhile is seen."""
    with transaction.atomic():
        locked = TestimonialRequest.objects.select_for_update().get(pk=row.pk)
        try:
            rules.require_unused(locked.used_at)
        except rules.TokenUsed as exc:
            raise CareerError(str(exc), code="used") from None
        previous = locked.expires_at
        token = _issue(locked, now or timezone.now(), validity)
        if locked.expires_at <= previous:
            # Tokens are deterministic: the same expiry would sign the same link again. A
            # replacement in the same second expires a second later, so it always differs.
            token = _issue(locked, previous + timedelta(seconds=1), timedelta(0))
        locked.save(update_fields=["expires_at", "token_digest"])
    row.expires_at, row.token_digest = locked.expires_at, locked.token_digest
    return token


# Which refusals are 400 (the link is not one of ours) and which 410 (it was, and is gone).
GONE = frozenset({"expired", "used"})


def _check(token: str, now: datetime, *, lock: bool) -> TestimonialRequest:
    claims = rules.verify_token(_secret(), token, now)
    rows = TestimonialRequest.objects.select_related("worker")
    if lock:
        rows = rows.select_for_update()
    row = rows.filter(pk=int(claims.request_id)).first() if claims.request_id.isdigit() else None
    if (
        row is None
        or not hmac.compare_digest(row.token_digest, token_digest(token))
        or row.client_email != claims.client_email
    ):
        raise rules.WrongRequest("the link is not, or no longer, the link of this request")
    rules.require_unused(row.used_at)
    return row


def open_link(token: str, now: datetime | None = None) -> TestimonialRequest:
    """The request a link is for, or the ``rules.reputation.TokenError`` refusing it."""
    return _check(token, now or timezone.now(), lock=False)


def write_testimonial(
    token: str,
    *,
    text: str,
    author_name: str,
    author_role: str = "",
    now: datetime | None = None,
) -> Testimonial:
    """Store the client's testimonial and mark the request used, in one transaction with
    the request row locked; a refused link (``TokenError``) writes nothing."""
    body = _text(text, "text", max_length=5000, required=True)
    name = _text(author_name, "author_name", max_length=200, required=True)
    role = _text(author_role, "author_role", max_length=200)
    now = now or timezone.now()
    try:
        with transaction.atomic():
            row = _check(token, now, lock=True)
            testimonial = Testimonial.objects.create(
                request=row, text=body, author_name=name, author_role=role, created_at=now
            )
            row.used_at = now
            row.save(update_fields=["used_at"])
    except IntegrityError:  # a concurrent submission got there first
        raise rules.TokenUsed("this link has already been used to write a testimonial") from None
    return testimonial


def set_shown(testimonial: Testimonial, shown: bool) -> Testimonial:
    testimonial.shown = shown
    testimonial.save(update_fields=["shown"])
    return testimonial


# ---------------------------------------------------------------------------- profile


def save_profile(
    worker: User, *, handle: str, headline: str = "", bio: str = "", public: bool = False
) -> Profile:
    """Create or change the worker's profile; the handle is checked by the rules and must
    not be anyone else's."""
    try:
        checked = rules.validate_handle(handle)
    except rules.HandleError as exc:
        raise CareerError(str(exc), field="handle", code=exc.code) from None
    profile = Profile.objects.filter(worker=worker).first() or Profile(worker=worker)
    if Profile.objects.filter(handle=checked).exclude(worker=worker).exists():
        raise CareerError("handle: that handle is taken", field="handle", code="taken")
    profile.handle = checked
    profile.headline = _text(headline, "headline", max_length=200)
    profile.bio = _text(bio, "bio", max_length=5000)
    profile.public = bool(public)
    profile.updated_at = timezone.now()
    try:
        with transaction.atomic():
            profile.save()
    except IntegrityError:
        raise CareerError("handle: that handle is taken", field="handle", code="taken") from None
    return profile


@dataclass(frozen=True, slots=True)
class PublicOffer:
    name: str
    kind: str
    price_label: str


@dataclass(frozen=True, slots=True)
class PublicProfile:
    profile: Profile
    name: str
    is_owner: bool
    items: list[PortfolioItem]
    testimonials: list[Testimonial]
    offers: list[PublicOffer]


def _price_label(offer: Offer) -> str:
    try:
        return offer_services.rule_offer(offer).price_label()
    except RecurringError:
        return ""


def public_profile(handle: str, viewer: Any) -> PublicProfile | None:
    """What /p/<handle>/ shows ``viewer``, or ``None`` (a 404) when there is no such
    profile or it is private and the viewer is not its worker."""
    profile = Profile.objects.select_related("worker").filter(handle=handle).first()
    if profile is None:
        return None
    is_owner = bool(getattr(viewer, "is_authenticated", False)) and viewer.pk == profile.worker_id
    if not (profile.public or is_owner):
        return None
    worker = profile.worker
    return PublicProfile(
        profile=profile,
        name=worker.get_full_name() or profile.handle,
        is_owner=is_owner,
        items=list(PortfolioItem.objects.filter(worker=worker)),
        testimonials=list(
            Testimonial.objects.filter(request__worker=worker, shown=True, verified=True)
        ),
        offers=[
            PublicOffer(o.name, o.get_kind_display(), _price_label(o))
            for o in Offer.objects.filter(worker=worker, active=True).order_by("name", "id")
        ],
    )
