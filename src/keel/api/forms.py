"""The form on the API keys page. Validation beyond shape is the key rules' (keys.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms

from keel.web.forms import BootstrapFormMixin, OnceTokenMixin

from . import keys

EXPIRY_CHOICES = [
    ("", "Never"),
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In a year"),
]


class KeyForm(BootstrapFormMixin, OnceTokenMixin):
    name = forms.CharField(
        max_length=keys.MAX_NAME_LENGTH,
        help_text="Where the key is used, so you recognise it later (e.g. “payroll sync”).",
    )
    scopes = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one thing the key may do."},
    )
    expires_in = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, label="Expires")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read at form creation, not import: domains register scopes as they load.
        scopes = self.fields["scopes"]
        assert isinstance(scopes, forms.MultipleChoiceField)
        scopes.choices = [(name, name) for name in sorted(keys.SCOPES)]

    def scope_options(self) -> list[dict[str, Any]]:
        chosen = set(self["scopes"].value() or [])
        return [
            {"name": name, "description": text, "checked": name in chosen}
            for name, text in sorted(keys.SCOPES.items())
        ]

    def expires_at(self, now: datetime) -> datetime | None:
        days = self.cleaned_data.get("expires_in")
        return now + timedelta(days=int(days)) if days else None
