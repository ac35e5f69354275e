"""The tax set-aside, US self-employment tax, quarterly due dates and the safe harbor.

Amounts are ``int`` minor units; US figures are in cents. Rounding follows money.py: a
percentage of an amount is rounded half away from zero (``percent_of_bps``), the way people
check a figure by hand, except where a rule says a minimum ("at least"), which is rounded
up so it is never short. These are estimates to plan with, not a tax return: the
Additional Medicare Tax (0.9% over $200,000), the income tax itself, state taxes and the
farm and church-employee rules are not modelled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from keel.income.rules.dates import next_business_day, us_federal_holidays
from keel.money import allocate, percent_of_bps

__all__ = [
    "SE_MINIMUM_NET_EARNINGS",
    "SOCIAL_SECURITY_WAGE_BASE",
    "SETax",
    "installments",
    "quarterly_due_dates",
    "safe_harbor",
    "self_employment_tax",
    "set_aside",
]

# Social Security contribution and benefit base (maximum taxable earnings), in cents, as
# announced by the SSA each October. 2026: $184,500 (SSA, Oct 24 2025; up from $176,100).
SOCIAL_SECURITY_WAGE_BASE: dict[int, int] = {
    2022: 14_700_000,
    2023: 16_020_000,
    2024: 16_860_000,
    2025: 17_610_000,
    2026: 18_450_000,
}
# Schedule SE: no SE tax when net earnings from self-employment (the 92.35% figure) are
# less than $400.
SE_MINIMUM_NET_EARNINGS = 40_000
# Safe harbor: the 110% rule applies when last year's AGI was more than $150,000 ($75,000
# when married filing separately).
HIGH_INCOME_AGI = 15_000_000
HIGH_INCOME_AGI_MFS = 7_500_000


def _int(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{field} must be an int of minor units, not {type(value).__name__}")
    return int(value)


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def set_aside(payment_net: int, rate_bps: int) -> int:
    """The part of a payment Keel moves to your tax account: your chosen percentage of what
    you were paid after fees.

    ``payment_net`` x ``rate_bps`` / 10000, rounded half away from zero to whole minor
    units (``keel.money.percent_of_bps``): 25% of $10.01 sets aside $2.50 (2.5025), 25% of
    $10.02 sets aside $2.51 (2.505 rounds up). A refund (negative payment) gives a negative
    set-aside: the same share goes back, mirroring the original. ``rate_bps`` 0 (set-aside
    turned off) to 10000.
    """
    payment = _int(payment_net, "payment_net")
    rate = _int(rate_bps, "rate_bps")
    if not 0 <= rate <= 10_000:
        raise ValueError(f"rate_bps must be between 0 and 10000, not {rate}")
    return percent_of_bps(payment, rate)


@dataclass(frozen=True, slots=True)
class SETax:
    net_earnings: int  # net profit from self-employment (Schedule C), cents
    taxable: int  # net earnings from self-employment: 92.35% of net_earnings
    social_security: int  # 12.4% of taxable, up to the wage base left after W-2 wages
    medicare: int  # 2.9% of taxable, no cap
    total: int  # social_security + medicare
    deductible_half: int  # half of total, deductible from income (rounded down)


def self_employment_tax(
    net_earnings: int,
    *,
    social_security_wage_base: int = SOCIAL_SECURITY_WAGE_BASE[2026],
    w2_social_security_wages: int = 0,
) -> SETax:
    """An estimate of your US self-employment tax: the Social Security and Medicare tax
    employers and employees share, which a freelancer pays both halves of: 15.3% of 92.35%
    of your net earnings.

    Following Schedule SE line by line, in cents, each product rounded half away from zero:
    taxable = net x 9235 / 10000; if taxable < $400 there is no SE tax. Social Security =
    12.4% (1240 bps) of the smaller of taxable and what is left of
    ``social_security_wage_base`` after ``w2_social_security_wages`` (wages from a job
    already taxed for Social Security); Medicare = 2.9% (290 bps) of all of taxable; total
    = their sum. Rounding the two parts separately, as the form does, can differ by one cent
    from taking 15.3% of taxable at once. Pass the wage base of the tax year
    (``SOCIAL_SECURITY_WAGE_BASE[year]``); the default is 2026's $184,500.
    """
    net = _int(net_earnings, "net_earnings")
    base = _int(social_security_wage_base, "social_security_wage_base")
    wages = _int(w2_social_security_wages, "w2_social_security_wages")
    if base < 0 or wages < 0:
        raise ValueError("the wage base and W-2 wages must not be negative")
    taxable = percent_of_bps(net, 9235) if net > 0 else 0
    if taxable < SE_MINIMUM_NET_EARNINGS:
        return SETax(net, taxable, 0, 0, 0, 0)
    social_security = percent_of_bps(min(taxable, max(base - wages, 0)), 1240)
    medicare = percent_of_bps(taxable, 290)
    total = social_security + medicare
    return SETax(net, taxable, social_security, medicare, total, total // 2)


def quarterly_due_dates(tax_year: int, holidays: Iterable[date] | None = None) -> list[date]:
    """When your estimated tax payments for ``tax_year`` are due: April 15, June 15 and
    September 15 of the year and January 15 of the next, each moved to the next business
    day when it falls on a weekend or a legal holiday.

    Legal holidays are the observed US federal holidays plus DC Emancipation Day (see
    ``dates.us_federal_holidays``); ``holidays`` adds days that are also closed where you
    file, e.g. Patriots' Day for Maine and Massachusetts residents, or a disaster
    postponement. Known results: 2022 -> Apr 18 (Emancipation Day observed Fri Apr 15),
    Jun 15, Sep 15, Jan 17 2023 (Sunday, then Martin Luther King Day).
    """
    closed = set(holidays or ())
    for year in (tax_year, tax_year + 1):
        closed |= set(us_federal_holidays(year))
    nominal = [
        date(tax_year, 4, 15),
        date(tax_year, 6, 15),
        date(tax_year, 9, 15),
        date(tax_year + 1, 1, 15),
    ]
    return [next_business_day(day, closed) for day in nominal]


def safe_harbor(
    prior_year_tax: int | None,
    prior_year_agi: int,
    current_year_estimate: int,
    *,
    married_filing_separately: bool = False,
) -> int:
    """The least you must pay in estimated tax over the year to owe no underpayment
    penalty: 90% of this year's tax, or 100% of last year's tax (110% if last year's
    adjusted gross income was over $150,000), whichever is smaller.

    Each percentage is rounded up to the next cent (a minimum is never short). Last year
    only counts when you filed a return for a full 12-month year: pass
    ``prior_year_tax=None`` otherwise and only the 90% rule applies. A last year with no
    tax gives 0. The $150,000 is $75,000 when married filing separately. Pay it in four
    equal parts by the quarterly due dates (``installments``).
    """
    current = max(_int(current_year_estimate, "current_year_estimate"), 0)
    this_year = _ceil_div(current * 90, 100)
    if prior_year_tax is None:
        return this_year
    prior = max(_int(prior_year_tax, "prior_year_tax"), 0)
    threshold = HIGH_INCOME_AGI_MFS if married_filing_separately else HIGH_INCOME_AGI
    percent = 110 if _int(prior_year_agi, "prior_year_agi") > threshold else 100
    return min(this_year, _ceil_div(prior * percent, 100))


def installments(required_annual_payment: int) -> list[int]:
    """Four quarterly payments that add up exactly to ``required_annual_payment``.

    Equal quarters by the largest-remainder method (``keel.money.allocate``): the cents
    that do not divide by four go to the earliest quarters.
    """
    amount = _int(required_annual_payment, "required_annual_payment")
    if amount < 0:
        raise ValueError("required_annual_payment must not be negative")
    return allocate(amount, [1, 1, 1, 1])
