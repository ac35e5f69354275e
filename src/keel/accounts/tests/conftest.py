from __future__ import annotations

import pytest

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
