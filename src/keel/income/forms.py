"""Forms of the income pages. They check the shape of what a person typed; the income
services decide what it means (an import is previewed by ``preview_upload``, a rate set by
``set_rate``), and their errors come back onto the field they name."""

from __future__ import annotations

import codecs
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from keel.accounts.models import User
from keel.ledger.rules import MAX_LEG_AMOUNT
from keel.money import MoneyError, exponent, format_amount, is_currency, parse_amount
from keel.web.forms import BootstrapFormMixin, new_form_token

from .importers import FORMATS
from .models import ImportProfileRecord, IncomeSettings, Source, SourceKind, StreamKind

MB = 1024 * 1024
MAX_UPLOAD_BYTES: int = settings.KEEL_MAX_IMPORT_BYTES
MAX_RATE_FILE_BYTES = 5 * MB
RATE_FILE_TOO_LARGE = f"The rate file is larger than {MAX_RATE_FILE_BYTES // MB} MB; split it."
AUTO = "auto"

DATE_ORDER_CHOICES = [
    ("", "Decide from the file (refuse ambiguous dates)"),
    ("MDY", "Month/day/year (US, 03/04 = March 4)"),
    ("DMY", "Day/month/year (03/04 = 3 April)"),
    ("YMD", "Year/month/day"),
]


def format_choices() -> list[tuple[str, str]]:
    return [(AUTO, "Detect from the file's header"), *((n, s.label) for n, s in FORMATS.items())]


def _amount_error(currency: str, exc: MoneyError) -> str:
    example = format_amount(2_400 * 10 ** exponent(currency), currency)
    return f"Enter an amount in {currency}, for example {example} ({exc})."


def parse_money_field(text: str, currency: str, *, allow_blank: bool = True) -> int:
    """Typed money to minor units, exactly (never through float); errors name the currency
    and its decimals."""
    text = (text or "").strip()
    if not text:
        if allow_blank:
            return 0
        raise forms.ValidationError("Enter an amount.")
    try:
        minor = parse_amount(text, currency)
    except MoneyError as exc:
        raise forms.ValidationError(_amount_error(currency, exc)) from None
    if minor < 0:
        raise forms.ValidationError("Enter an amount of zero or more.")
    if minor > MAX_LEG_AMOUNT:
        # The ledger's largest amount (a salary is paid in one leg); a larger one did not
        # fit the database column either, and saving it was a server error.
        largest = format_amount(MAX_LEG_AMOUNT, currency)
        raise forms.ValidationError(f"Enter an amount of at most {largest} {currency}.")
    return minor


# ---------------------------------------------------------------------------- sources


class SourceForm(BootstrapFormMixin, forms.ModelForm):  # type: ignore[type-arg]
    """Rename a source or change what it is. The slug (and with it the source's ledger
    accounts) stays, so renaming never splits a source's history."""

    class Meta:
        model = Source
        fields = ("name", "kind", "default_stream")
        labels = {"name": "Name", "kind": "What it is", "default_stream": "Default stream"}
        help_texts = {
            "default_stream": "Applies to items imported from now on when the file does not "
            "say which kind of income a row is.",
        }

    def __init__(self, *args: Any, worker: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.worker = worker

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the source a name.")
        clash = Source.objects.filter(worker=self.worker, name__iexact=name)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(f"You already have a source named “{name}”.")
        return name


class NewSourceForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(max_length=120)
    kind = forms.ChoiceField(
        choices=SourceKind.choices, initial=SourceKind.CLIENT, label="What it is"
    )
    default_stream = forms.ChoiceField(
        choices=StreamKind.choices,
        initial=StreamKind.PROJECT,
        label="Default stream",
        help_text="Recurring: memberships, retainers. Project: fees, milestones. "
        "Micro-work: platform gigs and tasks.",
    )
    currency = forms.CharField(
        max_length=3,
        label="Currency",
        help_text="The ISO 4217 code this source pays in, e.g. USD or EUR.",
    )

    def __init__(self, *args: Any, worker: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.worker = worker
        self.fields["currency"].initial = worker.home_currency

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if Source.objects.filter(worker=self.worker, name__iexact=name).exists():
            raise forms.ValidationError(f"You already have a source named “{name}”.")
        return name

    def clean_currency(self) -> str:
        code: str = self.cleaned_data["currency"].strip().upper()
        if not is_currency(code):
            raise forms.ValidationError(f"“{code}” is not an ISO 4217 currency code.")
        return code


# ---------------------------------------------------------------------------- import


class ImportForm(BootstrapFormMixin, forms.Form):
    file = forms.FileField(
        label="Export file",
        help_text=f"A CSV export from your platform, up to {MAX_UPLOAD_BYTES // MB} MB.",
    )
    format = forms.ChoiceField(label="Format", initial=AUTO)
    profile = forms.ModelChoiceField(
        queryset=ImportProfileRecord.objects.none(),
        required=False,
        label="Import profile",
        help_text="Only for the generic CSV format: the saved column mapping to read it with.",
    )
    source_name = forms.CharField(
        max_length=120,
        required=False,
        label="Source",
        widget=forms.TextInput(attrs={"placeholder": "The platform's name"}),
        help_text="Where this money came from. Leave empty to use the platform's name.",
    )
    date_order = forms.ChoiceField(
        choices=DATE_ORDER_CHOICES,
        required=False,
        label="Dates like 03/04",
    )

    def __init__(self, *args: Any, worker: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.worker = worker
        fmt = self.fields["format"]
        assert isinstance(fmt, forms.ChoiceField)
        fmt.choices = format_choices()
        profile = self.fields["profile"]
        assert isinstance(profile, forms.ModelChoiceField)
        profile.queryset = ImportProfileRecord.objects.filter(worker=worker).order_by("name")
        self.fields["file"].widget.attrs["accept"] = ".csv,.txt,.tsv,text/csv,text/plain"

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(too_large_message())
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        profile = data.get("profile")
        if data.get("format") == "csv" and not profile:
            self.add_error(
                "profile",
                "The generic CSV format reads a file through a saved import profile; "
                "choose one (or pick the platform's own format).",
            )
        upload = data.get("file")
        if upload is not None:
            # Checked here, not in clean_file: a profile may read UTF-16, whose text is
            # full of NUL bytes.
            encoding = "utf-8"
            if data.get("format") == "csv" and profile is not None:
                encoding = str(profile.config.get("encoding") or encoding)
            problem = binary_problem(_head(upload), encoding)
            if problem:
                self.add_error("file", problem)
        return data

    @property
    def head(self) -> bytes:
        return _head(self.cleaned_data["file"])


def _head(upload: UploadedFile, size: int = 64 * 1024) -> bytes:
    upload.seek(0)
    head: bytes = upload.read(size)
    upload.seek(0)
    return head


def too_large_message() -> str:
    # The upload is cut off at the limit, so its real size is unknown: say what is allowed.
    return (
        f"The file is larger than {MAX_UPLOAD_BYTES // MB} MB, the most Keel imports at "
        "once. Export a shorter date range and import the parts: overlapping exports add "
        "nothing twice."
    )


def binary_problem(head: bytes, encoding: str = "utf-8") -> str | None:
    """Why the first bytes of an upload are not a text export (in ``encoding``, the one a
    profile names), or None when they are."""
    if head.startswith(b"PK\x03\x04"):
        return (
            "This looks like a spreadsheet (.xlsx) or a zip archive, not a CSV text file. "
            "Export or save it as CSV and upload that."
        )
    if head.startswith(b"%PDF"):
        return "This is a PDF, not a CSV text file. Download the CSV export instead."
    if _wide_encoding(encoding):
        return None  # NUL bytes are half of UTF-16 text; reading it checks the rest
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return (
            "This file is saved as UTF-16 (Excel's “Unicode text”). Save it as “CSV UTF-8” "
            "and upload that."
        )
    # A NUL byte never appears in UTF-8 text; it is the surest sign of a binary file.
    if b"\x00" in head:
        return (
            "This file is not text (it contains binary data). Keel reads CSV exports; "
            "upload the CSV your platform gives you."
        )
    return None


def _wide_encoding(encoding: str) -> bool:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return False
    return name.startswith(("utf-16", "utf-32"))


# ---------------------------------------------------------------------------- rates


class RateForm(BootstrapFormMixin, forms.Form):
    base = forms.CharField(max_length=3, label="From", help_text="e.g. EUR")
    quote = forms.CharField(max_length=3, label="To", help_text="Your home currency")
    on = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    rate = forms.CharField(
        max_length=40, label="Rate", help_text="How many units of “To” one unit of “From” buys."
    )

    def __init__(self, *args: Any, worker: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["quote"].initial = worker.home_currency

    def clean_base(self) -> str:
        return str(self.cleaned_data["base"]).strip().upper()

    def clean_quote(self) -> str:
        return str(self.cleaned_data["quote"]).strip().upper()

    def clean_rate(self) -> Decimal:
        text = str(self.cleaned_data["rate"]).strip()
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise forms.ValidationError(
                f"“{text}” is not a number; write it like 1.0842."
            ) from None
        if not value.is_finite() or value <= 0:
            raise forms.ValidationError("The rate must be a positive number.")
        return value


class RateFileForm(BootstrapFormMixin, forms.Form):
    file = forms.FileField(
        label="Rate file",
        help_text="CSV with the header date,base,quote,rate, e.g. 2026-03-02,EUR,USD,1.0842.",
    )

    def clean_file(self) -> str:
        upload: UploadedFile = self.cleaned_data["file"]
        if upload.size is not None and upload.size > MAX_RATE_FILE_BYTES:
            raise forms.ValidationError(RATE_FILE_TOO_LARGE)
        raw: bytes = upload.read()
        problem = binary_problem(raw[: 64 * 1024])
        if problem:
            raise forms.ValidationError(problem)
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError(
                f"The rate file is not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV."
            ) from None


# ---------------------------------------------------------------------------- settings


class IncomeSettingsForm(BootstrapFormMixin, forms.Form):
    """The worker's income settings. Amounts are typed in the home currency and parsed
    exactly; the tax rate is a percentage with up to two decimals, stored in basis points."""

    essential_expenses = forms.CharField(
        max_length=40,
        required=False,
        label="Essential monthly expenses",
        help_text="Rent, food, insurance, debt payments: what a month costs before extras.",
    )
    tax_set_aside = forms.BooleanField(required=False, label="Set tax aside from each payment")
    tax_rate = forms.CharField(
        max_length=10,
        label="Tax set-aside rate (%)",
        help_text="Up to two decimals, e.g. 25 or 27.5.",
    )
    salary = forms.CharField(
        max_length=40,
        required=False,
        label="Monthly salary",
        help_text="What you pay yourself from the buffer each month. Leave at 0 to follow "
        "Keel's recommendation.",
    )
    salary_day = forms.IntegerField(
        min_value=1,
        max_value=28,
        label="Pay day",
        help_text="Day of the month, 1 to 28, so every month has it.",
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        for name in ("essential_expenses", "salary"):
            self.fields[name].label = f"{self.fields[name].label} ({currency})"
            self.fields[name].widget.attrs["inputmode"] = "decimal"
        self.fields["tax_rate"].widget.attrs["inputmode"] = "decimal"

    @classmethod
    def initial_from(cls, settings: IncomeSettings, currency: str) -> dict[str, Any]:
        return {
            "essential_expenses": format_amount(settings.essential_expenses, currency),
            "tax_set_aside": settings.tax_set_aside,
            "tax_rate": format_percent_bps(settings.tax_rate_bps),
            "salary": format_amount(settings.salary, currency),
            "salary_day": settings.salary_day,
        }

    def clean_essential_expenses(self) -> int:
        return parse_money_field(self.cleaned_data["essential_expenses"], self.currency)

    def clean_salary(self) -> int:
        return parse_money_field(self.cleaned_data["salary"], self.currency)

    def clean_tax_rate(self) -> int:
        return percent_to_bps(self.cleaned_data["tax_rate"])

    def apply_to(self, settings: IncomeSettings) -> None:
        settings.essential_expenses = self.cleaned_data["essential_expenses"]
        settings.tax_set_aside = self.cleaned_data["tax_set_aside"]
        settings.tax_rate_bps = self.cleaned_data["tax_rate"]
        settings.salary = self.cleaned_data["salary"]
        settings.salary_day = self.cleaned_data["salary_day"]


class BufferMoveForm(BootstrapFormMixin, forms.Form):
    """Money put into the salary buffer or taken back out, in the home currency. The hidden
    token is the move's idempotency key: the same rendering sent twice moves money once."""

    amount = forms.CharField(
        max_length=40, label="Amount", error_messages={"required": "Enter an amount."}
    )
    direction = forms.ChoiceField(
        choices=[("in", "Put into the buffer"), ("out", "Take out of the buffer")],
        widget=forms.HiddenInput,
    )
    token = forms.CharField(widget=forms.HiddenInput, max_length=64, initial=new_form_token)

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "buffer")
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["amount"].label = f"Amount ({currency})"
        self.fields["amount"].widget.attrs["inputmode"] = "decimal"

    def clean_amount(self) -> int:
        minor = parse_money_field(self.cleaned_data["amount"], self.currency, allow_blank=False)
        if minor == 0:
            raise forms.ValidationError("Enter an amount above zero.")
        return minor


def percent_to_bps(text: str) -> int:
    """ "27.5" -> 2750. Exact: a Decimal with at most two places, 0 to 100."""
    cleaned = (text or "").strip().rstrip("%").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise forms.ValidationError(
            f"“{text}” is not a percentage; write it like 25 or 27.5."
        ) from None
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(100):
        raise forms.ValidationError("Enter a percentage between 0 and 100.")
    if value != value.quantize(Decimal("0.01")):
        raise forms.ValidationError("Use at most two decimals, e.g. 27.25.")
    return int(value * 100)


def format_percent_bps(bps: int) -> str:
    """2750 -> "27.5", 2500 -> "25", 1234 -> "12.34"."""
    whole, part = divmod(bps, 100)
    return f"{whole}" if not part else f"{whole}.{part:02d}".rstrip("0")


# ---------------------------------------------------------------------------- profiles


class ImportProfileForm(BootstrapFormMixin, forms.Form):
    config = forms.CharField(
        label="Profile (JSON)",
        widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false", "class": "font-monospace"}),
        help_text=(
            "Name, column mapping, date format or order, separators, sign and encoding, as"
            " described in docs/importers.md. Saving a profile with an existing name replaces it."
        ),
    )

    def clean_config(self) -> dict[str, Any]:
        text: str = self.cleaned_data["config"]
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"This is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from None
        if not isinstance(value, dict):
            raise forms.ValidationError("A profile is a JSON object ({...}).")
        return value
