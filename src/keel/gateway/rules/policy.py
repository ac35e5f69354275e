"""Contribution policies: what a platform owes a worker's benefits account per earnings event.

A policy is published by a platform and read by workers, so every rule here is one a worker
can check by hand (``Policy.describe`` says it in words, ``Contribution.explanation`` says
what happened to one event).

The rate part is computed cumulatively over the threshold period::

    share(x) = (x * bps + 5000) // 10000          # half a cent rounds up
    rate_part = share(rate_base_after) - share(before.rate_base)

so the sum of the rate parts of a period is ``share`` of the period's covered earnings,
however the earnings were split into events. Rounding each event on its own would drift by
up to half a minor unit per event, and a worker with many small jobs would lose the most.

What the service must pass in ``PeriodToDate`` (one worker, one platform):

* ``threshold_basis``, ``eligible`` and ``rate_base`` restart at 0 at the start of each
  threshold period (``period_bounds(day, policy.threshold_period)``); when the threshold is
  0 the period is still the threshold period, so rounding restarts there too.
* ``month_contributed`` / ``year_contributed`` are amounts actually contributed (after
  caps, including month-end top-ups) in the event's calendar month / year.
* On a policy version change mid-period, keep passing the ``rate_base`` accumulated under
  the old version: the new rate is then charged only on ``share(base + e) - share(base)``,
  i.e. on the new event (within one minor unit of rounding), and earlier earnings are neither
  charged again nor refunded. Resetting it to 0 would be harmless under a policy without a
  threshold, but a new version that adds a back-dating threshold would then charge the
  earnings the old version already covered a second time.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from keel.money import MoneyError, format_amount, get_currency

__all__ = [
    "PERIODS",
    "Contribution",
    "Earnings",
    "PeriodToDate",
    "Policy",
    "PolicyError",
    "Tier",
    "contribution",
    "eligible_amount",
    "format_bps",
    "monthly_minimum_topup",
    "period_bounds",
    "share",
    "threshold_amount",
]

PERIODS = ("month", "quarter", "year")

BPS_WHOLE = 10_000
# The largest amount a policy may name (per job, minimum, cap, threshold, time-off unit):
# the largest an earnings event may carry. A policy with more published nothing a platform
# could pay, and every event under it was refused by the ledger.
MAX_POLICY_AMOUNT = 10**12


# --------------------------------------------------------------------------- errors


class PolicyError(ValueError):
    """Bad input to a gateway rule.

    ``field`` is the dotted name of the offending input (``"tiers.1.rate_bps"``,
    ``"allocation.health"``) so API and form layers can attach the message to it;
    ``code`` is a stable machine-readable reason (``"negative"``, ``"insufficient_funds"``).
    """

    def __init__(self, message: str, *, field: str, code: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code

    def prefixed(self, prefix: str) -> PolicyError:
        """The same error for a field nested under ``prefix``."""
        return PolicyError(str(self), field=f"{prefix}.{self.field}", code=self.code)


# Shared by the sibling rule modules so every rule refuses bad input the same way.


def require_int(
    value: object, field: str, *, minimum: int | None = 0, maximum: int | None = None
) -> int:
    # bool is an int subclass and a float may carry a hidden fraction: both are refused
    # rather than coerced, because either usually means the caller mixed up two inputs.
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(
            f"{field} must be a whole number (int), not {type(value).__name__}",
            field=field,
            code="invalid_type",
        )
    if minimum is not None and value < minimum:
        if minimum == 0:
            raise PolicyError(
                f"{field} must not be negative, not {value}", field=field, code="negative"
            )
        raise PolicyError(
            f"{field} must be at least {minimum}, not {value}", field=field, code="out_of_range"
        )
    if maximum is not None and value > maximum:
        raise PolicyError(
            f"{field} must be at most {maximum}, not {value}", field=field, code="out_of_range"
        )
    return value


def require_optional_int(
    value: object, field: str, *, minimum: int = 0, maximum: int | None = None
) -> int | None:
    return None if value is None else require_int(value, field, minimum=minimum, maximum=maximum)


def require_bps(value: object, field: str) -> int:
    return require_int(value, field, minimum=0, maximum=BPS_WHOLE)


def require_bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(
            f"{field} must be true or false, not {type(value).__name__}",
            field=field,
            code="invalid_type",
        )
    return value


def require_currency(value: object, field: str = "currency") -> str:
    if not isinstance(value, str):
        raise PolicyError(
            f"{field} must be an ISO 4217 code (str), not {type(value).__name__}",
            field=field,
            code="invalid_currency",
        )
    try:
        return get_currency(value).code
    except MoneyError as exc:
        raise PolicyError(str(exc), field=field, code="invalid_currency") from exc


def require_date(value: object, field: str) -> date:
    # A datetime is a date subclass; accepting one would silently drop its time and zone.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise PolicyError(
            f"{field} must be a calendar date, not {type(value).__name__}",
            field=field,
            code="invalid_type",
        )
    return value


def require_choice(value: object, field: str, choices: Iterable[str]) -> str:
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise PolicyError(
            f"{field} must be one of {', '.join(options)}, not {value!r}",
            field=field,
            code="invalid_choice",
        )
    return value


# --------------------------------------------------------------------------- arithmetic


def share(amount: int, bps: int) -> int:
    """``amount * bps / 10000`` rounded half up, in integers (amounts here are never < 0)."""
    return (amount * bps + BPS_WHOLE // 2) // BPS_WHOLE


def format_bps(bps: int) -> str:
    """Basis points as a percentage for people: 400 -> "4%", 750 -> "7.5%", 1 -> "0.01%"."""
    whole, hundredths = divmod(bps, 100)
    if not hundredths:
        return f"{whole}%"
    return f"{whole}.{hundredths:02d}".rstrip("0") + "%"


@functools.lru_cache(maxsize=8192)
def _money(amount: int, currency: str) -> str:
    # Babel formatting dominates a bulk batch's rule time; amounts repeat (thresholds,
    # per-job sums, common fares), and the function is pure.
    shape = _money_shape(currency) if type(amount) is int and amount >= 0 else None
    if shape is None:
        return format_amount(amount, currency, symbol=True)
    prefix, suffix, decimal, places = shape
    whole, frac = divmod(amount, 10**places) if places else (amount, 0)
    number = f"{whole:,}"
    if places:
        number += f"{decimal}{frac:0{places}d}"
    return f"{prefix}{number}{suffix}"


# Amounts that pin down the shape of a currency's text: every digit, every grouping, zero.
_SHAPE_PROBES = (0, 1, 9, 10, 99, 100, 999, 1_000, 99_999, 100_000, 123_456_789, 10**15 + 7)


@functools.lru_cache(maxsize=512)
def _money_shape(currency: str) -> tuple[str, str, str, int] | None:
    """(prefix, suffix, decimal mark, decimals) when babel writes every non-negative
    amount in `currency` as prefix + digits grouped by "," in threes + decimal mark +
    the decimals + suffix, which is the case for en_US; None (babel formats every amount)
    when the probes find any other shape. Formatting one amount through babel costs
    about as much as the rest of an event's contribution."""
    try:
        places = get_currency(currency).exponent
    except MoneyError:
        return None
    # The shape read off one amount, then checked against babel on all the probes.
    sample = 123_456_789
    text = format_amount(sample, currency, symbol=True)
    whole, frac = divmod(sample, 10**places) if places else (sample, 0)
    grouped = f"{whole:,}"
    start = text.find(grouped)
    if start < 0:
        return None
    rest = text[start + len(grouped) :]
    decimal = ""
    if places:
        digits = f"{frac:0{places}d}"
        if len(rest) < 1 + places or rest[1 : 1 + places] != digits:
            return None
        decimal, rest = rest[0], rest[1 + places :]
    shape = (text[:start], rest, decimal, places)
    for probe in _SHAPE_PROBES:
        whole, frac = divmod(probe, 10**places) if places else (probe, 0)
        fast = f"{shape[0]}{whole:,}" + (f"{decimal}{frac:0{places}d}" if places else "")
        if fast + shape[1] != format_amount(probe, currency, symbol=True):
            return None
    return shape


def _join(items: list[str], conjunction: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


# --------------------------------------------------------------------------- policy


_TIER_KEYS = ("status", "rate_bps", "per_job")


@dataclass(frozen=True, slots=True)
class Tier:
    """Terms that replace the base terms for workers of one status (Lyft's top tier)."""

    status: str
    rate_bps: int | None = None
    per_job: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.status, str) or not self.status.strip():
            raise PolicyError("status must be a non-empty name", field="status", code="required")
        if self.status != self.status.strip():
            # Statuses are matched exactly; stray spaces would make a tier silently unused.
            raise PolicyError(
                f"status {self.status!r} has leading or trailing spaces",
                field="status",
                code="invalid",
            )
        if self.rate_bps is not None:
            require_bps(self.rate_bps, "rate_bps")
        require_optional_int(self.per_job, "per_job", maximum=MAX_POLICY_AMOUNT)
        if self.rate_bps is None and self.per_job is None:
            raise PolicyError(
                f"tier {self.status!r} changes nothing: give rate_bps, per_job or both",
                field="status",
                code="empty_tier",
            )

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "rate_bps": self.rate_bps, "per_job": self.per_job}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tier:
        _check_keys(data, _TIER_KEYS, prefix=None, what="tier")
        if "status" not in data:
            raise PolicyError("status is required", field="status", code="required")
        return cls(
            status=data["status"], rate_bps=data.get("rate_bps"), per_job=data.get("per_job")
        )


_POLICY_KEYS = (
    "currency",
    "rate_bps",
    "include_gross",
    "include_tips",
    "include_bonus",
    "per_job",
    "monthly_minimum",
    "monthly_cap",
    "yearly_cap",
    "threshold",
    "threshold_period",
    "threshold_includes_tips",
    "backdate",
    "tiers",
    "time_off_unit",
)


def _check_keys(data: object, allowed: tuple[str, ...], *, prefix: str | None, what: str) -> None:
    where = prefix or what
    if not isinstance(data, Mapping):
        raise PolicyError(
            f"{where} must be an object, not {type(data).__name__}",
            field=where,
            code="invalid_type",
        )
    for key in data:
        if key not in allowed:
            name = f"{prefix}.{key}" if prefix else str(key)
            raise PolicyError(
                f"unknown field {key!r} (allowed: {', '.join(allowed)})",
                field=name,
                code="unknown_field",
            )


@dataclass(frozen=True, slots=True)
class Policy:
    """A platform's published contribution policy (one version of it).

    Constructing one validates it, so a ``Policy`` in hand is always coherent;
    ``from_dict`` adds the checks that only untyped input needs (unknown keys, tier shapes).
    """

    currency: str
    rate_bps: int = 0
    include_gross: bool = True
    include_tips: bool = False
    include_bonus: bool = False
    per_job: int = 0
    monthly_minimum: int = 0
    monthly_cap: int | None = None
    yearly_cap: int | None = None
    threshold: int = 0
    threshold_period: str = "quarter"
    threshold_includes_tips: bool = False
    backdate: bool = False
    tiers: tuple[Tier, ...] = ()
    time_off_unit: int | None = None

    def __post_init__(self) -> None:
        require_currency(self.currency)
        require_bps(self.rate_bps, "rate_bps")
        for name in ("include_gross", "include_tips", "include_bonus"):
            require_bool(getattr(self, name), name)
        top = MAX_POLICY_AMOUNT
        require_int(self.per_job, "per_job", maximum=top)
        require_int(self.monthly_minimum, "monthly_minimum", maximum=top)
        require_optional_int(self.monthly_cap, "monthly_cap", maximum=top)
        require_optional_int(self.yearly_cap, "yearly_cap", maximum=top)
        require_int(self.threshold, "threshold", maximum=top)
        require_choice(self.threshold_period, "threshold_period", PERIODS)
        require_bool(self.threshold_includes_tips, "threshold_includes_tips")
        require_bool(self.backdate, "backdate")
        require_optional_int(self.time_off_unit, "time_off_unit", minimum=1, maximum=top)
        if not isinstance(self.tiers, tuple):
            raise PolicyError(
                f"tiers must be a tuple of Tier, not {type(self.tiers).__name__}",
                field="tiers",
                code="invalid_type",
            )
        seen: set[str] = set()
        for i, tier in enumerate(self.tiers):
            if not isinstance(tier, Tier):
                raise PolicyError(
                    f"tiers[{i}] must be a Tier, not {type(tier).__name__}",
                    field=f"tiers.{i}",
                    code="invalid_type",
                )
            if tier.status in seen:
                raise PolicyError(
                    f"status {tier.status!r} has more than one tier",
                    field=f"tiers.{i}.status",
                    code="duplicate",
                )
            seen.add(tier.status)
        # A minimum the cap forbids reaching is a promise the policy cannot keep.
        if self.monthly_cap is not None and self.monthly_minimum > self.monthly_cap:
            raise PolicyError(
                f"monthly_minimum {self.monthly_minimum} is above monthly_cap {self.monthly_cap}",
                field="monthly_minimum",
                code="minimum_above_cap",
            )
        any_rate = self.rate_bps > 0 or any(t.rate_bps for t in self.tiers)
        if any_rate and not (self.include_gross or self.include_tips or self.include_bonus):
            raise PolicyError(
                "a rate applies to nothing: include gross, tips or bonus earnings",
                field="include_gross",
                code="nothing_eligible",
            )

    # ----------------------------------------------------------------- serialisation

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, keys in a fixed order; ``Policy.from_dict(p.to_dict()) == p``."""
        out: dict[str, Any] = {key: getattr(self, key) for key in _POLICY_KEYS}
        out["tiers"] = [tier.to_dict() for tier in self.tiers]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        """Build and validate a policy from untrusted input; missing keys take the defaults."""
        _check_keys(data, _POLICY_KEYS, prefix=None, what="policy")
        if "currency" not in data:
            raise PolicyError("currency is required", field="currency", code="required")
        kwargs = dict(data)
        raw_tiers = kwargs.pop("tiers", [])
        if not isinstance(raw_tiers, list | tuple):
            raise PolicyError(
                f"tiers must be a list, not {type(raw_tiers).__name__}",
                field="tiers",
                code="invalid_type",
            )
        tiers: list[Tier] = []
        for i, raw in enumerate(raw_tiers):
            _check_keys(raw, _TIER_KEYS, prefix=f"tiers.{i}", what="tier")
            try:
                tiers.append(Tier.from_dict(raw))
            except PolicyError as exc:
                raise exc.prefixed(f"tiers.{i}") from None
        return cls(**kwargs, tiers=tuple(tiers))

    # ----------------------------------------------------------------- terms

    def terms_for(self, status: str | None) -> tuple[int, int]:
        """(rate_bps, per_job) for a worker of ``status``; a tier replaces what it sets."""
        rate, per_job = self.rate_bps, self.per_job
        for tier in self.tiers:
            if tier.status == status:
                if tier.rate_bps is not None:
                    rate = tier.rate_bps
                if tier.per_job is not None:
                    per_job = tier.per_job
                break
        return rate, per_job

    def _earnings_words(self) -> str:
        extras = {"tips": self.include_tips, "bonuses": self.include_bonus}
        counted = [word for word, on in extras.items() if on]
        if not self.include_gross:
            return f"your {_join(counted)}"
        words = "your earnings"
        if counted:
            words += f" including {_join(counted)}"
        left = [word for word, on in extras.items() if not on]
        if left:
            words += f"{',' if counted else ''} before {_join(left)}"
        return words

    def _terms_words(self, rate: int, per_job: int) -> str:
        parts = []
        if rate:
            parts.append(f"{format_bps(rate)} of {self._earnings_words()}")
        if per_job:
            parts.append(f"{_money(per_job, self.currency)} per job")
        return ", plus ".join(parts) if parts else "nothing"

    def describe(self) -> list[str]:
        """The policy in plain sentences, for the worker reading what a platform promises."""
        lines: list[str] = []
        base = self._terms_words(self.rate_bps, self.per_job)
        if base != "nothing":
            lines.append(f"The platform contributes {base}.")
        elif self.tiers:
            statuses = _join([t.status for t in self.tiers], "or")
            lines.append(f"Unless you have {statuses} status, your earnings bring no contribution.")
        for tier in self.tiers:
            words = self._terms_words(*self.terms_for(tier.status))
            lines.append(f"With {tier.status} status, the platform contributes {words} instead.")
        if self.monthly_minimum:
            when = "you work once eligible" if self.threshold else "you work"
            lines.append(
                f"In any month {when}, the platform tops your contributions up to at least "
                f"{_money(self.monthly_minimum, self.currency)}."
            )
        caps = []
        if self.monthly_cap is not None:
            caps.append(f"{_money(self.monthly_cap, self.currency)} a month")
        if self.yearly_cap is not None:
            caps.append(f"{_money(self.yearly_cap, self.currency)} a year")
        if caps:
            lines.append(f"Contributions are capped at {_join(caps)}.")
        if self.threshold:
            tips = "including" if self.threshold_includes_tips else "excluding"
            period = self.threshold_period
            sentence = (
                f"Eligible once you earn {_money(self.threshold, self.currency)} ({tips} tips) "
                f"in a calendar {period}; "
            )
            if self.backdate:
                sentence += f"contributions then cover the whole {period}"
                if self.per_job or any(t.per_job for t in self.tiers):
                    sentence += ", though per-job amounts start only from then"
            else:
                sentence += "contributions start with the payment that reaches it"
            lines.append(sentence + ".")
        if self.time_off_unit is not None:
            lines.append(
                f"Time off is paid out in units of {_money(self.time_off_unit, self.currency)}."
            )
        if not lines or (base == "nothing" and not self.tiers and not self.monthly_minimum):
            lines.insert(0, "The platform contributes nothing under this policy.")
        return lines


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Earnings:
    """One earnings event: what the worker earned for some jobs, in the policy's currency."""

    gross: int
    tips: int = 0
    bonus: int = 0
    jobs: int = 1

    def __post_init__(self) -> None:
        # The common case in one expression (a bulk batch builds one per event); any
        # other value goes through require_int, which names the field.
        if (
            type(self.gross) is int
            and type(self.tips) is int
            and type(self.bonus) is int
            and type(self.jobs) is int
            and self.gross >= 0
            and self.tips >= 0
            and self.bonus >= 0
            and self.jobs >= 0
        ):
            return
        for name in ("gross", "tips", "bonus", "jobs"):
            require_int(getattr(self, name), name)


@dataclass(frozen=True, slots=True)
class PeriodToDate:
    """This worker's history with this platform before the event (see the module docstring)."""

    threshold_basis: int = 0
    eligible: int = 0
    rate_base: int = 0
    month_contributed: int = 0
    year_contributed: int = 0

    def __post_init__(self) -> None:
        # As in Earnings: the common case in one expression, anything else named.
        if (
            type(self.threshold_basis) is int
            and type(self.eligible) is int
            and type(self.rate_base) is int
            and type(self.month_contributed) is int
            and type(self.year_contributed) is int
            and self.threshold_basis >= 0
            and self.eligible >= 0
            and self.rate_base >= 0
            and self.month_contributed >= 0
            and self.year_contributed >= 0
        ):
            return
        for name in (
            "threshold_basis",
            "eligible",
            "rate_base",
            "month_contributed",
            "year_contributed",
        ):
            require_int(getattr(self, name), f"before.{name}")


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one event earns the worker's account, and the state to carry to the next event.

    ``rate_part``, ``per_job_part`` and ``backdated`` are before caps; ``amount`` is after.
    ``amount + capped == rate_part + per_job_part`` always.
    """

    amount: int
    rate_part: int
    per_job_part: int
    backdated: int
    eligible: bool
    capped: int
    rate_base_after: int
    explanation: str


def eligible_amount(policy: Policy, event: Earnings) -> int:
    """The part of the event the rate applies to."""
    return (
        (event.gross if policy.include_gross else 0)
        + (event.tips if policy.include_tips else 0)
        + (event.bonus if policy.include_bonus else 0)
    )


def threshold_amount(policy: Policy, event: Earnings) -> int:
    """The part of the event that counts toward the eligibility threshold.

    Independent of the ``include_*`` flags: DoorDash counts a worker's earnings excluding
    tips toward the threshold whatever share of them the rate then applies to.
    """
    return event.gross + event.bonus + (event.tips if policy.threshold_includes_tips else 0)


def _apply_caps(
    policy: Policy, raw: int, month_contributed: int, year_contributed: int
) -> tuple[int, str | None]:
    """(amount after caps, the cap(s) that bound it in words, or None when none did)."""
    room: dict[str, int] = {}
    if policy.monthly_cap is not None:
        room["monthly"] = max(0, policy.monthly_cap - month_contributed)
    if policy.yearly_cap is not None:
        room["yearly"] = max(0, policy.yearly_cap - year_contributed)
    if not room or raw <= min(room.values()):
        return raw, None
    tightest = min(room.values())
    which = " and ".join(name for name, left in room.items() if left == tightest)
    if which == "monthly and yearly":
        which = "monthly and yearly caps"
    else:
        which += " cap"
    return tightest, which


def contribution(
    policy: Policy, before: PeriodToDate, event: Earnings, *, status: str | None = None
) -> Contribution:
    """What ``policy`` owes for ``event`` given the worker's ``before`` state.

    Eligibility: the threshold is reached when ``before.threshold_basis +
    threshold_amount(event) >= policy.threshold`` (reaching it exactly counts). Until then
    nothing at all is owed, per-job amounts included.

    ``rate_base_after`` (the covered earnings of the threshold period):

    * threshold 0 or already crossed: ``before.rate_base + e``;
    * crossed by this event, ``backdate``: ``before.eligible + e`` (the whole period so far);
    * crossed by this event, no back-dating: ``before.rate_base + e``, which is ``e`` alone
      because ``rate_base`` stays 0 until the threshold is crossed;
    * not reached: ``before.rate_base`` (normally 0).

    ``before.rate_base`` is carried rather than reset whenever the usual preconditions do
    not hold (a policy version that added a threshold mid-period), so earnings already
    covered are never charged twice and ``rate_part`` is never negative.

    ``backdated`` is the rate part minus the share of this event alone,
    ``share(before.eligible + e) - share(e)`` on a back-dated crossing, else 0.

    Per-job amounts are never back-dated: they start with the event that crosses the
    threshold, because earlier events' job counts are not part of the period state.
    """
    rate_bps, per_job = policy.terms_for(status)
    e = eligible_amount(policy, event)
    basis_after = before.threshold_basis + threshold_amount(policy, event)
    already = policy.threshold == 0 or before.threshold_basis >= policy.threshold
    crossing = not already and basis_after >= policy.threshold

    if not (already or crossing):
        still_needed = policy.threshold - basis_after
        return Contribution(
            amount=0,
            rate_part=0,
            per_job_part=0,
            backdated=0,
            eligible=False,
            capped=0,
            rate_base_after=before.rate_base,
            explanation=(
                f"No contribution yet: {_money(basis_after, policy.currency)} of the "
                f"{_money(policy.threshold, policy.currency)} needed this "
                f"{policy.threshold_period} is earned, {_money(still_needed, policy.currency)} "
                "to go."
            ),
        )

    if crossing and policy.backdate:
        base_after = max(before.eligible, before.rate_base) + e
    else:
        base_after = before.rate_base + e
    rate_part = share(base_after, rate_bps) - share(before.rate_base, rate_bps)
    backdated = max(0, rate_part - share(e, rate_bps)) if crossing and policy.backdate else 0
    per_job_part = event.jobs * per_job
    raw = rate_part + per_job_part
    amount, bound = _apply_caps(policy, raw, before.month_contributed, before.year_contributed)

    return Contribution(
        amount=amount,
        rate_part=rate_part,
        per_job_part=per_job_part,
        backdated=backdated,
        eligible=True,
        capped=raw - amount,
        rate_base_after=base_after,
        explanation=_explain(
            policy,
            rate_bps,
            event,
            base_after - before.rate_base,
            (rate_part, per_job_part, amount),
            bound,
            crossing,
        ),
    )


def _explain(
    policy: Policy,
    rate_bps: int,
    event: Earnings,
    covered: int,
    parts: tuple[int, int, int],
    bound: str | None,
    crossing: bool,
) -> str:
    """One sentence a worker can check against the statement line."""
    cur = policy.currency
    rate_part, per_job_part, amount = parts
    words: list[str] = []
    if rate_bps and covered:
        # Shown next to its base so the worker can redo the percentage; the cumulative
        # rounding means it may differ by one minor unit from rounding this event alone.
        text = f"{_money(rate_part, cur)} for {format_bps(rate_bps)} of {_money(covered, cur)}"
        if crossing and policy.backdate:
            text += f" earned since the start of the {policy.threshold_period}"
        words.append(text)
    if per_job_part:
        jobs = "job" if event.jobs == 1 else "jobs"
        words.append(f"{_money(per_job_part, cur)} for {event.jobs} {jobs}")
    opening = "Threshold reached, so this event" if crossing else "This event"
    if not words:
        return f"{opening} contributes {_money(0, cur)}: nothing in it earns a contribution."
    sentence = f"{opening} contributes {_money(amount, cur)}: {' plus '.join(words)}"
    if bound is not None:
        removed = rate_part + per_job_part - amount
        sentence += f", reduced by {_money(removed, cur)} to stay within the {bound}"
    return sentence + "."


def monthly_minimum_topup(
    policy: Policy, month_contributed: int, *, year_contributed: int, worked: bool
) -> int:
    """The month-close top-up that brings a month's contributions up to the minimum.

    Owed only for a month the worker worked for the platform (Alia: the $5 minimum is per
    client who booked cleanings). What counts as having worked is the service's call; with
    a threshold policy it should pass ``worked=True`` only for months the worker was
    eligible in. The top-up is itself a contribution, so both caps still bound it.
    """
    require_int(month_contributed, "month_contributed")
    require_int(year_contributed, "year_contributed")
    require_bool(worked, "worked")
    if not worked:
        return 0
    wanted = max(0, policy.monthly_minimum - month_contributed)
    amount, _ = _apply_caps(policy, wanted, month_contributed, year_contributed)
    return amount


# --------------------------------------------------------------------------- calendar


def period_bounds(day: date, period: str) -> tuple[date, date]:
    """First and last day (inclusive) of the calendar month, quarter or year holding ``day``."""
    require_date(day, "day")
    require_choice(period, "period", PERIODS)
    if period == "year":
        return date(day.year, 1, 1), date(day.year, 12, 31)
    first_month = day.month if period == "month" else 3 * ((day.month - 1) // 3) + 1
    last_month = first_month + (0 if period == "month" else 2)
    following = date(day.year + 1, 1, 1) if last_month == 12 else date(day.year, last_month + 1, 1)
    return date(day.year, first_month, 1), date.fromordinal(following.toordinal() - 1)
