"""Two-factor sign-in: an authenticator app (a django-otp TOTP device) with one-time backup
codes (a django-otp static device), and the half-finished log-in that waits for a code.

Two-factor sign-in is on when a person has a confirmed TOTP device; `User.two_factor_enabled`
mirrors that (the signal handlers below keep it true to the devices whoever changes them),
so the middleware can tell, without a query, a session that still owes its code.
"""

from __future__ import annotations

import time
from base64 import b32encode
from dataclasses import dataclass
from typing import Any

import qrcode
import qrcode.image.svg
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django_otp.models import Device, VerifyNotAllowed
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from keel.audit import services as audit

from . import notices
from .models import User

BACKUP_CODE_COUNT = 10
TOTP_DIGITS = 6
AUTHENTICATOR_NAME = "Authenticator app"
BACKUP_CODES_NAME = "Backup codes"
# How long the code step of a log-in waits after the password step before the person has
# to type their password again.
PENDING_LOGIN_SECONDS = 10 * 60
_PENDING_KEY = "keel_two_factor_pending"


class TwoFactorError(ValueError):
    """A code was refused, or the step does not fit the person's two-factor state. The
    message is for the person; `field` names the form field it belongs to."""

    def __init__(self, message: str, *, field: str | None = "code", counts: bool = True) -> None:
        super().__init__(message)
        self.field = field
        # Whether this refusal is a failed guess (counted towards the log-in lock-out) rather
        # than a refusal to check the code at all.
        self.counts = counts


WRONG_CODE = (
    "That code is not right. Check the code your authenticator app shows now, or use a backup code."
)


def normalize_code(raw: str) -> str:
    # People copy codes with the spaces and dashes apps use to group digits.
    return "".join(ch for ch in raw if ch not in " -\t").lower()


def is_enabled(user: User) -> bool:
    """From the devices themselves, not the mirrored flag: for decisions made once per log-in."""
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def sync_flag(user_id: int) -> None:
    enabled = TOTPDevice.objects.filter(user_id=user_id, confirmed=True).exists()
    User.objects.filter(pk=user_id).exclude(two_factor_enabled=enabled).update(
        two_factor_enabled=enabled
    )


def backup_codes_left(user: User) -> int:
    return int(StaticToken.objects.filter(device__user=user, device__confirmed=True).count())


# ------------------------------------------------------------------------------ turning it on


def pending_setup(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()


@transaction.atomic
def start_setup(user: User) -> TOTPDevice:
    """A new secret for the person's authenticator app, waiting for its first code. Starting
    again replaces a secret that was never confirmed."""
    if is_enabled(user):
        raise TwoFactorError("Two-factor sign-in is already on.", field=None, counts=False)
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    device: TOTPDevice = TOTPDevice.objects.create(
        user=user, name=AUTHENTICATOR_NAME, confirmed=False
    )
    return device


def confirm_setup(user: User, code: str) -> tuple[TOTPDevice, list[str]]:
    """Turn two-factor sign-in on with the first code the app shows; returns the device and
    the new backup codes, which are shown once and never again."""
    device = pending_setup(user)
    if device is None:
        raise TwoFactorError(
            "Start again: there is no authenticator waiting to be confirmed.",
            field=None,
            counts=False,
        )
    code = normalize_code(code)
    if not (code.isdigit() and len(code) == TOTP_DIGITS):
        raise TwoFactorError("Enter the 6-digit code your authenticator app shows.", counts=False)
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        refusal = _throttled(device)
        verified = refusal is None and device.verify_token(code)
        if verified:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            codes = _new_backup_codes(user)
            audit.record("two_factor.enabled", actor=user, subject=f"user:{user.pk}")
    if refusal is not None:
        raise refusal
    if not verified:
        raise TwoFactorError(
            "That code is not right. Check that the app shows Keel and try the code it shows now."
        )
    return device, codes


def _new_backup_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_CODES_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


# ----------------------------------------------------------------- codes for a person with it on


def verify_code(user: User, code: str) -> Device:
    """The device that accepts this code: the authenticator for six digits, the backup codes
    otherwise (a backup code works once). Raises TwoFactorError when refused.

    Only the device the code's shape points at is tried, so a mistyped app code is never
    counted against the backup codes' throttle (django-otp's per-device back-off)."""
    code = normalize_code(code)
    if not code:
        raise TwoFactorError(
            "Enter the code from your authenticator app, or a backup code.", counts=False
        )
    # Backup codes are eight base32 characters, so never six digits.
    model: type[TOTPDevice] | type[StaticDevice]
    model = TOTPDevice if code.isdigit() and len(code) == TOTP_DIGITS else StaticDevice
    refusal: TwoFactorError | None = None
    accepted: Device | None = None
    # Failed attempts are written (the throttle counts them) inside the transaction, so the
    # refusal is raised only after it commits.
    with transaction.atomic():
        for device in model.objects.select_for_update().filter(user=user, confirmed=True):
            refusal = _throttled(device)
            if refusal is None and device.verify_token(code):
                accepted = device
                break
    if accepted is not None:
        return accepted
    raise refusal or TwoFactorError(WRONG_CODE)


def _throttled(device: TOTPDevice | StaticDevice) -> TwoFactorError | None:
    allowed, extra = device.verify_is_allowed()
    if allowed:
        return None
    details: dict[str, Any] = extra or {}
    if details.get("reason") == VerifyNotAllowed.N_FAILED_ATTEMPTS:
        wait = int((details["locked_until"] - timezone.now()).total_seconds()) + 1
        return TwoFactorError(
            f"Too many wrong codes in a row: wait {max(wait, 1)} seconds, then try the code"
            " your app shows then.",
            counts=False,
        )
    return TwoFactorError("Codes cannot be checked right now; try again shortly.", counts=False)


def turn_off(user: User, code: str, *, request: HttpRequest | None) -> None:
    """Two-factor sign-in off, on a current code (or a backup code): the authenticator and the
    backup codes are deleted, and the person is told by email (`request` gives the links
    their address and the notice the network address it came from)."""
    # Not inside the deleting transaction: a refused code's throttle count must be kept.
    verify_code(user, code)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        audit.record("two_factor.disabled", actor=user, request=request, subject=f"user:{user.pk}")
        notices.notify(user, notices.Change.TWO_FACTOR_OFF, request=request)


def replace_backup_codes(user: User, code: str) -> tuple[TOTPDevice, list[str]]:
    """New backup codes on a current code; the old ones stop working."""
    verify_code(user, code)
    with transaction.atomic():
        device = TOTPDevice.objects.get(user=user, confirmed=True)
        codes = _new_backup_codes(user)
        audit.record("two_factor.backup_codes_replaced", actor=user, subject=f"user:{user.pk}")
        return device, codes


# ---------------------------------------------------------- what the person's app is shown


def secret_text(device: TOTPDevice) -> str:
    """The secret in the base32 form apps accept when typed, in groups of four."""
    secret = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def provisioning_svg(device: TOTPDevice) -> str:
    """The otpauth:// URI as an inline SVG QR code: drawn here, so nothing leaves the server."""
    image = qrcode.make(
        device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2
    )
    svg: str = image.to_string(encoding="unicode")
    return svg.replace(
        "<svg ",
        '<svg role="img" aria-label="QR code for your authenticator app" class="keel-qr" ',
        1,
    )


def encouragement(user: User) -> list[str]:
    """Why this person in particular should turn two-factor sign-in on: the pools they steward
    and the platforms they operate, whose money and members' data their log-in guards."""
    from keel.pools.models import MemberRole, MemberStatus

    reasons: list[str] = []
    pools = list(
        user.pool_memberships.filter(role=MemberRole.STEWARD, status=MemberStatus.ACTIVE)
        .order_by("pool__name")
        .values_list("pool__name", flat=True)
    )
    if pools:
        reasons.append(f"You steward {_names(pools)}: your log-in approves claims and gifts.")
    platforms = list(user.operated_platforms.order_by("name").values_list("name", flat=True))
    if platforms:
        reasons.append(
            f"You operate {_names(platforms)}: your log-in manages its API keys and what it pays."
        )
    return reasons


def _names(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


# ------------------------------------------------------------- the log-in that waits for a code


@dataclass(frozen=True, slots=True)
class PendingLogin:
    user: User
    backend: str
    next_url: str


def begin_pending_login(request: HttpRequest, user: User, next_url: str) -> None:
    """Remember, in the not-yet-logged-in session, whose password was right. Nobody is
    logged in until the code step finishes the log-in."""
    # A new session key: a session id planted before the password step is worth nothing.
    request.session.cycle_key()
    request.session[_PENDING_KEY] = {
        "user_id": user.pk,
        "backend": getattr(user, "backend", "django.contrib.auth.backends.ModelBackend"),
        # Changing the password in between voids the half-finished log-in.
        "auth_hash": user.get_session_auth_hash(),
        "started": int(time.time()),
        "next": next_url,
    }


def pending_login(request: HttpRequest) -> PendingLogin | None:
    """The half-finished log-in in this session, if it is still good."""
    data = request.session.get(_PENDING_KEY)
    if not isinstance(data, dict):
        return None
    started = int(data.get("started", 0))
    if not 0 <= time.time() - started <= PENDING_LOGIN_SECONDS:
        clear_pending_login(request)
        return None
    user = User.objects.filter(pk=int(data.get("user_id", 0)), is_active=True).first()
    if user is None or not constant_time_compare(
        str(data.get("auth_hash", "")), user.get_session_auth_hash()
    ):
        clear_pending_login(request)
        return None
    return PendingLogin(user=user, backend=str(data["backend"]), next_url=str(data.get("next", "")))


def clear_pending_login(request: HttpRequest) -> None:
    request.session.pop(_PENDING_KEY, None)
