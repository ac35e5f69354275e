"""Scaled purchasing power: a benefit plan whose member price falls as enrolment grows.

A plan has an individual price (what one worker pays alone) and volume tiers: from
``min_enrolled`` members on, every member pays the tier's monthly price. The pricing is
validated so that more members can never cost a member more.
"""

from __future__ import annotations

from dataclasses import dataclass

from .policy import PolicyError, require_currency, require_int

__all__ = [
    "PlanPricing",
    "PriceTier",
    "group_saving",
    "next_tier",
    "price_for",
    "saving",
]


@dataclass(frozen=True, slots=True)
class PriceTier:
    min_enrolled: int
    monthly_price: int

    def __post_init__(self) -> None:
        # One member is the individual price by definition; a tier starts at two or more.
        require_int(self.min_enrolled, "min_enrolled", minimum=2)
        require_int(self.monthly_price, "monthly_price")


@dataclass(frozen=True, slots=True)
class PlanPricing:
    currency: str
    individual_price: int
    tiers: tuple[PriceTier, ...] = ()

    def __post_init__(self) -> None:
        require_currency(self.currency)
        require_int(self.individual_price, "individual_price")
        if not isinstance(self.tiers, tuple):
            raise PolicyError(
                f"tiers must be a tuple of PriceTier, not {type(self.tiers).__name__}",
                field="tiers",
                code="invalid_type",
            )
        previous: PriceTier | None = None
        for i, tier in enumerate(self.tiers):
            if not isinstance(tier, PriceTier):
                raise PolicyError(
                    f"tiers[{i}] must be a PriceTier, not {type(tier).__name__}",
                    field=f"tiers.{i}",
                    code="invalid_type",
                )
            if previous is not None and tier.min_enrolled <= previous.min_enrolled:
                raise PolicyError(
                    f"tier {i} starts at {tier.min_enrolled} members, not more than the "
                    f"{previous.min_enrolled} of the tier before it",
                    field=f"tiers.{i}.min_enrolled",
                    code="not_increasing",
                )
            ceiling = self.individual_price if previous is None else previous.monthly_price
            if tier.monthly_price > ceiling:
                raise PolicyError(
                    f"tier {i} costs {tier.monthly_price}, more than {ceiling} for fewer members",
                    field=f"tiers.{i}.monthly_price",
                    code="price_increases",
                )
            previous = tier


def price_for(pricing: PlanPricing, enrolled: int) -> int:
    """Monthly price per member with ``enrolled`` members in the plan."""
    require_int(enrolled, "enrolled")
    price = pricing.individual_price
    for tier in pricing.tiers:
        if tier.min_enrolled > enrolled:
            break
        price = tier.monthly_price
    return price


def saving(pricing: PlanPricing, enrolled: int) -> int:
    """Per member per month, against buying the plan alone."""
    return pricing.individual_price - price_for(pricing, enrolled)


def group_saving(pricing: PlanPricing, enrolled: int) -> int:
    """Per month, for all ``enrolled`` members together."""
    return saving(pricing, enrolled) * enrolled


def next_tier(pricing: PlanPricing, enrolled: int) -> tuple[int, int] | None:
    """(members still needed, price then) for the next lower price, or None at the lowest.

    A tier that keeps the same price is skipped: reaching it would change nothing for the
    members, so it is not worth announcing as a goal.
    """
    current = price_for(pricing, enrolled)
    for tier in pricing.tiers:
        if tier.min_enrolled > enrolled and tier.monthly_price < current:
            return tier.min_enrolled - enrolled, tier.monthly_price
    return None
