"""Forms of the platform operator's console. They check the shape of what a person typed
(amounts in major units as people write them, a rate as a percentage) and turn it into what
the gateway services take; the services decide what it means, and their errors come back
onto the field they name (`apply_error`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.forms import BaseFormSet, formset_factory

from keel.api.keys import MAX_NAME_LENGTH
from keel.money import MoneyError, exponent, format_amount, parse_amount
from keel.web.forms import BootstrapFormMixin, OnceTokenMixin, new_form_token

from .errors import GatewayError
from .rules.clearing import CADENCES
from .rules.policy import PERIODS, Policy

# What each scope lets a platform's program do, in the operator's words.
SCOPE_TEXT = {
    "earnings:write": "send earnings events for your workers (contributions follow your policy)",
    "workers:link": "link your worker references to Keel workers with their link code",
    "clearing:read": "read clearing batches and statements",
    "bundles:write": "offer micro-contract bundles to linked workers",
}


# ---------------------------------------------------------------------------- amounts


def amount_error(currency: str, exc: MoneyError | None = None) -> str:
    example = format_amount(1_250 * 10 ** exponent(currency) // 100, currency)
    reason = f" ({exc})" if exc is not None else ""
    return f"Enter an amount in {currency}, for example {example}{reason}."


def parse_money(text: str, currency: str) -> int | None:
    """Typed money to minor units, exactly (never through float); blank is None."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        minor = parse_amount(text, currency)
    except MoneyError as exc:
        raise forms.ValidationError(amount_error(currency, exc)) from None
    if minor < 0:
        raise forms.ValidationError("Enter an amount of zero or more.")
    return minor


def money_text(minor: int | None, currency: str) -> str:
    """Minor units back to what a person would type, for pre-filled forms."""
    return "" if minor is None else format_amount(minor, currency, grouping=False)


def parse_percent(text: str) -> int | None:
    """A percentage as people type it ("4", "7.5", "4 %") to basis points; blank is None."""
    text = (text or "").strip().removesuffix("%").strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise forms.ValidationError("Enter a percentage such as 4 or 7.5.") from None
    if not value.is_finite():
        raise forms.ValidationError("Enter a percentage such as 4 or 7.5.")
    bps = value * 100
    if bps != bps.to_integral_value():
        raise forms.ValidationError("A rate has at most two decimals (4.25%).")
    if not 0 <= bps <= 10_000:
        raise forms.ValidationError("A rate is between 0% and 100%.")
    return int(bps)


def percent_text(bps: int | None) -> str:
    if bps is None:
        return ""
    whole, hundredths = divmod(bps, 100)
    return str(whole) if not hundredths else f"{whole}.{hundredths:02d}".rstrip("0")


class MoneyField(forms.CharField):
    """A text input for an amount; the form parses it in its currency (see `clean_*`)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("inputmode", "decimal")
        self.widget.attrs.setdefault("autocomplete", "off")


class CurrencyFormMixin:
    """Parses every `MoneyField` of the form in `self.currency` after the usual cleaning."""

    currency: str
    fields: dict[str, forms.Field]
    cleaned_data: dict[str, Any]

    def _parse_amounts(self) -> None:
        for name, field in self.fields.items():
            if not isinstance(field, MoneyField) or name not in self.cleaned_data:
                continue
            try:
                self.cleaned_data[name] = parse_money(self.cleaned_data[name], self.currency)
            except forms.ValidationError as exc:
                self.add_error(name, exc)  # type: ignore[attr-defined]


def apply_error(form: forms.BaseForm, exc: GatewayError, names: dict[str, str]) -> None:
    """Put a service error on the form field it names (``names`` maps service field names
    to form fields); anything else goes on the form as a whole."""
    field = exc.field or ""
    target = names.get(field) or (field if field in form.fields else None)
    form.add_error(target, exc.message)


# ---------------------------------------------------------------------------- platforms


class PlatformForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(
        max_length=120,
        label="Platform name",
        help_text="How workers will see it in Keel, e.g. “Dash Deliveries”.",
    )
    currency = forms.CharField(
        max_length=3,
        initial="USD",
        help_text="The ISO 4217 code you pay contributions in, e.g. USD or EUR.",
    )
    clearing_cadence = forms.ChoiceField(
        choices=[(c, c.capitalize()) for c in CADENCES],
        initial="daily",
        label="Clearing",
        help_text="How often what you owe is closed into a batch for you to pay.",
    )


# ---------------------------------------------------------------------------- keys


class PlatformKeyForm(BootstrapFormMixin, OnceTokenMixin):
    name = forms.CharField(
        max_length=MAX_NAME_LENGTH,
        help_text="Where the key is used, so you recognise it later (e.g. “payroll sync”).",
    )
    scopes = forms.MultipleChoiceField(
        choices=[(name, name) for name in SCOPE_TEXT],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one thing the key may do."},
    )

    def scope_options(self) -> list[dict[str, Any]]:
        chosen = set(self["scopes"].value() or [])
        return [
            {"name": name, "description": text, "checked": name in chosen}
            for name, text in SCOPE_TEXT.items()
        ]


# ---------------------------------------------------------------------------- policies

# Service field (``policy.<key>``) -> form field; tiers are handled by the formset.
POLICY_FIELDS = {
    "effective_from": "effective_from",
    "policy.rate_bps": "rate_percent",
    "policy.include_gross": "include_gross",
    "policy.include_tips": "include_tips",
    "policy.include_bonus": "include_bonus",
    "policy.per_job": "per_job",
    "policy.monthly_minimum": "monthly_minimum",
    "policy.monthly_cap": "monthly_cap",
    "policy.yearly_cap": "yearly_cap",
    "policy.threshold": "threshold",
    "policy.threshold_period": "threshold_period",
    "policy.threshold_includes_tips": "threshold_includes_tips",
    "policy.backdate": "backdate",
    "policy.time_off_unit": "time_off_unit",
    "policy.currency": "__all__",
}
TIER_FIELDS = {"status": "status", "rate_bps": "rate_percent", "per_job": "per_job"}


class PolicyForm(CurrencyFormMixin, BootstrapFormMixin, forms.Form):
    name = forms.CharField(
        max_length=120,
        required=False,
        label="Name of this version",
        help_text="Workers see it beside the terms. Blank: “<platform> contribution policy”.",
    )
    effective_from = forms.DateField(
        label="Effective from",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    rate_percent = forms.CharField(
        max_length=12,
        required=False,
        label="Rate (% of eligible earnings)",
        help_text="For example 4 or 7.5. Leave blank for none.",
    )
    include_gross = forms.BooleanField(required=False, initial=True, label="Gross earnings count")
    include_tips = forms.BooleanField(required=False, label="Tips count")
    include_bonus = forms.BooleanField(required=False, label="Bonuses count")
    per_job = MoneyField(label="Amount per job", help_text="Blank for none.")
    monthly_minimum = MoneyField(
        label="Monthly minimum per worker",
        help_text="In a month a worker works, contributions are topped up to this.",
    )
    monthly_cap = MoneyField(label="Cap per worker per month", help_text="Blank for no cap.")
    yearly_cap = MoneyField(label="Cap per worker per year", help_text="Blank for no cap.")
    threshold = MoneyField(
        label="Eligibility threshold",
        help_text="What a worker must earn in the period before contributions start. "
        "Blank for none.",
    )
    threshold_period = forms.ChoiceField(
        choices=[(p, f"Calendar {p}") for p in PERIODS], initial="quarter", label="Over"
    )
    threshold_includes_tips = forms.BooleanField(
        required=False, label="Tips count toward the threshold"
    )
    backdate = forms.BooleanField(
        required=False,
        label="Back-date to the start of the period once the threshold is reached",
    )
    time_off_unit = MoneyField(
        label="Time off paid out in units of",
        help_text="For example 120.00. Blank to let workers take any amount.",
    )
    # A published version is for good (a change never rewrites the past, and a correction
    # can only start after it), so publishing takes a deliberate tick, not one click.
    confirm = forms.BooleanField(
        label="I publish these terms for good: from the date above they decide every"
        " contribution, and a version cannot be withdrawn, only followed by a new one.",
        error_messages={"required": "Tick the box to publish: a version cannot be withdrawn."},
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency

    @classmethod
    def initial_from(cls, policy: Policy | None, effective_from: date) -> dict[str, Any]:
        """The form pre-filled with the terms in force, so a change starts from them."""
        initial: dict[str, Any] = {"effective_from": effective_from}
        if policy is None:
            return initial
        cur = policy.currency
        initial.update(
            rate_percent=percent_text(policy.rate_bps) if policy.rate_bps else "",
            include_gross=policy.include_gross,
            include_tips=policy.include_tips,
            include_bonus=policy.include_bonus,
            per_job=money_text(policy.per_job or None, cur),
            monthly_minimum=money_text(policy.monthly_minimum or None, cur),
            monthly_cap=money_text(policy.monthly_cap, cur),
            yearly_cap=money_text(policy.yearly_cap, cur),
            threshold=money_text(policy.threshold or None, cur),
            threshold_period=policy.threshold_period,
            threshold_includes_tips=policy.threshold_includes_tips,
            backdate=policy.backdate,
            time_off_unit=money_text(policy.time_off_unit, cur),
        )
        return initial

    def clean_rate_percent(self) -> int | None:
        return parse_percent(self.cleaned_data["rate_percent"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self._parse_amounts()
        # The policy rules check these too (the service's errors land on the same fields);
        # here they are said in the operator's words and amounts.
        data = self.cleaned_data
        if data.get("time_off_unit") == 0:
            self.add_error("time_off_unit", "Enter more than zero, or leave it blank.")
        minimum, cap = data.get("monthly_minimum"), data.get("monthly_cap")
        if minimum and cap is not None and minimum > cap:
            self.add_error(
                "monthly_minimum",
                f"The monthly minimum ({self._money(minimum)}) is above the monthly cap"
                f" ({self._money(cap)}): the policy could not keep both.",
            )
        counted = any(data.get(name) for name in ("include_gross", "include_tips", "include_bonus"))
        if data.get("rate_percent") and not counted:
            self.add_error(
                "include_gross",
                "The rate applies to nothing: tick gross earnings, tips or bonuses.",
            )
        return cleaned

    def _money(self, minor: int) -> str:
        return format_amount(minor, self.currency, symbol=True)

    def terms(self, tiers: list[dict[str, Any]]) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "currency": self.currency,
            "rate_bps": data["rate_percent"] or 0,
            "include_gross": data["include_gross"],
            "include_tips": data["include_tips"],
            "include_bonus": data["include_bonus"],
            "per_job": data["per_job"] or 0,
            "monthly_minimum": data["monthly_minimum"] or 0,
            "monthly_cap": data["monthly_cap"],
            "yearly_cap": data["yearly_cap"],
            "threshold": data["threshold"] or 0,
            "threshold_period": data["threshold_period"],
            "threshold_includes_tips": data["threshold_includes_tips"],
            "backdate": data["backdate"],
            "tiers": tiers,
            "time_off_unit": data["time_off_unit"],
        }


class TierForm(CurrencyFormMixin, BootstrapFormMixin, forms.Form):
    status = forms.CharField(max_length=40, required=False, label="Worker status")
    rate_percent = forms.CharField(max_length=12, required=False, label="Rate (%)")
    per_job = MoneyField(label="Per job")

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean_rate_percent(self) -> int | None:
        return parse_percent(self.cleaned_data["rate_percent"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self._parse_amounts()
        status = (cleaned.get("status") or "").strip()
        cleaned["status"] = status
        has_terms = cleaned.get("rate_percent") is not None or cleaned.get("per_job") is not None
        if has_terms and not status:
            self.add_error("status", "Name the worker status this tier is for.")
        return cleaned

    def tier(self) -> dict[str, Any] | None:
        """The tier as the policy takes it, or None for an empty row."""
        data = self.cleaned_data
        if not data.get("status"):
            return None
        return {
            "status": data["status"],
            "rate_bps": data.get("rate_percent"),
            "per_job": data.get("per_job"),
        }


TierFormSet: type[BaseFormSet[TierForm]] = formset_factory(TierForm, extra=2, max_num=20)


def tier_formset(currency: str, policy: Policy | None, data: Any = None) -> BaseFormSet[TierForm]:
    initial = [
        {
            "status": tier.status,
            "rate_percent": percent_text(tier.rate_bps),
            "per_job": money_text(tier.per_job, currency),
        }
        for tier in (policy.tiers if policy is not None else ())
    ]
    return TierFormSet(data, initial=initial, prefix="tiers", form_kwargs={"currency": currency})


def tiers_of(formset: BaseFormSet[TierForm]) -> list[dict[str, Any]]:
    tiers = []
    for form in formset.forms:
        tier = form.tier()
        if tier is not None:
            tiers.append(tier)
    return tiers


def apply_tier_error(formset: BaseFormSet[TierForm], field: str, message: str) -> bool:
    """``policy.tiers.<n>.<key>`` onto the n-th filled row; True when it found a place."""
    parts = field.split(".")
    if len(parts) < 3 or parts[:2] != ["policy", "tiers"] or not parts[2].isdigit():
        return False
    filled = [form for form in formset.forms if form.tier() is not None]
    index = int(parts[2])
    if index >= len(filled):
        return False
    key = parts[3] if len(parts) > 3 else "status"
    filled[index].add_error(TIER_FIELDS.get(key, "status"), message)
    return True


# ---------------------------------------------------------------------------- workers


class InviteForm(BootstrapFormMixin, forms.Form):
    worker_ref = forms.CharField(
        max_length=120,
        label="Your worker reference",
        help_text="The id your systems use for this worker; your events carry it.",
    )
    email = forms.EmailField(
        label="Worker's email",
        help_text="The invitation shows to the Keel worker with this email, who accepts it.",
    )
    worker_status = forms.CharField(
        max_length=40, required=False, label="Tier (worker status)", help_text="Optional."
    )


# ---------------------------------------------------------------------------- corrections


class CorrectionForm(CurrencyFormMixin, BootstrapFormMixin, forms.Form):
    """A correction of one recorded event: the figures it should have carried, and why.
    The hidden token becomes the correction's id, so a doubled submit records it once."""

    token = forms.CharField(widget=forms.HiddenInput, max_length=64, initial=new_form_token)
    corrects = forms.CharField(
        max_length=120, label="Event id", help_text="The event_id your system sent."
    )
    gross = MoneyField(required=True, label="Correct gross earnings")
    tips = MoneyField(label="Correct tips", help_text="Blank for none.")
    bonus = MoneyField(label="Correct bonus", help_text="Blank for none.")
    jobs = forms.IntegerField(min_value=0, initial=1, label="Correct number of jobs")
    reason = forms.CharField(
        max_length=500,
        label="Why",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="The worker reads this on their statement.",
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["gross"].help_text = f"In {currency}, what the event should have said."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self._parse_amounts()
        for name in ("tips", "bonus"):
            if name in self.cleaned_data and self.cleaned_data[name] is None:
                self.cleaned_data[name] = 0
        return cleaned


# ---------------------------------------------------------------------------- clearing


class RefundForm(CurrencyFormMixin, BootstrapFormMixin, forms.Form):
    """Money sent back to the platform for what it paid above the batch's total."""

    reference = forms.CharField(
        max_length=120,
        label="Refund reference",
        help_text="As it appears on the bank statement of the transfer back.",
    )
    amount = MoneyField(required=True, label="Amount refunded")
    refunded_on = forms.DateField(label="Sent on", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "refund")
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["amount"].help_text = f"In {currency}, at most what the batch holds in excess."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self._parse_amounts()
        if "amount" in self.cleaned_data and not self.cleaned_data["amount"]:
            self.add_error("amount", "Enter the amount refunded, more than zero.")
        return cleaned


class WithdrawSettlementForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(
        max_length=200,
        label="Why it is withdrawn",
        help_text="E.g. the amount was mistyped; it stays in the batch's history.",
        error_messages={"required": "Say why the payment is withdrawn."},
    )


class SettlementForm(CurrencyFormMixin, BootstrapFormMixin, forms.Form):
    reference = forms.CharField(
        max_length=120,
        label="Payment reference",
        help_text="As it appears on the bank statement; recording it again changes nothing.",
    )
    amount = MoneyField(required=True, label="Amount received")
    received_on = forms.DateField(
        label="Received on", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, currency: str, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.today = today
        self.fields["amount"].help_text = f"In {currency}, as paid, e.g. 1250.00."

    def clean_received_on(self) -> date:
        received: date = self.cleaned_data["received_on"]
        if received > self.today:
            raise forms.ValidationError("A payment cannot be received in the future.")
        return received

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self._parse_amounts()
        if "amount" in self.cleaned_data and not self.cleaned_data["amount"]:
            self.add_error("amount", "Enter the amount received, more than zero.")
        return cleaned
