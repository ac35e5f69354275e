"""The worker's portable benefits account, split into buckets the worker chooses.

Every contribution that reaches the account is split across five buckets by the worker's
allocation (basis points summing to exactly 10 000) with the largest-remainder method, so
the buckets always add up to the contribution to the minor unit. Spending ("uses") draws
from one bucket and never more than it holds: DoorDash's pilot lets the worker choose
between time off, emergency, health and retirement; Alia pays time off in fixed units.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

from keel.money import allocate_bps, format_amount

from .policy import PolicyError, format_bps, require_bps, require_choice, require_int, share

__all__ = [
    "BUCKETS",
    "BUCKET_LABELS",
    "DEFAULT_ALLOCATION_BPS",
    "USES",
    "USE_BUCKET",
    "allocation_from_percent",
    "check_use",
    "split",
    "validate_allocation",
    "withholding",
]

BUCKETS = ("health", "retirement", "time_off", "emergency", "tax")

BUCKET_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "health": "Health",
        "retirement": "Retirement",
        "time_off": "Time off",
        "emergency": "Emergency",
        "tax": "Tax set-aside",
    }
)

# Read-only so that no caller can change every worker's default by mutating it.
DEFAULT_ALLOCATION_BPS: Mapping[str, int] = MappingProxyType(
    {"health": 3000, "retirement": 3000, "time_off": 2000, "emergency": 1000, "tax": 1000}
)

USES = ("time_off", "health", "retirement", "emergency")

# The tax bucket has no use: it is paid out to the tax authority, not spent by the worker.
USE_BUCKET: Mapping[str, str] = MappingProxyType({use: use for use in USES})


def validate_allocation(mapping: Mapping[str, object]) -> dict[str, int]:
    """All five buckets, each 0..10000 bps, summing to exactly 10000; returned in BUCKETS order."""
    if not isinstance(mapping, Mapping):
        raise PolicyError(
            f"allocation must be an object, not {type(mapping).__name__}",
            field="allocation",
            code="invalid_type",
        )
    for key in mapping:
        if key not in BUCKETS:
            raise PolicyError(
                f"unknown bucket {key!r} (buckets: {', '.join(BUCKETS)})",
                field=f"allocation.{key}",
                code="unknown_field",
            )
    out: dict[str, int] = {}
    for bucket in BUCKETS:
        field = f"allocation.{bucket}"
        if bucket not in mapping:
            raise PolicyError(f"{field} is required", field=field, code="required")
        out[bucket] = require_bps(mapping[bucket], field)
    total = sum(out.values())
    if total != 10_000:
        raise PolicyError(
            f"allocation must add up to 100%, not {format_bps(total)}",
            field="allocation",
            code="sum",
        )
    return out


def split(amount: int, allocation: Mapping[str, int]) -> dict[str, int]:
    """``amount`` split across the buckets; the parts sum to ``amount`` exactly.

    Leftover minor units go to the largest remainders, ties to the bucket earlier in
    ``BUCKETS``, so the same amount and allocation always split the same way. A negative
    amount (a reversed contribution) splits as the mirror image of the positive one.
    """
    require_int(amount, "amount", minimum=None)
    shares = validate_allocation(allocation)
    parts = allocate_bps(amount, [shares[bucket] for bucket in BUCKETS])
    return dict(zip(BUCKETS, parts, strict=True))


# Up to 3 whole digits and 2 decimals: 100.00% is the most a bucket can take, and a third
# decimal would be a fraction of a basis point.
_PERCENT = re.compile(r"(\d{1,3})(?:\.(\d{1,2}))?%?")


def allocation_from_percent(mapping: Mapping[str, str]) -> dict[str, int]:
    """Form input such as ``{"health": "30", "tax": "12.5"}`` as exact basis points.

    A blank field means 0%, so a worker can clear a bucket by emptying its box.
    """
    if not isinstance(mapping, Mapping):
        raise PolicyError(
            f"allocation must be an object, not {type(mapping).__name__}",
            field="allocation",
            code="invalid_type",
        )
    bps: dict[str, object] = {}
    for key, raw in mapping.items():
        field = f"allocation.{key}"
        if not isinstance(raw, str):
            raise PolicyError(
                f"{field} must be text, not {type(raw).__name__}", field=field, code="invalid_type"
            )
        text = raw.strip()
        if not text:
            bps[key] = 0
            continue
        if _PERCENT.fullmatch(text) is None:
            raise PolicyError(
                f"{field}: {raw!r} is not a percentage with at most 2 decimals",
                field=field,
                code="invalid_percent",
            )
        # Decimal keeps 12.5% exactly 1250 bps; the regex already bounds the digits.
        bps[key] = int(Decimal(text.rstrip("%")) * 100)
    return validate_allocation(bps)


def check_use(
    use: str,
    amount: int,
    bucket_balance: int,
    *,
    time_off_unit: int | None,
    currency: str | None = None,
) -> str:
    """Refuse a use the bucket cannot pay; return the bucket it draws from.

    ``currency``, when given, only makes the messages show amounts as money.
    """
    require_choice(use, "use", USES)
    require_int(amount, "amount", minimum=None)
    require_int(bucket_balance, "bucket_balance", minimum=None)
    if time_off_unit is not None:
        require_int(time_off_unit, "time_off_unit", minimum=1)

    def show(minor: int) -> str:
        return format_amount(minor, currency, symbol=True) if currency else str(minor)

    if amount <= 0:
        raise PolicyError(
            f"amount must be positive, not {show(amount)}", field="amount", code="not_positive"
        )
    # Checked before the balance: a request in the wrong shape is wrong whatever is saved.
    if use == "time_off" and time_off_unit is not None and amount % time_off_unit:
        raise PolicyError(
            f"time off is paid in whole units of {show(time_off_unit)}; "
            f"{show(amount)} is not a whole number of units",
            field="amount",
            code="not_whole_units",
        )
    if amount > bucket_balance:
        bucket = USE_BUCKET[use]
        raise PolicyError(
            f"the {BUCKET_LABELS[bucket].lower()} bucket holds {show(max(bucket_balance, 0))}, "
            f"less than {show(amount)}",
            field="amount",
            code="insufficient_funds",
        )
    return USE_BUCKET[use]


def withholding(amount_earned: int, rate_bps: int) -> int:
    """The opt-in share of a payment withheld into the account, rounded half up.

    Tennessee and Alabama let the worker fund the account by withholding they can stop at
    any time; rate 0 is "stopped".
    """
    require_int(amount_earned, "amount_earned")
    require_bps(rate_bps, "rate_bps")
    return share(amount_earned, rate_bps)
