from __future__ import annotations

import time

import pytest
from django_otp.oath import hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from keel.accounts.models import User

PASSWORD = "harbour-lantern-42"


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def ana(db: None) -> User:
    return User.objects.create_user("ana@example.com", PASSWORD, name="Ana Souza")


@pytest.fixture
def signup_data() -> dict[str, str]:
    return {
        "name": "Maya Chen",
        "email": "Maya@Example.com",
        "home_currency": "EUR",
        "role": "worker",
        "password1": "quiet-harbour-1987",
        "password2": "quiet-harbour-1987",
    }


def next_code(device: TOTPDevice) -> str:
    """The code an authenticator app shows, for the first time step the device has not used
    yet (a code is accepted once, and codes within one step of now are accepted)."""
    device.refresh_from_db()
    now_step = (int(time.time()) - device.t0) // device.step
    step = device.last_t + 1 if device.last_t >= 0 else now_step
    return f"{hotp(device.bin_key, step, digits=device.digits):0{device.digits}d}"


def wrong_code(device: TOTPDevice) -> str:
    # A six-digit code no step near now produces.
    near = {next_code(device)}
    now_step = (int(time.time()) - device.t0) // device.step
    for step in range(now_step - 3, now_step + 4):
        near.add(f"{hotp(device.bin_key, step, digits=device.digits):06d}")
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in near)
