"""Reputation: signed testimonial-request links and public profile handles.

Testimonial request tokens
    A worker asks a client for a testimonial; the client gets a link and writes it without
    an account. The link carries a token::

        t1.<payload>.<signature>

    ``payload`` is base64url (no padding) of the compact JSON ``[request_id, client_email,
    expires_at_unix_seconds]``; ``signature`` is base64url of HMAC-SHA256 with the service's
    secret over a fixed context string and ``t1.<payload>``, so a token for anything else
    signed with the same secret can never pass as one. ``verify_token`` checks, in order:

    1. the shape (``TokenMalformed``, a kind of ``TokenForged``),
    2. the signature, compared in constant time (``TokenForged``),
    3. the expiry: refused from ``expires_at`` on (``TokenExpired``),
    4. when the caller says which request the link was opened for, that it is the one
       signed (``WrongRequest``).

    The signature is checked before anything in the payload is trusted or even decoded.

    Single use is the service's job, not the token's: the token stays valid until it
    expires, so the service marks the request row used when the testimonial is saved (in the
    same transaction, with the row locked) and refuses a request already used with
    ``require_unused``, which raises ``TokenUsed``. A replayed link therefore fails on the
    row, not on the signature.

Public profile handles
    3 to 30 characters of lowercase letters, digits and hyphens, starting and ending with a
    letter or digit and with no two hyphens in a row (``xn--`` lookalikes); the names of
    Keel's own pages (``admin``, ``api``, ``pools``, ``income`` ...) are reserved.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = [
    "DEFAULT_VALIDITY",
    "MIN_SECRET_BYTES",
    "RESERVED_HANDLES",
    "HandleError",
    "TokenClaims",
    "TokenError",
    "TokenExpired",
    "TokenForged",
    "TokenMalformed",
    "TokenUsed",
    "WrongRequest",
    "issue_token",
    "require_unused",
    "validate_handle",
    "verify_token",
]

_VERSION = "t1"
# Binds signatures to this use: the same secret may sign other things elsewhere.
_CONTEXT = b"keel.career.testimonial-request\x00"
MIN_SECRET_BYTES = 32
DEFAULT_VALIDITY = timedelta(days=30)
_MAX_TOKEN_LENGTH = 1024
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


# --------------------------------------------------------------------------- errors


class TokenError(ValueError):
    """A testimonial link that cannot be used. ``code`` tells which check refused it; the
    page shows the client one message per code and never which part of a forgery failed."""

    code = "invalid"
    field = "token"


class TokenForged(TokenError):
    """The signature does not match: the token was not issued by Keel with this secret."""

    code = "forged"


class TokenMalformed(TokenForged):
    """Not a token at all (truncated, mangled, another version)."""

    code = "malformed"


class TokenExpired(TokenError):
    code = "expired"


class WrongRequest(TokenError):
    """A genuine token, opened for a different testimonial request than it was issued for."""

    code = "wrong_request"


class TokenUsed(TokenError):
    """The request has already received its testimonial (raised by ``require_unused``)."""

    code = "used"


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified token says: the request, the client it was sent to, its expiry."""

    request_id: str
    client_email: str
    expires_at: datetime


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise TokenMalformed("the link is not a valid testimonial link")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise TokenMalformed("the link is not a valid testimonial link") from None
    # Only the canonical spelling is accepted, so one token has exactly one text.
    if _b64(raw) != text:
        raise TokenMalformed("the link is not a valid testimonial link")
    return raw


def _secret(secret: object) -> bytes:
    if not isinstance(secret, bytes):
        raise TypeError(f"secret must be bytes, not {type(secret).__name__}")
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"secret must be at least {MIN_SECRET_BYTES} bytes, not {len(secret)}")
    return secret


def _aware(value: object, field: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise TypeError(f"{field} must be a timezone-aware datetime")
    return value


def _sign(secret: bytes, signed: str) -> bytes:
    return hmac.new(secret, _CONTEXT + signed.encode("ascii"), hashlib.sha256).digest()


def _check_email(value: object) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
        raise ValueError(f"client_email must be an email address, not {value!r}")
    if len(value) > 254:
        raise ValueError("client_email must be at most 254 characters")
    return value


def _check_request_id(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"request_id must be a str or int, not {type(value).__name__}")
    text = str(value)
    if not text or len(text) > 100:
        raise ValueError("request_id must be 1 to 100 characters")
    return text


def issue_token(
    secret: bytes, request_id: str | int, client_email: str, expires_at: datetime
) -> str:
    """The token for one testimonial request, valid until ``expires_at`` (whole seconds:
    any fraction is dropped, so the link expires up to a second early, never late)."""
    key = _secret(secret)
    expires = int(_aware(expires_at, "expires_at").timestamp())
    payload = json.dumps(
        [_check_request_id(request_id), _check_email(client_email), expires],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    signed = f"{_VERSION}.{_b64(payload.encode('ascii'))}"
    return f"{signed}.{_b64(_sign(key, signed))}"


def verify_token(
    secret: bytes, token: str, now: datetime, *, request_id: str | int | None = None
) -> TokenClaims:
    """The claims of a genuine, unexpired token, or the ``TokenError`` that refuses it (the
    order of the checks is in the module docstring). Pass ``request_id`` when the link names
    the request it was opened for."""
    key = _secret(secret)
    _aware(now, "now")
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH:
        raise TokenMalformed("the link is not a valid testimonial link")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _VERSION:
        raise TokenMalformed("the link is not a valid testimonial link")
    signature = _unb64(parts[2])
    signed = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(signature, _sign(key, signed)):
        raise TokenForged("the link's signature does not match: it was not issued by Keel")
    claims = _claims(_unb64(parts[1]))
    if now >= claims.expires_at:
        raise TokenExpired(
            f"the link expired on {claims.expires_at.isoformat()}: ask for a new one"
        )
    if request_id is not None and _check_request_id(request_id) != claims.request_id:
        raise WrongRequest("the link was issued for a different testimonial request")
    return claims


def _claims(payload: bytes) -> TokenClaims:
    # Only a payload Keel signed gets here, so a bad one is a bug or a leaked secret; it
    # is still refused rather than trusted.
    try:
        request_id, email, expires = json.loads(payload.decode("ascii"))
        if not (isinstance(request_id, str) and isinstance(email, str)):
            raise TypeError
        if isinstance(expires, bool) or not isinstance(expires, int):
            raise TypeError
        return TokenClaims(request_id, email, datetime.fromtimestamp(expires, UTC))
    except (ValueError, TypeError, OverflowError, OSError):
        raise TokenMalformed("the link is not a valid testimonial link") from None


def require_unused(used_at: datetime | None) -> None:
    """Refuse a request whose testimonial is already in (its row's ``used_at`` is set)."""
    if used_at is not None:
        raise TokenUsed("this link has already been used to write a testimonial")


# --------------------------------------------------------------------------- handles


class HandleError(ValueError):
    """A profile handle that cannot be used; ``field`` is always ``"handle"``."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.field = "handle"
        self.code = code


# Top-level paths of Keel's own pages and the words people would mistake for them.
RESERVED_HANDLES = frozenset(
    {
        "about",
        "accounts",
        "admin",
        "api",
        "app",
        "career",
        "contracts",
        "dashboard",
        "gateway",
        "help",
        "income",
        "invoices",
        "keel",
        "ledger",
        "login",
        "logout",
        "media",
        "offers",
        "peers",
        "plans",
        "pools",
        "portfolio",
        "profile",
        "root",
        "settings",
        "signup",
        "skills",
        "static",
        "support",
        "system",
        "testimonials",
        "www",
    }
)

_HANDLE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")


def validate_handle(handle: str) -> str:
    """The handle without surrounding spaces, or a ``HandleError`` saying what to change."""
    if not isinstance(handle, str):
        raise HandleError(f"handle must be text, not {type(handle).__name__}", code="invalid_type")
    text = handle.strip()
    if not 3 <= len(text) <= 30:
        raise HandleError(f"handle must be 3 to 30 characters, not {len(text)}", code="length")
    if text != text.lower() and re.fullmatch(r"[A-Za-z0-9-]+", text):
        try:
            hint = f": try {validate_handle(text.lower())!r}"
        except HandleError:
            hint = ""
        raise HandleError(f"handle must be in lowercase{hint}", code="uppercase")
    if not re.fullmatch(r"[a-z0-9-]+", text):
        raise HandleError(
            "handle may only hold lowercase letters, digits and hyphens", code="characters"
        )
    if not _HANDLE.fullmatch(text):
        raise HandleError("handle must start and end with a letter or digit", code="hyphen")
    if "--" in text:
        raise HandleError("handle must not have two hyphens in a row", code="hyphen")
    if text in RESERVED_HANDLES:
        raise HandleError(f"handle {text!r} is reserved: choose another", code="reserved")
    return text
