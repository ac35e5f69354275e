"""Forms of the pool pages. They check the shape of what a person typed (an amount in the
pool's currency, a percentage, a date); the pools services and rules decide what it means,
and their errors (``PoolError.field`` and ``.details``) come back onto the input they name
through ``add_pool_error``.

Amounts are typed in major units (``1,500.00``) and parsed exactly with
``keel.money.parse_amount``; rates are typed in percent (``4.5``) and become basis points.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from django import forms
from django.utils import timezone

from keel.money import MoneyError, exponent, format_amount, is_currency, parse_amount
from keel.web.forms import BootstrapFormMixin, OnceTokenMixin

from .errors import PoolError
from .models import Choice, Decision, PoolKind
from .rules.pool_rules import BPS_WHOLE, format_percent
from .rules.simulate import MAX_YEARS, ClaimHistory

# Up to 3 whole digits and 2 decimals, an optional % sign: "4.5", "50.01", "100%".
PERCENT = re.compile(r"(\d{1,3})(?:\.(\d{1,2}))?\s*%?")
# Tiers are separated by semicolons, spaces or a comma followed by a space, so that
# "1,500.00" stays one amount.
TIER_SEPARATOR = re.compile(r"\s*;\s*|\s*,\s+|\s+")
MONTH = re.compile(r"(\d{4})-(\d{2})")
# The simulator page runs this many scenarios inside the request; more go to the task
# queue, and the page follows their progress.
INLINE_SCENARIOS = 5_000
# ...and as long as the run stays within this many simulated member-months (5,000
# scenarios of 50 members over 5 years take about a quarter of a second).
INLINE_MEMBER_MONTHS = 15_000_000
MAX_PAGE_SCENARIOS = 200_000
MAX_PAGE_MEMBERS = 1_000


def percent_text(bps: int) -> str:
    """Basis points as typed in a percentage box: 450 -> "4.5", 5001 -> "50.01"."""
    return format_percent(bps).removesuffix("%")


def parse_percent(text: str) -> int | None:
    """A typed percentage as exact basis points, or None when it is not one."""
    match = PERCENT.fullmatch((text or "").strip())
    if match is None:
        return None
    return int(Decimal(match.group(0).rstrip("% ")) * 100)


def amount_text(minor: int, currency: str, *, grouping: bool = True) -> str:
    return format_amount(minor, currency, grouping=grouping)


def money_example(currency: str) -> str:
    return format_amount(1_500 * 10 ** exponent(currency), currency)


def month_text(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def parse_month(text: str) -> date | None:
    match = MONTH.fullmatch((text or "").strip())
    if match is None:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or year < 1900:
        return None
    return date(year, month, 1)


class AmountField(forms.CharField):
    """An amount typed in major units of ``currency``; cleans to integer minor units."""

    def __init__(self, *args: Any, allow_zero: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 24)
        super().__init__(*args, **kwargs)
        self.currency = "EUR"
        self.allow_zero = allow_zero
        self.widget.attrs.update({"inputmode": "decimal", "autocomplete": "off"})

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
        return minor


class PercentField(forms.CharField):
    """A percentage typed with at most two decimals; cleans to basis points. With
    ``bounds`` (in basis points) a percentage outside them is refused in percent, the
    unit the person typed, rather than by the rules in basis points."""

    def __init__(self, *args: Any, bounds: tuple[int, int] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 8)
        super().__init__(*args, **kwargs)
        self.bounds = bounds
        self.widget.attrs.update({"inputmode": "decimal", "size": 6})

    def clean(self, value: Any) -> int | None:
        text = str(super().clean(value) or "").strip()
        if not text:
            return None
        bps = parse_percent(text)
        if bps is None:
            raise forms.ValidationError("Enter a percentage such as 4.5 (at most 2 decimals).")
        if self.bounds is not None and not self.bounds[0] <= bps <= self.bounds[1]:
            low, high = (format_percent(b) for b in self.bounds)
            raise forms.ValidationError(f"Enter a percentage from {low} to {high}.")
        return bps


def _count(label: str, help_text: str = "", minimum: int = 0) -> forms.IntegerField:
    return forms.IntegerField(label=label, min_value=minimum, help_text=help_text)


# ---------------------------------------------------------------------------- rules


class RulesForm(BootstrapFormMixin, forms.Form):
    """The rule fields of one kind of pool. ``rules`` (after ``is_valid``) is the rules
    as the services take them: every field of the kind, amounts in minor units, rates in
    basis points."""

    kind: ClassVar[str]
    # Form field -> rule name, where they differ (percentages are basis points in rules).
    RULE_NAMES: ClassVar[dict[str, str]] = {
        "deposit_rate": "deposit_rate_bps",
        "quorum": "quorum_bps",
        "majority": "majority_bps",
    }

    min_members = _count("Fewest members", "A pool pays no claims until it has this many.", 2)
    max_members = _count("Most members", minimum=2)
    quorum = PercentField(
        label="Quorum (% of members)",
        bounds=(1, BPS_WHOLE),
        help_text="The share of the members who must cast a ballot for a vote to count.",
    )
    # At least half: below it a proposal most voters reject would pass. The rules
    # themselves accept less so that pools stored before this check still load.
    majority = PercentField(
        label="Majority (% of votes cast)",
        bounds=(BPS_WHOLE // 2, BPS_WHOLE),
        help_text="50.01 is more than half; 100 is every vote.",
    )
    admission_by_vote = forms.BooleanField(label="Admit new members by a vote", required=False)
    public = forms.BooleanField(
        label="Public pool",
        required=False,
        help_text="Outsiders can read its page and ledger, with members shown by pseudonym only.",
    )

    def __init__(
        self, *args: Any, currency: str, rules: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        for field in self.fields.values():
            if isinstance(field, AmountField):
                field.currency = currency
                field.widget.attrs["placeholder"] = money_example(currency)
        if rules is not None and not self.is_bound:
            self.initial.update(self.initial_from(rules))
        self.rules: dict[str, Any] = {}

    def initial_from(self, rules: Mapping[str, Any]) -> dict[str, Any]:
        initial: dict[str, Any] = {}
        for name, field in self.fields.items():
            rule = self.RULE_NAMES.get(name, name)
            if rule not in rules:
                continue
            value = rules[rule]
            if isinstance(field, AmountField):
                initial[name] = amount_text(int(value), self.currency)
            elif isinstance(field, PercentField):
                initial[name] = percent_text(int(value))
            else:
                initial[name] = value
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        rules: dict[str, Any] = {"kind": self.kind, "currency": self.currency}
        for name in self.fields:
            value = data.get(name)
            if value is None:
                continue
            rules[self.RULE_NAMES.get(name, name)] = value
        self.rules = rules
        return data

    def field_for(self, rule_path: str | None) -> str | None:
        """The form field a rule error is about: ``rules.tiers[3]`` -> ``tiers``."""
        if not rule_path:
            return None
        name = re.split(r"[.\[]", rule_path.removeprefix("rules."), maxsplit=1)[0]
        by_rule = {rule: field for field, rule in self.RULE_NAMES.items()}
        name = by_rule.get(name, name)
        return name if name in self.fields else None


def _words(text: str, form: forms.Form) -> str:
    """Rule names in the words of the form: ``tiers[3]`` -> ``tier 4``,
    ``min_members`` -> ``fewest members``."""
    text = re.sub(r"tiers\[(\d+)\]", lambda m: f"tier {int(m.group(1)) + 1}", text)
    for name, field in form.fields.items():
        rule = RulesForm.RULE_NAMES.get(name, name)
        if "_" in rule and rule in text and field.label:
            text = text.replace(rule, str(field.label).split(" (")[0].lower())
    return text


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:].rstrip(".") + "."


def add_pool_error(forms_: Sequence[forms.Form], exc: PoolError) -> None:
    """Put a service's refusal onto the input it names, in the first form that has that
    input, one message per detail (the rules report every problem at once); what names no
    input becomes the first form's error."""
    details = exc.details or [{"field": exc.field, "reason": exc.message}]
    for detail in details:
        path = str(detail.get("field") or "")
        reason = str(detail.get("reason") or exc.message)
        for form in forms_:
            if isinstance(form, RulesForm):
                field = form.field_for(path)
                if field is not None:
                    rule_path = path.removeprefix("rules.")
                    # An indexed path says which tier: "Tier 4 must be greater than tier 3".
                    text = f"{rule_path} {reason}" if "[" in rule_path else reason
                    form.add_error(field, _sentence(_words(text, form)))
                    break
            elif path in form.fields:
                form.add_error(path, _sentence(reason))
                break
        else:
            if forms_:
                text = exc.message if len(details) == 1 else reason
                forms_[0].add_error(None, _sentence(text))


class SickLeaveRulesForm(RulesForm):
    kind = PoolKind.SICK_LEAVE.value
    tiers = forms.CharField(
        label="Tiers (monthly gifts)",
        max_length=400,
        help_text="The monthly gifts a member can choose, lowest first, separated by spaces"
        " or semicolons.",
    )
    deposit_rate = PercentField(
        label="Monthly deposit (% of the tier)",
        bounds=(1, BPS_WHOLE),
        help_text="Each member deposits this share of their tier's gift into their own"
        " reserve every month.",
    )
    reserve_cap_deposits = _count(
        "Reserve cap (monthly deposits)", "Anything above is refunded once a year.", 1
    )
    waiting_months = _count("Waiting period (months)")
    max_gift_months = _count("Longest run of gifts (months)", minimum=1)
    approvals_required = _count(
        "Approvals a claim needs",
        "Members other than the claimant; fewer than the fewest members.",
        1,
    )
    grace_months = _count(
        "Grace for an unpaid deposit (months)",
        "How long a deposit may stay unpaid before the right to claim is suspended.",
    )
    entry_fee = AmountField(label="Entry fee", required=False, allow_zero=True)

    field_order = [
        "tiers",
        "deposit_rate",
        "reserve_cap_deposits",
        "waiting_months",
        "max_gift_months",
        "approvals_required",
        "grace_months",
        "entry_fee",
    ]

    def initial_from(self, rules: Mapping[str, Any]) -> dict[str, Any]:
        initial = super().initial_from(rules)
        if "tiers" in rules:
            initial["tiers"] = "; ".join(amount_text(int(t), self.currency) for t in rules["tiers"])
        return initial

    def clean_tiers(self) -> list[int]:
        text = str(self.cleaned_data.get("tiers") or "").strip()
        parts = [p for p in TIER_SEPARATOR.split(text) if p]
        if not parts:
            raise forms.ValidationError("List at least one monthly gift.")
        tiers = []
        for part in parts:
            try:
                tiers.append(parse_amount(part, self.currency))
            except MoneyError:
                raise forms.ValidationError(
                    f"“{part}” is not an amount in {self.currency}; write each gift like"
                    f" {money_example(self.currency)}, separated by semicolons."
                ) from None
        return tiers

    def clean_entry_fee(self) -> int:
        return int(self.cleaned_data.get("entry_fee") or 0)


class EmergencyRulesForm(RulesForm):
    kind = PoolKind.EMERGENCY.value
    contribution = AmountField(label="Monthly contribution")
    grant_limit_per_year = AmountField(label="Grant limit per member per year")
    vote_above = AmountField(
        label="Grants that need a vote: above",
        allow_zero=True,
        help_text="A grant above this also needs a vote of the members.",
    )
    approvals_required = _count("Approvals a grant needs", minimum=1)
    grace_months = _count("Grace for an unpaid contribution (months)")
    field_order = [
        "contribution",
        "grant_limit_per_year",
        "vote_above",
        "approvals_required",
        "grace_months",
    ]


class HealthSharingRulesForm(RulesForm):
    kind = PoolKind.HEALTH_SHARING.value
    monthly_share = AmountField(label="Monthly share")
    unshared_amount = AmountField(
        label="Paid by the member first", allow_zero=True, help_text="For each need."
    )
    cap_per_need = AmountField(label="Shared at most per need")
    cap_per_year = AmountField(label="Shared at most per member per year")
    approvals_required = _count("Approvals a need needs", minimum=1)
    grace_months = _count("Grace for an unpaid share (months)")
    field_order = [
        "monthly_share",
        "unshared_amount",
        "cap_per_need",
        "cap_per_year",
        "approvals_required",
        "grace_months",
    ]


class RotatingRulesForm(RulesForm):
    kind = PoolKind.ROTATING_SAVINGS.value
    contribution = AmountField(label="Monthly contribution")
    order = forms.ChoiceField(
        label="Order of takers",
        choices=[("lottery", "By lottery"), ("agreement", "By agreement")],
    )
    field_order = ["contribution", "order"]


RULES_FORMS: dict[str, type[RulesForm]] = {
    form.kind: form
    for form in (SickLeaveRulesForm, EmergencyRulesForm, HealthSharingRulesForm, RotatingRulesForm)
}


# ---------------------------------------------------------------------------- a new pool


CURRENCIES = ("EUR", "USD", "GBP", "CAD", "AUD", "CHF", "SEK", "NOK", "DKK", "JPY")


class TemplateForm(forms.Form):
    """The kind and currency a new pool starts from (a GET form: it only changes which
    rules the page offers)."""

    kind = forms.ChoiceField(label="Kind of pool", choices=PoolKind.choices)
    currency = forms.CharField(label="Currency", max_length=3)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].widget.attrs["class"] = "form-select form-select-sm"
        self.fields["currency"].widget.attrs.update(
            {"class": "form-control form-control-sm", "size": 4, "list": "currencies"}
        )

    def choice(self, default_currency: str) -> tuple[str, str]:
        kind = str(self.data.get("kind") or PoolKind.SICK_LEAVE)
        currency = str(self.data.get("currency") or default_currency).strip().upper()
        if kind not in PoolKind.values:
            kind = PoolKind.SICK_LEAVE.value
        if not is_currency(currency):
            currency = default_currency if is_currency(default_currency) else "EUR"
        return kind, currency


class PoolForm(BootstrapFormMixin, OnceTokenMixin):
    """Name, description and the steward's own tier; the rules come in a RulesForm."""

    kind = forms.CharField(widget=forms.HiddenInput, max_length=20)
    currency = forms.CharField(widget=forms.HiddenInput, max_length=3)
    name = forms.CharField(label="Name", max_length=120)
    description = forms.CharField(
        label="Description (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Who the pool is for and how members know each other.",
    )
    tier_gift = AmountField(
        label="Your own tier (monthly gift)",
        required=False,
        help_text="The monthly gift you are insured for; one of the tiers above.",
    )

    def __init__(self, *args: Any, currency: str, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["tier_gift"]
        assert isinstance(field, AmountField)
        field.currency = currency
        field.widget.attrs["placeholder"] = money_example(currency)
        if kind != PoolKind.SICK_LEAVE:
            del self.fields["tier_gift"]
        if not self.is_bound:
            self.initial.update({"kind": kind, "currency": currency})


# ---------------------------------------------------------------------------- membership


class TierForm(BootstrapFormMixin, forms.Form):
    """Apply to join, or accept an invitation: with a tier in a sick-leave fund."""

    tier_gift = forms.TypedChoiceField(label="Your tier (monthly gift)", coerce=int, choices=())

    def __init__(self, *args: Any, tiers: Sequence[int], currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["tier_gift"]
        assert isinstance(field, forms.TypedChoiceField)
        if tiers:
            field.choices = [(t, format_amount(t, currency, symbol=True)) for t in tiers]
            field.initial = tiers[len(tiers) // 2]
        else:
            del self.fields["tier_gift"]

    @property
    def tier(self) -> int | None:
        value = self.cleaned_data.get("tier_gift")
        return int(value) if value is not None else None


class InviteForm(BootstrapFormMixin, forms.Form):
    email = forms.EmailField(label="Email of the person to invite", max_length=254)


class StewardForm(forms.Form):
    """The member (by number) a steward hands stewardship to."""

    member = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class MonthForm(BootstrapFormMixin, forms.Form):
    """A calendar month, typed (or picked) as YYYY-MM."""

    month = forms.CharField(label="Month", max_length=7)

    def __init__(self, *args: Any, label: str = "Month", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["month"].label = label
        self.fields["month"].widget.input_type = "month"
        self.fields["month"].widget.attrs["placeholder"] = "YYYY-MM"
        if not self.is_bound:
            self.initial.setdefault("month", month_text(timezone.localdate()))

    def clean_month(self) -> date:
        month = parse_month(str(self.cleaned_data.get("month") or ""))
        if month is None:
            raise forms.ValidationError("Enter a month as YYYY-MM, e.g. 2026-03.")
        return month


class YearForm(BootstrapFormMixin, forms.Form):
    year = forms.IntegerField(label="Year", min_value=2000, max_value=2200)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("year", timezone.localdate().year - 1)


class CycleForm(BootstrapFormMixin, forms.Form):
    first_month = forms.CharField(label="First month", max_length=7)
    order = forms.CharField(
        label="Agreed order (membership numbers)",
        required=False,
        max_length=2000,
        help_text="For a pool that agrees its order: every member's number once, e.g. 3 1 2."
        " Leave empty for a lottery.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["first_month"].widget.input_type = "month"
        if not self.is_bound:
            self.initial.setdefault("first_month", month_text(timezone.localdate()))

    def clean_first_month(self) -> date:
        month = parse_month(str(self.cleaned_data.get("first_month") or ""))
        if month is None:
            raise forms.ValidationError("Enter a month as YYYY-MM, e.g. 2026-03.")
        return month

    def clean_order(self) -> list[int] | None:
        text = str(self.cleaned_data.get("order") or "").strip()
        if not text:
            return None
        parts = [p for p in re.split(r"[\s,;]+", text) if p]
        if not all(p.isdigit() for p in parts):
            raise forms.ValidationError("List membership numbers, e.g. 3 1 2.")
        return [int(p) for p in parts]


# ---------------------------------------------------------------------------- claims


class ClaimForm(BootstrapFormMixin, OnceTokenMixin):
    # Once only: a grant or a shared cost may be asked for twice on purpose, so a doubled
    # or reloaded POST cannot be told from a second claim by its contents.
    start_date = forms.DateField(
        label="Sick since",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    amount = AmountField(label="Amount asked", required=False)
    description = forms.CharField(
        label="Note for the members (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Members of the pool read it; outsiders never do.",
    )

    def __init__(self, *args: Any, kind: str, currency: str, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "claim")
        super().__init__(*args, **kwargs)
        amount = self.fields["amount"]
        assert isinstance(amount, AmountField)
        amount.currency = currency
        if kind == PoolKind.SICK_LEAVE:
            del self.fields["amount"]
        else:
            amount.required = True
            self.fields["start_date"].label = "Date of the need"
        if not self.is_bound:
            self.initial.setdefault("start_date", timezone.localdate())


class DecisionForm(BootstrapFormMixin, forms.Form):
    decision = forms.ChoiceField(choices=Decision.choices, widget=forms.HiddenInput)
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required to reject; members read it.",
    )


class RecoveryForm(BootstrapFormMixin, forms.Form):
    recovered_on = forms.DateField(
        label="Recovered on", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("recovered_on", timezone.localdate())


class RepayForm(BootstrapFormMixin, OnceTokenMixin):
    """Gifts owed back, paid: by the member, or recorded by a steward when the money came
    in outside Keel. Once only: two repayments of the same amount are both real, so a
    doubled POST is told apart by its token, which is also the ledger journal's key."""

    amount = AmountField(label="Amount paid back")
    received_on = forms.DateField(
        label="Received on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="The day the money reached the pool's bank account.",
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "repay")
        super().__init__(*args, **kwargs)
        amount = self.fields["amount"]
        assert isinstance(amount, AmountField)
        amount.currency = currency
        amount.widget.attrs["placeholder"] = money_example(currency)
        if not self.is_bound:
            self.initial.setdefault("received_on", timezone.localdate())


class WaiverForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(
        label="Why the members should waive it",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Members read it with the vote; outsiders never do.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "waiver")
        super().__init__(*args, **kwargs)


class BallotForm(forms.Form):
    choice = forms.ChoiceField(choices=Choice.choices)


# ---------------------------------------------------------------------------- simulator


@dataclass(frozen=True, slots=True)
class PoolStart:
    """A pool as a simulation started from its page finds it today: its active members'
    tier gifts and reserves in member order, its rules (as JSON) and its own claims history
    (None while it is too short), from ``services.simulation_state``."""

    slug: str
    name: str
    currency: str
    gifts: tuple[int, ...]
    reserves: tuple[int, ...]
    rules: Mapping[str, Any]
    history: ClaimHistory | None = None

    @property
    def reserves_total(self) -> int:
        return sum(self.reserves)


START_RESERVES = "reserves"
START_ZERO = "zero"


class SimulateForm(BootstrapFormMixin, forms.Form):
    """The solvency simulator's inputs. Gifts are typed in major units of ``currency``;
    members cycle through the gifts listed (one gift for everyone, or one per member).

    Started from a pool (``pool_start``), the form also asks where the reserves start:
    the members' reserves today (the default: the pool as it is) or zero (a new fund);
    and, once the pool has a year of history, whether its own claims replace the
    Broodfonds figures. Without a pool those fields are not there."""

    currency = forms.CharField(label="Currency", max_length=3, initial="EUR")
    members = forms.IntegerField(
        label="Members", min_value=2, max_value=MAX_PAGE_MEMBERS, initial=20
    )
    gifts = forms.CharField(
        label="Monthly gift (or tiers)",
        max_length=20_000,
        initial="1500.00",
        help_text="One gift for every member, or several: members take them in turn, so a"
        " list as long as the members gives each member their own.",
    )
    pool = forms.SlugField(required=False, max_length=80, widget=forms.HiddenInput)
    start = forms.ChoiceField(
        label="Start from",
        choices=((START_RESERVES, "The pool's reserves today"), (START_ZERO, "Zero")),
        initial=START_RESERVES,
        widget=forms.RadioSelect,
    )
    deposit_rate = PercentField(label="Monthly deposit (% of the gift)", initial="4.5")
    reserve_cap_deposits = forms.IntegerField(
        label="Reserve cap (monthly deposits)", min_value=0, initial=36
    )
    waiting_months = forms.IntegerField(label="Waiting period (months)", min_value=0, initial=1)
    incidence = PercentField(
        label="Sick in a year (% of members)",
        initial="6.9",
        help_text="Broodfonds 2018: 6.9% of members received gifts in a year.",
    )
    mean_months = forms.DecimalField(
        label="Mean length of sickness (months)",
        min_value=Decimal(1),
        max_value=Decimal(240),
        decimal_places=2,
        initial=Decimal("7.1"),
    )
    use_history = forms.BooleanField(
        label="Use this pool's own claims history",
        required=False,
        help_text="Instead of the sickness figures above. A small pool's history is noisy:"
        " the Broodfonds figures are the safer guide until it has a few hundred member-years.",
    )
    max_months = forms.IntegerField(label="Longest run of gifts (months)", min_value=1, initial=24)
    years = forms.IntegerField(label="Years", min_value=1, max_value=MAX_YEARS, initial=5)
    scenarios = forms.IntegerField(
        label="Scenarios",
        min_value=100,
        max_value=MAX_PAGE_SCENARIOS,
        initial=5_000,
        help_text=f"Up to {INLINE_SCENARIOS:,} run at once; more run in the background"
        f" (at most {MAX_PAGE_SCENARIOS:,}).",
    )
    seed = forms.IntegerField(
        label="Seed",
        min_value=0,
        max_value=2**63 - 1,
        initial=1,
        help_text="The same seed gives the same answer.",
    )
    target = PercentField(
        label="Target: no cut in (% of futures)",
        required=False,
        initial="95",
        help_text="Finds the deposit rate that reaches it; leave empty to skip.",
    )
    epidemic = forms.BooleanField(label="Add epidemic months", required=False)
    epidemic_probability = PercentField(
        label="Chance of an epidemic month (%)", required=False, initial="1"
    )
    epidemic_multiplier = forms.DecimalField(
        label="Sickness in an epidemic month (times)",
        required=False,
        min_value=Decimal(0),
        max_value=Decimal(100),
        decimal_places=2,
        initial=Decimal(3),
    )

    def __init__(self, *args: Any, pool_start: PoolStart | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pool_start = pool_start
        if pool_start is None:
            for name in ("pool", "start", "use_history"):
                del self.fields[name]
            return
        self.fields["pool"].initial = pool_start.slug
        total = format_amount(pool_start.reserves_total, pool_start.currency, symbol=True)
        start = self.fields["start"]
        assert isinstance(start, forms.ChoiceField)
        start.choices = [
            (START_RESERVES, f"The pool's reserves today: {total} in total"),
            (START_ZERO, "Zero, as a new fund with nothing saved"),
        ]
        history = pool_start.history
        if history is None:
            del self.fields["use_history"]
        else:
            closed = len(history.gift_months)
            self.fields["use_history"].label = (
                f"Use this pool's own claims history: {history.claims}"
                f" claim{'' if history.claims == 1 else 's'} in"
                f" {history.member_years:.1f} member-years"
                + (
                    f", {closed} closed after {sum(history.gift_months) / closed:.1f} months"
                    " of gifts on average"
                    if closed
                    else ""
                )
            )

    def clean_currency(self) -> str:
        currency = str(self.cleaned_data.get("currency") or "").strip().upper()
        if not is_currency(currency):
            raise forms.ValidationError("Enter an ISO 4217 currency code such as EUR.")
        return currency

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        currency = data.get("currency")
        if currency and "gifts" in data:
            parts = [p for p in TIER_SEPARATOR.split(str(data["gifts"]).strip()) if p]
            gifts = []
            for part in parts:
                try:
                    gifts.append(parse_amount(part, currency))
                except MoneyError:
                    self.add_error(
                        "gifts",
                        f"“{part}” is not an amount in {currency}; write each gift like"
                        f" {money_example(currency)}.",
                    )
                    return data
            if not gifts or any(g <= 0 for g in gifts):
                self.add_error("gifts", "Enter at least one gift above zero.")
            else:
                data["gift_list"] = gifts
        if data.get("deposit_rate") is None and "deposit_rate" not in self.errors:
            self.add_error("deposit_rate", "Enter the deposit rate.")
        incidence = data.get("incidence")
        if incidence is None and "incidence" not in self.errors:
            self.add_error("incidence", "Enter the share of members sick in a year.")
        elif incidence is not None and incidence >= 10_000:
            self.add_error("incidence", "Enter less than 100%.")
        target = data.get("target")
        if target is not None and target > 10_000:
            self.add_error("target", "Enter at most 100%.")
        if data.get("epidemic"):
            if (
                data.get("epidemic_probability") is None
                and "epidemic_probability" not in self.errors
            ):
                self.add_error("epidemic_probability", "Enter the chance of an epidemic month.")
            if data.get("epidemic_multiplier") is None and "epidemic_multiplier" not in self.errors:
                self.add_error("epidemic_multiplier", "Enter how much more sickness it brings.")
        start = self.pool_start
        if start is not None and data.get("start") == START_RESERVES:
            count = len(start.reserves)
            if data.get("members") is not None and data["members"] != count:
                self.add_error(
                    "start",
                    f"The pool's reserves are its {count} members': keep {count} members,"
                    " or start from zero.",
                )
            elif currency and currency != start.currency:
                self.add_error(
                    "start",
                    f"The pool's reserves are in {start.currency}: keep {start.currency},"
                    " or start from zero.",
                )
        return data

    def params(self) -> dict[str, Any]:
        """The cleaned inputs as JSON-able simulator parameters (``simjobs.build_input``)."""
        data = self.cleaned_data
        members = int(data["members"])
        gifts = list(data["gift_list"])
        params: dict[str, Any] = {
            "currency": data["currency"],
            "gifts": [gifts[i % len(gifts)] for i in range(members)],
            "deposit_rate_bps": int(data["deposit_rate"]),
            "reserve_cap_deposits": int(data["reserve_cap_deposits"]),
            "waiting_months": int(data["waiting_months"]),
            "max_months": int(data["max_months"]),
            "annual_incidence": int(data["incidence"]) / 10_000,
            "mean_claim_months": float(data["mean_months"]),
            "years": int(data["years"]),
            "scenarios": int(data["scenarios"]),
            "seed": int(data["seed"]),
            "target_no_cut_probability": (
                int(data["target"]) / 10_000 if data.get("target") is not None else None
            ),
            "epidemic": None,
        }
        if data.get("epidemic"):
            params["epidemic"] = {
                "monthly_probability": int(data["epidemic_probability"]) / 10_000,
                "incidence_multiplier": float(data["epidemic_multiplier"]),
            }
        start = self.pool_start
        if start is not None:
            params["pool"] = start.slug
            params["start"] = data["start"]
            if data["start"] == START_RESERVES:
                params["initial_reserves"] = list(start.reserves)
            if start.history is not None and data.get("use_history"):
                params["history"] = {
                    "member_years": start.history.member_years,
                    "claims": start.history.claims,
                    "gift_months": list(start.history.gift_months),
                }
        return params

    def field_for(self, name: str | None) -> str | None:
        fields = {
            "gifts": "gifts",
            "deposit_rate_bps": "deposit_rate",
            "reserve_cap_deposits": "reserve_cap_deposits",
            "waiting_months": "waiting_months",
            "max_months": "max_months",
            "annual_incidence": "incidence",
            "mean_claim_months": "mean_months",
            "years": "years",
            "scenarios": "scenarios",
            "seed": "seed",
            "target_no_cut_probability": "target",
            "epidemic": "epidemic_probability",
            "initial_reserves": "start",
            "history": "use_history",
        }
        return fields.get(name or "")


def initial_simulation(
    gifts: Sequence[int], currency: str, rules: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The simulator form prefilled for a pool: its members' tiers in order, and its
    deposit rate, reserve cap, wait and longest run of gifts."""
    initial: dict[str, Any] = {
        "currency": currency,
        "members": max(len(gifts), 2),
        "gifts": "; ".join(amount_text(g, currency, grouping=False) for g in gifts)
        if gifts
        else "",
    }
    if rules:
        initial.update(
            deposit_rate=percent_text(int(rules.get("deposit_rate_bps", 450))),
            reserve_cap_deposits=rules.get("reserve_cap_deposits", 36),
            waiting_months=rules.get("waiting_months", 1),
            max_months=rules.get("max_gift_months", 24),
        )
    return initial
