"""The contract pages' forms: a new contract with its milestones, and the small forms of
each milestone action. Amounts are typed in major units of the contract's currency and
clean to integer minor units; a service's refusal comes back onto the field it names
(``add_career_error``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from django import forms
from django.utils import timezone

from keel.ledger.rules import MAX_LEG_AMOUNT
from keel.money import MoneyError, exponent, format_amount, is_currency, parse_amount
from keel.web.forms import BootstrapFormMixin, OnceTokenMixin

from .errors import CareerError

CURRENCIES = ("EUR", "USD", "GBP", "CAD", "AUD", "CHF", "SEK", "NOK", "DKK", "JPY")
MILESTONE_ROWS = 3
MAX_MILESTONES = 50


def money_example(currency: str) -> str:
    return format_amount(1_500 * 10 ** exponent(currency), currency)


def currency_of(data: Any, default: str) -> str:
    """The currency a bound form's amounts are in (the form's own choice), else the
    default; an unknown code falls back so that the field itself reports it."""
    chosen = str((data or {}).get("currency") or "").strip().upper()
    if is_currency(chosen):
        return chosen
    return default if is_currency(default) else "EUR"


class AmountField(forms.CharField):
    """An amount typed in major units of ``currency``; cleans to integer minor units, at
    most what one ledger leg can carry (a bigger one would be refused at the first payment,
    or overflow the database's integer before that)."""

    def __init__(self, *args: Any, allow_zero: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 24)
        super().__init__(*args, **kwargs)
        self.currency = "EUR"
        self.allow_zero = allow_zero
        self.widget.attrs.update({"inputmode": "decimal", "autocomplete": "off"})

    def prepare_value(self, value: Any) -> Any:
        # Initial values are minor units (an offer's price on its edit form): shown as they
        # are, "150000" came back as 150,000.00 on an unchanged save, a hundred times the
        # price. Typed text (a bound form) is shown as typed.
        if isinstance(value, int) and not isinstance(value, bool):
            return format_amount(value, self.currency)
        return super().prepare_value(value)

    def clean(self, value: Any) -> int | None:
        text = str(super().clean(value) or "").strip()
        if not text:
            return None
        try:
            minor = parse_amount(text, self.currency)
        except MoneyError:
            raise forms.ValidationError(
                f"Enter an amount in {self.currency}, e.g. {money_example(self.currency)}."
            ) from None
        if minor < 0 or (minor == 0 and not self.allow_zero):
            raise forms.ValidationError(
                "Enter an amount of zero or more."
                if self.allow_zero
                else "Enter an amount above zero."
            )
        if minor > MAX_LEG_AMOUNT:
            raise forms.ValidationError(
                f"Enter an amount of at most"
                f" {format_amount(MAX_LEG_AMOUNT, self.currency, symbol=True)}."
            )
        return minor


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _set_currency(form: forms.Form, currency: str) -> None:
    for field in form.fields.values():
        if isinstance(field, AmountField):
            field.currency = currency
            field.widget.attrs.setdefault("placeholder", money_example(currency))


# ---------------------------------------------------------------------------- new contract


class ContractForm(BootstrapFormMixin, OnceTokenMixin):
    title = forms.CharField(label="Project", max_length=200)
    client_name = forms.CharField(label="Client", max_length=200)
    client_email = forms.EmailField(label="Client's email (optional)", required=False)
    currency = forms.CharField(
        label="Currency",
        max_length=3,
        widget=forms.TextInput(attrs={"list": "currencies", "size": 4, "autocomplete": "off"}),
    )
    credit_limit = AmountField(
        label="Credit limit",
        allow_zero=True,
        help_text="The most you are willing to have outstanding with this client: work "
        "delivered and unpaid plus work in progress. 0 extends no credit.",
    )
    review_window_days = forms.IntegerField(
        label="Review window (days)",
        min_value=0,
        max_value=365,
        initial=14,
        help_text="After delivery the client has this long to release or dispute; then the "
        "escrow is released to you automatically.",
    )
    payment_due_days = forms.IntegerField(
        label="Payment due (days after delivery)",
        min_value=0,
        max_value=365,
        initial=30,
    )
    payment_due_uses_contract_date = forms.BooleanField(
        label="A milestone's due date comes first (Freelance Isn't Free Act)",
        required=False,
        initial=True,
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_currency(self, currency)
        if not self.is_bound:
            self.initial.setdefault("currency", currency)
            self.initial.setdefault("credit_limit", format_amount(0, currency))

    def clean_currency(self) -> str:
        code = str(self.cleaned_data.get("currency") or "").strip().upper()
        if not is_currency(code):
            raise forms.ValidationError("Enter an ISO 4217 currency code, such as EUR or USD.")
        return code


class MilestoneForm(BootstrapFormMixin, forms.Form):
    deliverable = forms.CharField(label="Deliverable", max_length=500)
    amount = AmountField(label="Amount")
    due_on = forms.DateField(label="Due on", required=False, widget=_date_widget())
    starts_on = forms.DateField(label="Work starts", required=False, widget=_date_widget())

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_currency(self, currency)


def milestone_formset(data: Any, currency: str, rows: int = MILESTONE_ROWS) -> Any:
    """The milestone rows of the new-contract form: ``rows`` empty ones on a new page (a
    sent form brings its own count), the first required."""
    rows = max(1, min(rows, MAX_MILESTONES))
    formset_class = forms.formset_factory(
        MilestoneForm,
        extra=rows - 1,
        min_num=1,
        validate_min=True,
        max_num=MAX_MILESTONES,
        validate_max=True,
    )
    return formset_class(data, prefix="milestones", form_kwargs={"currency": currency})


def filled_rows(formset: Any) -> list[tuple[int, dict[str, Any]]]:
    """The milestone rows that were filled in, with their place in the formset."""
    return [
        (index, form.cleaned_data)
        for index, form in enumerate(formset.forms)
        if form.cleaned_data and form.has_changed()
    ]


_MILESTONE_FIELD = re.compile(r"^milestones\[(\d+)\]\.(\w+)$")


def sentence(text: str) -> str:
    text = text.strip().replace("_", " ")
    return text[:1].upper() + text[1:].rstrip(".") + "."


def add_career_error(
    form: forms.Form, exc: CareerError, *, formset: Any = None, rows: Sequence[int] = ()
) -> None:
    """Put a service's refusal on the field it names: ``milestones[i].amount`` on the
    i-th filled milestone row (``rows`` maps it to the formset), another known field on
    the form, anything else as the form's own error."""
    field = exc.field or ""
    match = _MILESTONE_FIELD.match(field)
    if match and formset is not None and int(match[1]) < len(rows):
        row = formset.forms[rows[int(match[1])]]
        name = match[2]
        if name in row.fields:
            message = exc.message.replace(f"milestones[{match[1]}].", "")
            # In the form's words: "starts_on" is the "Work starts" box.
            for other, box in row.fields.items():
                message = re.sub(rf"\b{other}\b", str(box.label).lower(), message)
            row.add_error(name, sentence(message))
            return
    if field in form.fields:
        form.add_error(field, sentence(exc.message))
        return
    if field == "milestones" and formset is not None:
        form.add_error(None, sentence(exc.message))
        return
    form.add_error(None, sentence(exc.message))


# ---------------------------------------------------------------------------- actions


class ActionForm(BootstrapFormMixin, OnceTokenMixin):
    """What every milestone action sends: the version of the milestone the page showed
    (a stale page is refused) and the day it happened (today unless said otherwise)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    on = forms.DateField(label="On", required=False, widget=_date_widget())

    def __init__(self, *args: Any, currency: str = "EUR", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_currency(self, currency)
        if not self.is_bound:
            self.initial.setdefault("on", timezone.localdate())

    def clean_on(self) -> date:
        on = self.cleaned_data.get("on") or timezone.localdate()
        if on > timezone.localdate():
            raise forms.ValidationError("Enter a day that has come: today or earlier.")
        return on


class ReleaseForm(ActionForm):
    amount = AmountField(
        label="Amount to release",
        required=False,
        help_text="Leave empty to release everything in escrow; the rest of a part release "
        "moves to the next milestone.",
    )

    def where_the_rest_goes(self, rolls_to: int | None) -> None:
        """Say where the rest of a part release goes for this milestone: onto milestone
        ``rolls_to``, or back to the client when no later milestone is open to it."""
        rest = f"moves to milestone {rolls_to}" if rolls_to else "goes back to the client"
        lead = "Leave empty to release everything in escrow; the rest of a part release"
        self.fields["amount"].help_text = f"{lead} {rest}."


class DisputeForm(ActionForm):
    reason = forms.CharField(
        label="What the client disputes", max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ResolveForm(ActionForm):
    awarded = AmountField(
        label="Awarded to you",
        allow_zero=True,
        help_text="From nothing to everything in escrow; the rest goes back to the client.",
    )
    note = forms.CharField(
        label="How it was resolved (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


ACTION_FORMS: dict[str, type[ActionForm]] = {
    "fund": ActionForm,
    "deliver": ActionForm,
    "release": ReleaseForm,
    "dispute": DisputeForm,
    "resolve": ResolveForm,
}


# ---------------------------------------------------------------------------- credit notes


class AdjustmentForm(BootstrapFormMixin, OnceTokenMixin):
    """A credit note or supplementary invoice against an issued invoice: how much and why.
    It is dated the day it is issued, as the invoice was."""

    amount = AmountField(label="Amount")
    reason = forms.CharField(
        label="Reason (printed on it)", max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, currency: str = "EUR", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_currency(self, currency)
