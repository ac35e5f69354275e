"""The skills and peers pages' forms. The services check everything again; a refusal
comes back onto the field it names (``forms.add_career_error``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from keel.money import is_currency
from keel.web.forms import BootstrapFormMixin, OnceTokenMixin

from .forms import CURRENCIES, AmountField, _date_widget, _set_currency
from .models import Milestone, OfferPayment, Skill

LEVELS = [
    (1, "1 · learning"),
    (2, "2 · working knowledge"),
    (3, "3 · solid"),
    (4, "4 · advanced"),
    (5, "5 · expert"),
]


class SkillForm(BootstrapFormMixin, OnceTokenMixin):
    name = forms.CharField(
        label="Skill",
        max_length=60,
        help_text="One skill, e.g. copywriting. Adding one you have changes its level.",
    )
    level = forms.TypedChoiceField(label="Level", choices=LEVELS, coerce=int, initial=3)
    acquired_on = forms.DateField(label="Since (optional)", required=False, widget=_date_widget())


class WorkLogForm(BootstrapFormMixin, OnceTokenMixin):
    done_on = forms.DateField(label="Done on", widget=_date_widget())
    hours = forms.IntegerField(label="Hours", min_value=0, max_value=744, initial=0)
    extra_minutes = forms.IntegerField(label="and minutes", min_value=0, max_value=59, initial=0)
    currency = forms.CharField(
        label="Currency",
        max_length=3,
        widget=forms.TextInput(attrs={"list": "currencies", "size": 4, "autocomplete": "off"}),
    )
    income = AmountField(
        label="Income",
        allow_zero=True,
        required=False,
        help_text="What the work paid. Leave empty when it is linked below: the milestone's"
        " released amount or the payment's amount is used.",
    )
    client_name = forms.CharField(label="Client (optional)", max_length=200, required=False)
    skills = forms.ModelMultipleChoiceField(
        label="Skills used",
        queryset=Skill.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )
    milestone = forms.ModelChoiceField(
        label="Contract milestone (optional)", queryset=Milestone.objects.none(), required=False
    )
    offer_payment = forms.ModelChoiceField(
        label="Offer payment (optional)", queryset=OfferPayment.objects.none(), required=False
    )

    def __init__(
        self, *args: Any, currency: str, choices: dict[str, Any], skills: Any, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        _set_currency(self, currency)
        fields: dict[str, Any] = self.fields
        fields["skills"].queryset = skills
        fields["milestone"].queryset = choices["milestones"]
        fields["milestone"].label_from_instance = lambda m: (
            f"{m.contract.title}: {m.sequence}. {m.deliverable}"
        )
        fields["offer_payment"].queryset = choices["payments"]
        fields["offer_payment"].label_from_instance = lambda p: f"{p.offer.name} on {p.on}"
        if not self.is_bound:
            self.initial.setdefault("currency", currency)
            self.initial.setdefault("done_on", timezone.localdate())

    def clean_currency(self) -> str:
        code = str(self.cleaned_data.get("currency") or "").strip().upper()
        if not is_currency(code):
            raise forms.ValidationError("Enter an ISO 4217 currency code, such as EUR or USD.")
        return code

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        minutes = (data.get("hours") or 0) * 60 + (data.get("extra_minutes") or 0)
        if "hours" in data and "extra_minutes" in data and minutes < 1:
            self.add_error("hours", "How long did it take? At least one minute.")
        data["minutes"] = minutes
        return data


class SharingForm(BootstrapFormMixin, forms.Form):
    opted_in = forms.BooleanField(
        label="Share and see anonymised peer figures",
        required=False,
        help_text="Your ceilings count in figures of five or more peers, never alone, and"
        " your suggestion may use such figures.",
    )


class GroupForm(BootstrapFormMixin, OnceTokenMixin):
    name = forms.CharField(label="Group name", max_length=120)


class InviteForm(BootstrapFormMixin, forms.Form):
    email = forms.EmailField(label="Their Keel email", max_length=254)


class ReferralForm(BootstrapFormMixin, OnceTokenMixin):
    to_worker = forms.TypedChoiceField(label="Pass it to", coerce=int, choices=[])
    title = forms.CharField(label="Gig", max_length=200)
    client_name = forms.CharField(label="Client (optional)", max_length=200, required=False)
    description = forms.CharField(
        label="Details (optional)",
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    fee_amount = AmountField(label="Referral fee (optional)", required=False)
    fee_currency = forms.CharField(
        label="Fee currency",
        max_length=3,
        required=False,
        widget=forms.TextInput(attrs={"list": "currencies", "size": 4, "autocomplete": "off"}),
    )

    def __init__(
        self, *args: Any, members: list[tuple[int, str]], currency: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        fields: dict[str, Any] = self.fields
        fields["to_worker"].choices = members
        _set_currency(self, currency)
        if not self.is_bound:
            self.initial.setdefault("fee_currency", currency)


__all__ = [
    "CURRENCIES",
    "GroupForm",
    "InviteForm",
    "ReferralForm",
    "SharingForm",
    "SkillForm",
    "WorkLogForm",
]
