"""Corrections of recorded earnings events: how the difference a correction makes is split
over the worker's buckets, and how much of a take-back the buckets can give.

A correction moves only the difference between what the event should have produced and
what was booked for it. Upward, the difference is split over the buckets in the
proportions the event's money went in (largest remainder, ``keel.money.allocate``), like a
contribution. Downward, each bucket gives back its share, never more than it holds: a bucket
the worker already spent from gives what it has and the rest of its share is taken from the
account's other buckets, in ``BUCKETS`` order. What the account as a whole does not hold is
not taken at all: the platform made the mistake, so the platform bears it (its receivable
is reduced only by what came back), and the correction shows the shortfall.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from keel.money import allocate

from .buckets import BUCKETS
from .policy import PolicyError, require_int

__all__ = ["TakeBack", "split_like", "take_back"]


def split_like(amount: int, weights: Mapping[str, int]) -> dict[str, int]:
    """``amount`` split over the buckets in proportion to ``weights`` (bucket -> what the
    event's money put in it), in ``BUCKETS`` order; the parts sum to ``amount`` exactly.
    Buckets without a weight get nothing."""
    require_int(amount, "amount", minimum=None)
    ordered = [max(0, int(weights.get(bucket, 0))) for bucket in BUCKETS]
    if not any(ordered):
        raise PolicyError(
            "at least one bucket must have received money", field="weights", code="empty"
        )
    return dict(zip(BUCKETS, allocate(amount, ordered), strict=True))


@dataclass(frozen=True, slots=True)
class TakeBack:
    """What each bucket gives back (positive minor units) and what nobody could give."""

    taken: dict[str, int]
    shortfall: int

    @property
    def total(self) -> int:
        return sum(self.taken.values())


def take_back(amount: int, weights: Mapping[str, int], available: Mapping[str, int]) -> TakeBack:
    """Take ``amount`` back from the buckets, split like ``weights``, never below zero.

    Worked example: $180.00 back from buckets filled 30/30/20/10/10 asks health $54,
    retirement $54, time off $36, emergency $18, tax $18. If the time-off bucket holds only
    $6 (the worker took time off), it gives $6 and the $30 it could not give comes from
    health, then retirement, … as far as they hold more than their own share.
    """
    require_int(amount, "amount")
    wanted = split_like(amount, weights)
    held = {bucket: max(0, int(available.get(bucket, 0))) for bucket in BUCKETS}
    taken = {bucket: min(wanted[bucket], held[bucket]) for bucket in BUCKETS}
    missing = amount - sum(taken.values())
    for bucket in BUCKETS:
        if not missing:
            break
        more = min(missing, held[bucket] - taken[bucket])
        taken[bucket] += more
        missing -= more
    return TakeBack({bucket: part for bucket, part in taken.items() if part}, missing)
