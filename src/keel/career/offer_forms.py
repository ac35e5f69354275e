"""The offer pages' forms: a new offer, a new subscriber, a lifecycle event, a payment and
a manual match. Amounts are typed in major units and clean to integer minor units; a
service's refusal comes back onto the field it names (``forms.add_career_error``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone

from keel.money import is_currency
from keel.web.forms import BootstrapFormMixin, OnceTokenMixin

from .forms import AmountField, _date_widget, _set_currency
from .models import BillingInterval, OfferKind, RetainerUnit, UnusedUnits

EVENT_KINDS = ("pause", "resume", "change", "cancel", "start")


def _blank(choices: Any, label: str = "—") -> list[tuple[str, str]]:
    return [("", label), *choices]


# The earliest day an offer's history may hold: the revenue pages walk every month from
# the first start, and a start typed as 0001-01-01 took them about nine seconds.
EARLIEST_DAY = date(1970, 1, 1)


def _come(day: date | None) -> date | None:
    # A subscriber's status changes the moment an event is recorded, while MRR and churn
    # count it from its date: a cancellation dated next month showed the subscriber as
    # cancelled on the offer page while every MRR figure still counted them.
    if day is not None and day > timezone.localdate():
        raise forms.ValidationError("Enter a day that has come: today or earlier.")
    if day is not None and day < EARLIEST_DAY:
        raise forms.ValidationError(f"Enter a day from {EARLIEST_DAY:%d %B %Y} on.")
    return day


class OfferForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(label="Name", max_length=120)
    kind = forms.ChoiceField(label="Kind", choices=OfferKind.choices)
    price = AmountField(label="Price", allow_zero=True)
    currency = forms.CharField(
        label="Currency", max_length=3, widget=forms.TextInput(attrs={"size": 4})
    )
    interval = forms.ChoiceField(
        label="Billed",
        choices=_blank(BillingInterval.choices, "once (no interval)"),
        required=False,
        help_text="Memberships, subscriptions and retainers bill every interval; digital "
        "products and one-off services are sold once.",
    )
    retainer_units = forms.IntegerField(
        label="Retainer: units per period", min_value=1, required=False
    )
    retainer_unit = forms.ChoiceField(
        label="Units are", choices=_blank(RetainerUnit.choices), required=False
    )
    retainer_on_unused = forms.ChoiceField(
        label="Unused units", choices=_blank(UnusedUnits.choices), required=False
    )
    retainer_rollover_cap = forms.IntegerField(
        label="Most units carried over", min_value=0, required=False
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_currency(self, currency)
        if not self.is_bound:
            self.initial.setdefault("currency", currency)
            self.initial.setdefault("interval", "month")

    def clean_currency(self) -> str:
        code = str(self.cleaned_data.get("currency") or "").strip().upper()
        if not is_currency(code):
            raise forms.ValidationError("Enter an ISO 4217 currency code, such as EUR or USD.")
        return code


class SubscriberForm(BootstrapFormMixin, OnceTokenMixin):
    name = forms.CharField(label="Name", max_length=200)
    email = forms.EmailField(label="Email (optional)", required=False)
    external_reference = forms.CharField(
        label="Their id elsewhere (optional)", max_length=200, required=False
    )
    start_on = forms.DateField(
        label="Started on", required=False, widget=_date_widget(), help_text="Empty: not yet."
    )
    price = AmountField(
        label="Price they pay", required=False, allow_zero=True, help_text="Empty: the list price."
    )

    def __init__(self, *args: Any, currency: str, recurring: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_currency(self, currency)
        if not recurring:
            # Something sold once has no subscription to start nor a price per interval: a
            # buyer's purchase is their payment, booked below the list.
            del self.fields["start_on"]
            del self.fields["price"]
        if not self.is_bound and recurring:
            self.initial.setdefault("start_on", timezone.localdate())

    def clean_start_on(self) -> date | None:
        return _come(self.cleaned_data.get("start_on"))


class EventForm(BootstrapFormMixin, OnceTokenMixin):
    on = forms.DateField(label="On", widget=_date_widget())
    price = AmountField(label="New price", required=False, allow_zero=True)
    interval = forms.ChoiceField(
        label="Billed", choices=_blank(BillingInterval.choices, "as before"), required=False
    )

    def __init__(self, *args: Any, currency: str, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_currency(self, currency)
        if kind not in ("change", "start"):
            del self.fields["price"]
            del self.fields["interval"]
        if not self.is_bound:
            self.initial.setdefault("on", timezone.localdate())

    def clean_on(self) -> date | None:
        return _come(self.cleaned_data.get("on"))


class PaymentForm(BootstrapFormMixin, OnceTokenMixin):
    amount = AmountField(label="Amount paid")
    on = forms.DateField(label="Paid on", widget=_date_widget())
    subscriber = forms.TypedChoiceField(
        label="Paid by", coerce=int, required=False, empty_value=None
    )

    def __init__(
        self, *args: Any, currency: str, subscribers: list[tuple[int, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        _set_currency(self, currency)
        self.fields["subscriber"].choices = [("", "—"), *subscribers]  # type: ignore[attr-defined]
        if not self.is_bound:
            self.initial.setdefault("on", timezone.localdate())

    def clean_on(self) -> date | None:
        # Booked as income on that day: a payment dated ahead was income in a month to come.
        return _come(self.cleaned_data.get("on"))


class MatchForm(BootstrapFormMixin, forms.Form):
    income_item = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    subscriber = forms.TypedChoiceField(
        label="Paid by", coerce=int, required=False, empty_value=None
    )

    def __init__(self, *args: Any, subscribers: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["subscriber"].choices = [("", "—"), *subscribers]  # type: ignore[attr-defined]


class OfferEditForm(BootstrapFormMixin, forms.Form):
    """What can change on an offer (``offers.update_offer``): its kind, currency and billing
    interval stay, as its subscribers' events are in them."""

    name = forms.CharField(label="Name", max_length=120)
    price = AmountField(
        label="Price", allow_zero=True, help_text="New subscribers pay it; others keep theirs."
    )
    active = forms.BooleanField(label="Still sold", required=False)
    retainer_units = forms.IntegerField(label="Units per period", min_value=1)
    retainer_unit = forms.ChoiceField(label="Units are", choices=RetainerUnit.choices)
    retainer_on_unused = forms.ChoiceField(label="Unused units", choices=UnusedUnits.choices)
    retainer_rollover_cap = forms.IntegerField(
        label="Most units carried over", min_value=0, required=False, help_text="Empty: no cap."
    )

    def __init__(self, *args: Any, currency: str, retainer: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_currency(self, currency)
        if not retainer:
            for name in ("retainer_units", "retainer_unit", "retainer_on_unused"):
                del self.fields[name]
            del self.fields["retainer_rollover_cap"]


class RetainerUseForm(BootstrapFormMixin, OnceTokenMixin):
    on = forms.DateField(label="Used on", widget=_date_widget())
    units = forms.IntegerField(label="Units", min_value=1, max_value=10_000)
    note = forms.CharField(label="What for (optional)", max_length=200, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("on", timezone.localdate())
