"""Forms of the offer pages (micro-contract bundles). They check the shape of what an
operator typed (amounts as people write them, in the platform's currency) and turn it into
the terms ``services.offer_bundle`` takes; the service decides what the terms mean, and its
errors come back onto the field they name (``apply_bundle_error``)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date
from typing import Any

from django import forms

from keel.money import MoneyError, exponent, format_amount, parse_amount
from keel.web.forms import BootstrapFormMixin

from .errors import GatewayError
from .models import WorkerLink
from .rules.bundles import MAX_WEEKS

# Service field names (``GatewayError.field``) to the form's fields.
BUNDLE_ERROR_FIELDS = {
    "worker_ref": "worker_ref",
    "title": "title",
    "terms.weeks": "weeks",
    "terms.start": "start",
    "terms.min_tasks_per_week": "min_tasks_per_week",
    "terms.rate_per_task": "rate_per_task",
    "terms.min_weekly_earnings": "min_weekly_earnings",
}


def new_reference() -> str:
    """A reference for an offer made in the console: fixed when the form is shown, so
    submitting the same form twice offers the bundle once."""
    return f"console-{secrets.token_hex(6)}"


def _money(text: str, currency: str) -> int:
    text = (text or "").strip()
    if not text:
        return 0
    try:
        minor = parse_amount(text, currency)
    except MoneyError as exc:
        example = format_amount(6 * 10 ** exponent(currency), currency)
        raise forms.ValidationError(
            f"Enter an amount in {currency}, for example {example} ({exc})."
        ) from None
    if minor < 0:
        raise forms.ValidationError("Enter an amount of zero or more.")
    return minor


class BundleOfferForm(BootstrapFormMixin, forms.Form):
    reference = forms.CharField(max_length=120, widget=forms.HiddenInput)
    worker_ref = forms.ChoiceField(
        label="Worker",
        help_text="A worker reference of yours that is linked to a Keel worker.",
    )
    title = forms.CharField(
        max_length=200,
        help_text="What the worker sees, e.g. “Weekday lunch deliveries, downtown”.",
    )
    weeks = forms.IntegerField(min_value=1, max_value=MAX_WEEKS, initial=12)
    start = forms.DateField(
        label="First day",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Weeks run seven days from this day.",
    )
    min_tasks_per_week = forms.IntegerField(
        min_value=0, initial=0, label="Minimum tasks a week", required=False
    )
    rate_per_task = forms.CharField(
        required=False,
        label="Rate per task",
        help_text="What each task pays, for the committed income the worker plans on.",
    )
    min_weekly_earnings = forms.CharField(
        required=False,
        label="Guaranteed earnings a week",
        help_text="A week that ends below it is topped up by the difference.",
    )

    def __init__(
        self, *args: Any, links: Sequence[WorkerLink], currency: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        worker_choices = [
            (
                link.worker_ref,
                f"{link.worker_ref} · {link.worker.name}" if link.worker else link.worker_ref,
            )
            for link in links
        ]
        field = self.fields["worker_ref"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Choose a linked worker"), *worker_choices]
        for name in ("rate_per_task", "min_weekly_earnings"):
            self.fields[name].label = f"{self.fields[name].label} ({currency})"
        if not self.is_bound:
            self.initial.setdefault("reference", new_reference())

    def clean_rate_per_task(self) -> int:
        return _money(self.cleaned_data.get("rate_per_task", ""), self.currency)

    def clean_min_weekly_earnings(self) -> int:
        return _money(self.cleaned_data.get("min_weekly_earnings", ""), self.currency)

    def terms(self) -> dict[str, Any]:
        data = self.cleaned_data
        start: date = data["start"]
        return {
            "currency": self.currency,
            "weeks": data["weeks"],
            "start": start.isoformat(),
            "min_tasks_per_week": data.get("min_tasks_per_week") or 0,
            "rate_per_task": data["rate_per_task"],
            "min_weekly_earnings": data["min_weekly_earnings"],
        }


def apply_bundle_error(form: forms.BaseForm, exc: GatewayError) -> None:
    """Put a service error on the field it names; anything else on the form as a whole."""
    form.add_error(BUNDLE_ERROR_FIELDS.get(exc.field or ""), exc.message)
