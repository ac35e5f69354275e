"""Forms of the worker's benefits pages. They check the shape of what a person typed; the
gateway services decide what it means (a use is refused above the bucket balance by
``use_benefit``, a withholding rate by ``start_withholding``) and their errors come back
onto the field they name."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

from django import forms
from django.core.files.uploadedfile import UploadedFile

from keel.money import MoneyError, exponent, format_amount, parse_amount
from keel.uploads import MB
from keel.web.forms import BootstrapFormMixin

from .models import UseKind
from .rules import buckets as bucket_rules
from .rules.policy import PolicyError, format_bps
from .services import MAX_RECEIPT_BYTES, consent_text, receipt_matches

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
# Up to 3 whole digits and 2 decimals, an optional % sign: "30", "12.5", "7.25%".
PERCENT = re.compile(r"(\d{1,3})(?:\.(\d{1,2}))?\s*%?")
# The receipts the page takes (the services know a few more); each is checked by its content.
PAGE_RECEIPT_TYPES = (".pdf", ".png", ".jpg", ".jpeg")
RECEIPT_LIMIT_MESSAGE = f"A receipt can be at most {MAX_RECEIPT_BYTES // MB} MB."
MAX_WITHHOLDING_BPS = 5000


def new_token() -> str:
    """A fresh idempotency token for one rendering of a form."""
    return secrets.token_urlsafe(24)


def percent_text(bps: int) -> str:
    """Basis points as the number typed in a percentage box: 3000 -> "30", 1250 -> "12.5"."""
    return format_bps(bps).removesuffix("%")


def parse_percent(text: str) -> int | None:
    """A typed percentage as exact basis points, or None when it is not one."""
    match = PERCENT.fullmatch((text or "").strip())
    if match is None:
        return None
    return int(Decimal(match.group(0).rstrip("% ")) * 100)


def money_example(currency: str) -> str:
    return format_amount(120 * 10 ** exponent(currency), currency)


# ---------------------------------------------------------------------------- allocation


class AllocationForm(BootstrapFormMixin, forms.Form):
    """The share of every future contribution that goes to each bucket, in percent."""

    health = forms.CharField(label="Health", required=False, max_length=8)
    retirement = forms.CharField(label="Retirement", required=False, max_length=8)
    time_off = forms.CharField(label="Time off", required=False, max_length=8)
    emergency = forms.CharField(label="Emergency", required=False, max_length=8)
    tax = forms.CharField(label="Tax set-aside", required=False, max_length=8)

    def __init__(self, *args: Any, allocation: Mapping[str, int] | None = None, **kwargs: Any):
        if allocation is not None and "initial" not in kwargs:
            kwargs["initial"] = {b: percent_text(v) for b, v in allocation.items()}
        kwargs.setdefault("prefix", "allocation")
        super().__init__(*args, **kwargs)
        for bucket in bucket_rules.BUCKETS:
            self.fields[bucket].label = bucket_rules.BUCKET_LABELS[bucket]
            self.fields[bucket].widget.attrs.update({"inputmode": "decimal", "size": 6})
        self.allocation: dict[str, int] = {}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        typed = {b: str(data.get(b) or "") for b in bucket_rules.BUCKETS}
        try:
            self.allocation = bucket_rules.allocation_from_percent(typed)
        except PolicyError as exc:
            bucket = exc.field.removeprefix("allocation.")
            if bucket in self.fields:
                label = bucket_rules.BUCKET_LABELS[bucket]
                if exc.code == "out_of_range":
                    message = f"{label} can be at most 100%."
                else:
                    message = (
                        f"{label}: enter a percentage such as 30 or 12.5 (at most 2 decimals)."
                    )
                self.add_error(bucket, message)
            else:
                total = sum(parse_percent(t) or 0 for t in typed.values())
                self.add_error(
                    None,
                    f"The buckets add up to {format_bps(total)}; they must add up to exactly 100%.",
                )
        return data


# ---------------------------------------------------------------------------- uses


class UseForm(BootstrapFormMixin, forms.Form):
    """Take money out of one bucket. The hidden token is the request's idempotency key:
    the same rendering submitted twice pays once."""

    kind: ClassVar[str]
    amount = forms.CharField(label="Amount", max_length=24)
    currency = forms.ChoiceField(label="Currency", choices=())
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(
        self,
        *args: Any,
        currencies: Sequence[str],
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("prefix", self.kind.replace("_", "-"))
        super().__init__(*args, **kwargs)
        self.currencies = list(currencies) or ["USD"]
        currency = self.fields["currency"]
        assert isinstance(currency, forms.ChoiceField)
        currency.choices = [(c, c) for c in self.currencies]
        currency.initial = self.currencies[0]
        if len(self.currencies) == 1:
            currency.widget = forms.HiddenInput()
        if not self.is_bound:
            self.fields["token"].initial = new_token()
        self.fields["amount"].widget.attrs.update(
            {
                "inputmode": "decimal",
                "autocomplete": "off",
                "placeholder": money_example(self.currencies[0]),
            }
        )
        self.minor = 0

    @property
    def label(self) -> str:
        return str(UseKind(self.kind).label)

    @property
    def slug(self) -> str:
        """The use as it appears in its URL: time_off -> time-off."""
        return self.kind.replace("_", "-")

    def clean_token(self) -> str:
        token = str(self.cleaned_data["token"])
        if TOKEN.fullmatch(token) is None:
            raise forms.ValidationError("This form is out of date; reload the page.")
        return token

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        currency = data.get("currency")
        text = str(data.get("amount") or "").strip()
        if currency and text:
            try:
                self.minor = parse_amount(text, currency)
            except MoneyError as exc:
                example = money_example(currency)
                self.add_error("amount", f"Enter an amount in {currency}, e.g. {example} ({exc}).")
                return data
            if self.minor <= 0:
                self.add_error("amount", "Enter an amount above zero.")
        return data

    def use_kwargs(self) -> dict[str, Any]:
        """What this form adds to the ``use_benefit`` call."""
        return {}


class TimeOffForm(UseForm):
    kind = UseKind.TIME_OFF.value
    note = forms.CharField(label="What it is for (optional)", required=False, max_length=300)


class HealthForm(UseForm):
    kind = UseKind.HEALTH.value
    receipt = forms.FileField(
        label="Receipt",
        help_text=f"A PDF, PNG or JPG of the bill, at most {MAX_RECEIPT_BYTES // MB} MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg"}),
    )
    note = forms.CharField(label="What it was for (optional)", required=False, max_length=300)

    def clean_receipt(self) -> UploadedFile:
        receipt = self.cleaned_data["receipt"]
        assert isinstance(receipt, UploadedFile)
        name = receipt.name or ""
        suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if suffix not in PAGE_RECEIPT_TYPES:
            raise forms.ValidationError("A receipt must be a PDF, PNG or JPG file.")
        if (receipt.size or 0) > MAX_RECEIPT_BYTES:
            raise forms.ValidationError(RECEIPT_LIMIT_MESSAGE)
        receipt.seek(0)
        head = receipt.read(16)
        receipt.seek(0)
        if not receipt_matches(head, suffix):
            raise forms.ValidationError(
                f"This file is not a {suffix.lstrip('.').upper()}: its content does not match"
                " its name."
            )
        return receipt

    def use_kwargs(self) -> dict[str, Any]:
        receipt = self.cleaned_data["receipt"]
        return {"receipt": receipt, "receipt_name": receipt.name or "receipt"}


class RetirementForm(UseForm):
    kind = UseKind.RETIREMENT.value
    provider = forms.CharField(
        label="Retirement provider",
        max_length=120,
        help_text="The plan the money goes to, e.g. your IRA's provider.",
    )

    def use_kwargs(self) -> dict[str, Any]:
        return {"provider": self.cleaned_data["provider"]}


class EmergencyForm(UseForm):
    kind = UseKind.EMERGENCY.value
    note = forms.CharField(label="What it is for (optional)", required=False, max_length=300)


USE_FORMS: dict[str, type[UseForm]] = {
    form.kind: form for form in (TimeOffForm, HealthForm, RetirementForm, EmergencyForm)
}


# ---------------------------------------------------------------------------- withholding


class WithholdingForm(BootstrapFormMixin, forms.Form):
    """Opt in to elective withholding. The consent shown is the consent for the rate in
    ``shown_rate``; a worker who changes the rate is shown the new text to agree to
    before anything starts, so the text recorded is always the text they read."""

    rate = forms.CharField(
        label="Share of each payment",
        max_length=8,
        initial="5",
        help_text="In percent, up to 50. Withheld from the net amount of every payment you"
        " import (after the platform's fees); refunds, fees and payouts are not withheld.",
    )
    shown_rate = forms.CharField(widget=forms.HiddenInput, required=False, max_length=8)
    consent = forms.BooleanField(label="I agree", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "withholding")
        super().__init__(*args, **kwargs)
        self.fields["rate"].widget.attrs.update({"inputmode": "decimal", "size": 6})
        self.rate_bps = 0

    def shown_bps(self) -> int:
        """The rate the consent text on the page is for."""
        if self.is_bound:
            typed = parse_percent(str(self.data.get(self.add_prefix("rate"), "")))
            if typed is not None and 1 <= typed <= MAX_WITHHOLDING_BPS:
                return typed
            shown = parse_percent(str(self.data.get(self.add_prefix("shown_rate"), "")))
            if shown is not None and 1 <= shown <= MAX_WITHHOLDING_BPS:
                return shown
        return parse_percent(str(self.fields["rate"].initial)) or 500

    def consent_text(self) -> str:
        return consent_text(self.shown_bps())

    def shown_rate_text(self) -> str:
        return percent_text(self.shown_bps())

    def clean_rate(self) -> int:
        bps = parse_percent(str(self.cleaned_data["rate"]))
        if bps is None:
            raise forms.ValidationError("Enter a percentage such as 5 or 2.5.")
        if not 1 <= bps <= MAX_WITHHOLDING_BPS:
            raise forms.ValidationError("Withholding is between 0.01% and 50% of each payment.")
        return bps

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "rate" not in data:
            return data
        self.rate_bps = int(data["rate"])
        shown = parse_percent(str(data.get("shown_rate") or ""))
        if shown != self.rate_bps:
            self.add_error(
                "consent",
                f"You changed the rate to {format_bps(self.rate_bps)}: read the consent for"
                " that rate below and tick the box to agree to it.",
            )
        elif not data.get("consent"):
            self.add_error("consent", "Tick the box to agree to the consent above.")
        return data
