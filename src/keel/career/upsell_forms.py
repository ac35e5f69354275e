"""The upsell page's form: a base offer, its follow-on (both the worker's own) and an
optional window in days."""

from __future__ import annotations

from typing import Any

from django import forms

from keel.web.forms import BootstrapFormMixin, OnceTokenMixin


class UpsellForm(BootstrapFormMixin, OnceTokenMixin):
    base = forms.TypedChoiceField(label="Base offer", coerce=int)
    follow_on = forms.TypedChoiceField(label="Follow-on offer", coerce=int)
    window_days = forms.IntegerField(
        label="Counts within (days, optional)",
        min_value=0,
        max_value=3650,
        required=False,
        help_text="How long after buying the base a purchase of the follow-on still counts."
        " Empty: any time after.",
    )

    def __init__(self, *args: Any, offers: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["base"].choices = offers  # type: ignore[attr-defined]
        self.fields["follow_on"].choices = offers  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("base") is not None and data.get("base") == data.get("follow_on"):
            self.add_error("follow_on", "Choose another offer than the base.")
        return data
