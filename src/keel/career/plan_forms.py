"""The plan pages' forms: a new 90-day plan, a key action, a weekly check-in. Amounts are
typed in major units of the plan's currency and clean to integer minor units; a service's
refusal comes back onto the field it names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils import timezone

from keel.web.forms import BootstrapFormMixin

from .forms import AmountField, _date_widget, _set_currency

TYPED = ""


class PlanForm(BootstrapFormMixin, forms.Form):
    starts_on = forms.DateField(label="Starts on", widget=_date_widget())
    currency = forms.ChoiceField(label="Currency of the MRR target")
    target_mrr = AmountField(
        label="Target MRR on day 90",
        allow_zero=True,
        help_text="Monthly recurring revenue to reach in 90 days. It starts from your MRR "
        "on the first day, read from your offers.",
    )
    expansion_source = forms.ChoiceField(
        label="Expansion channel: one of your income sources",
        required=False,
    )
    expansion_name = forms.CharField(
        label="…or a new channel",
        max_length=100,
        required=False,
        help_text="A plan expands into exactly one channel: choose a source or type one.",
    )
    expansion_target = AmountField(
        label="Income from the channel over the 90 days (optional)",
        allow_zero=True,
        required=False,
    )

    def __init__(
        self,
        *args: Any,
        currency: str,
        currencies: Sequence[str],
        sources: Sequence[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        _set_currency(self, currency)
        currency_field = self.fields["currency"]
        source_field = self.fields["expansion_source"]
        assert isinstance(currency_field, forms.ChoiceField)
        assert isinstance(source_field, forms.ChoiceField)
        currency_field.choices = [(c, c) for c in currencies]
        source_field.choices = [(TYPED, "— type a new channel —"), *sources]
        if not self.is_bound:
            self.fields["starts_on"].initial = timezone.localdate()
            self.fields["currency"].initial = currency

    def channels(self) -> list[str]:
        """Every channel the form names: the service accepts exactly one."""
        data = self.cleaned_data
        return [c for c in (data.get("expansion_source"), data.get("expansion_name")) if c]


class ActionForm(BootstrapFormMixin, forms.Form):
    title = forms.CharField(label="Key action", max_length=200)
    due_on = forms.DateField(label="Due on", widget=_date_widget())


class CheckInForm(BootstrapFormMixin, forms.Form):
    on = forms.DateField(label="Check-in on", widget=_date_widget())
    note = forms.CharField(
        label="How did the week go?",
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.fields["on"].initial = timezone.localdate()
