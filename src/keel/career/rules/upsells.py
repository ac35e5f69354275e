"""Upsells: how many buyers of a base offer take the follow-on offer, and what to change.

Plain Python, no Django. The playbook's target is one predictable upsell that converts 20-30%
of the base offer's buyers; this module measures that and says, in plain words, what the
figures suggest.

Who counts
    A **buyer** is someone who bought the base offer; a buyer listed more than once counts
    once, from their first purchase. A **taker** is a buyer whose upsell purchase falls on or
    after the day they bought the base (the same day counts: an offer at checkout) and, when
    ``window_days`` is given, at most that many days after it. An upsell bought before the
    base, after the window, or by someone who never bought the base does not count (the
    report says how many purchases were left out). A buyer with several upsell purchases
    is one taker, timed by the first that counts.

    With ``as_of`` (the day the report is for, taken as its end) purchases after it are
    ignored, and, when there is a window, buyers whose window has not ended by then are
    left out of the rate altogether, takers or not: they have not had their chance to decide
    yet, and counting them would pull the rate down (or, counting only the takers among
    them, push it up). They are reported as ``still_deciding``.

The figures
    Conversion rate = takers / buyers. Its 95% confidence interval is the Wilson score
    interval, centre (p + z^2/2n) / (1 + z^2/n) and half-width
    z / (1 + z^2/n) * sqrt(p(1 - p)/n + z^2/4n^2) with z = 1.9599639845400536 (the normal
    distribution's 97.5% point): unlike p +/- z*sqrt(p(1-p)/n) it stays within [0, 1] and is
    not zero-width at 0 or n takers, which matters for the small samples a worker has.
    These are statistics, not money, so floats are fine; the bounds are clamped to [0, 1]
    and to the rate itself to absorb float noise at the edges. Days to take = the taker's
    upsell date minus their base date; the median of an even count is the mean of the two
    middle values (so it can end in .5).

The band
    ``not_enough_buyers`` while fewer than ``min_buyers`` (30) buyers count: below that a
    single purchase moves the rate by more than 3 points and the interval is wider than the
    band itself. Otherwise the rate, compared exactly in integers, is ``below`` 20%,
    ``inside`` 20-30% (both ends included) or ``above`` 30%. The interval is shown beside
    it and, when it still reaches back into the band, a sentence says so.

Suggestions
    Each is one sentence naming the figure it comes from:

    * not enough buyers: how many more are needed;
    * below the band: the rate; with no takers at all, offer the upsell at checkout; when
      most takers (more than half) bought within 7 days, offer it at checkout, when interest
      is highest; otherwise follow up on the median day;
    * inside: keep the price and timing;
    * above: the upsell may be underpriced (at its price, when given): try a higher price.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from statistics import NormalDist
from typing import Literal, TypeAlias

from keel.money import Money

__all__ = [
    "CHECKOUT_DAYS",
    "MIN_BUYERS",
    "TARGET_HIGH_BPS",
    "TARGET_LOW_BPS",
    "Z_95",
    "BandPosition",
    "BuyerId",
    "UpsellError",
    "UpsellReport",
    "band_position",
    "median_days",
    "upsell_report",
    "wilson_interval",
]

BuyerId: TypeAlias = int | str
Purchase: TypeAlias = tuple[BuyerId, date]
BandPosition = Literal["not_enough_buyers", "below", "inside", "above"]

# The standard normal's 97.5% point, for a two-sided 95% interval (1.9599639845400536).
Z_95 = NormalDist().inv_cdf(0.975)
TARGET_LOW_BPS = 2000
TARGET_HIGH_BPS = 3000
MIN_BUYERS = 30
# "Soon after buying": takers within this many days are the ones a checkout offer would catch.
CHECKOUT_DAYS = 7
_DASH = "\u2013"  # an en dash between the ends of a range, as in "20-30%" typeset


class UpsellError(ValueError):
    """Bad upsell input; ``field`` names it (``base_purchases[4]``, ``window_days``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


# --------------------------------------------------------------------------- statistics


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for ``successes`` out of ``trials`` (module docstring)."""
    k = _count(successes, "successes")
    n = _count(trials, "trials", minimum=1)
    if k > n:
        raise UpsellError("successes", f"{k} is more than the {n} trials")
    if not (isinstance(z, float | int) and not isinstance(z, bool) and z > 0):
        raise UpsellError("z", "must be a positive number")
    p = k / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # Exact at the edges (the formula gives 0 and 1 there only up to float noise), and never
    # on the wrong side of the rate.
    low = 0.0 if k == 0 else min(max(centre - half, 0.0), p)
    high = 1.0 if k == n else max(min(centre + half, 1.0), p)
    return low, high


def median_days(days: Sequence[int]) -> float | None:
    """The middle value; the mean of the two middle values for an even count; ``None`` when
    there are none."""
    ordered = sorted(days)
    n = len(ordered)
    if n == 0:
        return None
    mid = n // 2
    return float(ordered[mid]) if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def band_position(
    takers: int,
    buyers: int,
    *,
    min_buyers: int = MIN_BUYERS,
    low_bps: int = TARGET_LOW_BPS,
    high_bps: int = TARGET_HIGH_BPS,
) -> BandPosition:
    """Where takers / buyers sits against the target band (module docstring), compared in
    integers so 6 of 30 is exactly inside a 20% lower end."""
    if buyers < min_buyers:
        return "not_enough_buyers"
    if takers * 10_000 < low_bps * buyers:
        return "below"
    if takers * 10_000 > high_bps * buyers:
        return "above"
    return "inside"


# --------------------------------------------------------------------------- report


@dataclass(frozen=True, slots=True)
class UpsellReport:
    """An upsell's conversion and what to change (module docstring for definitions).

    ``rate``, ``interval`` and ``median_days_to_take`` are ``None`` when there is nothing to
    compute them from. ``not_counted`` is the number of upsell purchases that did not count
    (before the base, after the window, after ``as_of``, not by a buyer, or a taker's
    repeat purchase).
    """

    buyers: int
    takers: int
    rate: float | None
    interval: tuple[float, float] | None
    median_days_to_take: float | None
    takers_within_checkout_days: int
    band: BandPosition
    still_deciding: int
    not_counted: int
    suggestions: tuple[str, ...]


def upsell_report(
    base_purchases: Iterable[Purchase],
    upsell_purchases: Iterable[Purchase],
    *,
    window_days: int | None = None,
    as_of: date | None = None,
    min_buyers: int = MIN_BUYERS,
    low_bps: int = TARGET_LOW_BPS,
    high_bps: int = TARGET_HIGH_BPS,
    upsell_price: Money | None = None,
) -> UpsellReport:
    """Buyers, takers, conversion with its interval, timing, band and suggestions.

    ``base_purchases`` and ``upsell_purchases`` are ``(buyer, date)`` pairs in any order;
    ``upsell_price`` is only used to name the price in a suggestion.
    """
    window = None if window_days is None else _count(window_days, "window_days")
    if as_of is not None:
        _day(as_of, "as_of")
    minimum = _count(min_buyers, "min_buyers", minimum=1)
    low = _count(low_bps, "low_bps")
    high = _count(high_bps, "high_bps")
    if not low <= high <= 10_000:
        raise UpsellError("high_bps", "the band must satisfy 0 <= low_bps <= high_bps <= 10000")
    if upsell_price is not None and not isinstance(upsell_price, Money):
        raise UpsellError("upsell_price", "must be Money")

    bought: dict[BuyerId, date] = {}
    for buyer, day in _purchases(base_purchases, "base_purchases"):
        if as_of is not None and day > as_of:
            continue
        first = bought.get(buyer)
        if first is None or day < first:
            bought[buyer] = day

    still_deciding = 0
    if window is not None and as_of is not None:
        decided = {b: d for b, d in bought.items() if (as_of - d).days >= window}
        still_deciding = len(bought) - len(decided)
        bought = decided

    taken: dict[BuyerId, int] = {}  # buyer -> days from base to their first counted upsell
    purchases = 0
    for buyer, day in _purchases(upsell_purchases, "upsell_purchases"):
        purchases += 1
        base_day = bought.get(buyer)
        if base_day is None or day < base_day or (as_of is not None and day > as_of):
            continue
        days = (day - base_day).days
        if window is not None and days > window:
            continue
        if buyer not in taken or days < taken[buyer]:
            taken[buyer] = days

    buyers, takers = len(bought), len(taken)
    days_to_take = list(taken.values())
    band = band_position(takers, buyers, min_buyers=minimum, low_bps=low, high_bps=high)
    interval = wilson_interval(takers, buyers) if buyers else None
    median = median_days(days_to_take)
    early = sum(1 for d in days_to_take if d <= CHECKOUT_DAYS)
    return UpsellReport(
        buyers=buyers,
        takers=takers,
        rate=takers / buyers if buyers else None,
        interval=interval,
        median_days_to_take=median,
        takers_within_checkout_days=early,
        band=band,
        still_deciding=still_deciding,
        not_counted=purchases - takers,
        suggestions=tuple(
            _suggestions(
                takers,
                buyers,
                band,
                interval,
                median,
                early,
                minimum=minimum,
                low_bps=low,
                high_bps=high,
                still_deciding=still_deciding,
                window_days=window,
                price=upsell_price,
            )
        ),
    )


def _suggestions(
    takers: int,
    buyers: int,
    band: BandPosition,
    interval: tuple[float, float] | None,
    median: float | None,
    early: int,
    *,
    minimum: int,
    low_bps: int,
    high_bps: int,
    still_deciding: int,
    window_days: int | None,
    price: Money | None,
) -> list[str]:
    target = f"{_bps_percent(low_bps)}{_DASH}{_bps_percent(high_bps)}% target"
    if band == "not_enough_buyers":
        needed = minimum - buyers
        sentence = (
            f"Only {_count_words(buyers, 'buyer')} of the base offer so far: "
            f"{needed} more {'is' if needed == 1 else 'are'} needed before the conversion "
            f"rate can be judged against the {target}."
        )
        if still_deciding:
            sentence = sentence[:-1] + (
                f" ({still_deciding} more {'is' if still_deciding == 1 else 'are'} still "
                f"inside the {window_days}-day window)."
            )
        return [sentence]

    rate = f"{takers} of {buyers} buyers took the upsell ({_percent(takers, buyers)}%)"
    if band == "inside":
        return [f"{rate}, inside the {target}: keep its price and timing as they are."]

    assert interval is not None  # buyers >= minimum >= 1
    low, high = interval
    spread = f"The 95% interval ({_share(low)}{_DASH}{_share(high)}%)"
    if band == "above":
        at = f" at {price.format(symbol=True)}" if price is not None else ""
        sentences = [
            f"{rate}, above the {target}.",
            f"With that many takers the upsell may be underpriced{at}: try a higher price "
            f"and watch that the rate stays above {_bps_percent(low_bps)}%.",
        ]
        if low * 10_000 <= high_bps:
            sentences.append(
                f"{spread} still reaches into the band: more buyers will show whether the "
                "rate stays this high."
            )
        return sentences

    sentences = [f"{rate}, below the {target}."]
    if takers == 0:
        sentences.append(
            "No buyer has taken it yet: offer it at checkout, right after the base "
            "purchase, and check that buyers can see it."
        )
    elif 2 * early > takers:
        sentences.append(
            f"{early} of {takers} takers bought it within {CHECKOUT_DAYS} days of the base "
            "offer: offer it at checkout, when interest is highest."
        )
    else:
        assert median is not None  # there are takers
        day = math.floor(median + 0.5)  # half a day rounds up: follow up no earlier than most
        sentences.append(
            f"Takers waited a median of {median:g} days: follow up with every buyer on day "
            f"{day} after they buy."
        )
    if high * 10_000 >= low_bps:
        sentences.append(
            f"{spread} still reaches the band: more buyers will show whether the rate is "
            "really this low."
        )
    return sentences


# --------------------------------------------------------------------------- helpers


def _count(value: object, field: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UpsellError(field, f"must be a whole number, not {type(value).__name__}")
    if value < minimum:
        raise UpsellError(
            field, "must not be negative" if minimum == 0 else f"must be at least {minimum}"
        )
    return int(value)


def _day(value: object, field: str) -> date:
    # A datetime is a date subclass; accepting one would drop its time and zone silently.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise UpsellError(field, f"must be a calendar date, not {type(value).__name__}")
    return value


def _purchases(rows: Iterable[Purchase], field: str) -> list[tuple[BuyerId, date]]:
    checked: list[tuple[BuyerId, date]] = []
    for i, row in enumerate(rows):
        if not isinstance(row, tuple) or len(row) != 2:
            raise UpsellError(f"{field}[{i}]", "must be (buyer, date)")
        buyer, day = row
        if isinstance(buyer, bool) or not isinstance(buyer, int | str):
            raise UpsellError(f"{field}[{i}].buyer", "must be an int or str id")
        checked.append((buyer, _day(day, f"{field}[{i}].date")))
    return checked


def _percent(part: int, whole: int) -> str:
    """part / whole as a percentage with one decimal, half up, without a trailing ".0"."""
    permille = (2000 * part + whole) // (2 * whole)
    return f"{permille // 10}" + (f".{permille % 10}" if permille % 10 else "")


def _share(value: float) -> str:
    permille = math.floor(value * 1000 + 0.5)
    return f"{permille // 10}" + (f".{permille % 10}" if permille % 10 else "")


def _bps_percent(bps: int) -> str:
    return _percent(bps, 10_000)


def _count_words(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
