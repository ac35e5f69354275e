"""Tax set-aside, self-employment tax, quarterly due dates and safe harbor, by hand."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.income.rules.tax import (
    SOCIAL_SECURITY_WAGE_BASE,
    installments,
    quarterly_due_dates,
    safe_harbor,
    self_employment_tax,
    set_aside,
)

# --------------------------------------------------------------------------- set-aside


def test_set_aside_rounds_half_away_from_zero():
    assert set_aside(1001, 2500) == 250  # 250.25 -> 250
    assert set_aside(1002, 2500) == 251  # 250.5 -> 251
    assert set_aside(-1002, 2500) == -251  # a refund gives back the same share
    assert set_aside(123_456, 0) == 0  # turned off
    assert set_aside(123_456, 10_000) == 123_456
    with pytest.raises(ValueError, match="rate_bps"):
        set_aside(100, 10_001)


# --------------------------------------------------------------------------- SE tax


def test_se_tax_on_one_hundred_thousand_dollars():
    result = self_employment_tax(10_000_000)
    # 100,000.00 x 92.35% = 92,350.00 taxable.
    # Social Security 12.4%: 11,451.40; Medicare 2.9%: 2,678.15; total 14,129.55,
    # the same as 15.3% of 92,350.00 at once. Half (7,064.775) deductible, rounded down.
    assert result.taxable == 9_235_000
    assert result.social_security == 1_145_140
    assert result.medicare == 267_815
    assert result.total == 1_412_955
    assert result.total == 9_235_000 * 1530 // 10_000
    assert result.deductible_half == 706_477


def test_se_tax_caps_social_security_at_the_wage_base():
    result = self_employment_tax(25_000_000, social_security_wage_base=18_450_000)
    # 250,000 x 92.35% = 230,875.00. Social Security only on 184,500: 22,878.00.
    # Medicare on all of it: 230,875 x 2.9% = 6,695.375 -> 6,695.38 (half up).
    assert result.taxable == 23_087_500
    assert result.social_security == 2_287_800
    assert result.medicare == 669_538
    assert result.total == 2_957_338
    # Wages of 100,000 from a job already paid Social Security on: 84,500 of base left,
    # x 12.4% = 10,478.00.
    with_job = self_employment_tax(25_000_000, w2_social_security_wages=10_000_000)
    assert with_job.social_security == 1_047_800
    assert with_job.medicare == 669_538
    # Wages over the base leave no Social Security to pay.
    assert self_employment_tax(25_000_000, w2_social_security_wages=20_000_000).social_security == 0


def test_wage_base_table_and_default():
    assert SOCIAL_SECURITY_WAGE_BASE[2025] == 17_610_000
    assert SOCIAL_SECURITY_WAGE_BASE[2026] == 18_450_000
    big = self_employment_tax(100_000_000)
    assert big.social_security == 18_450_000 * 1240 // 10_000  # 2026 base by default


def test_se_tax_rounds_each_line_like_schedule_se():
    # 433.68 x 92.35% = 400.503 -> 400.50; SS 12.4% = 49.662 -> 49.66;
    # Medicare 2.9% = 11.6145 -> 11.61; total 61.27 -- one cent under 15.3% at once
    # (61.2765 -> 61.28), because the form rounds the two lines separately.
    result = self_employment_tax(43_368)
    assert (result.taxable, result.social_security, result.medicare) == (40_050, 4966, 1161)
    assert result.total == 6127


def test_no_se_tax_under_four_hundred_dollars_of_net_earnings():
    # 433.13 x 92.35% = 399.9956 -> 400.00: taxed. 433.12 -> 399.986 -> 399.99: not.
    assert self_employment_tax(43_313).taxable == 40_000
    assert self_employment_tax(43_313).total > 0
    assert self_employment_tax(43_312).total == 0
    assert self_employment_tax(-500_000).total == 0
    assert self_employment_tax(0).taxable == 0


@given(st.integers(0, 10**10))
def test_se_tax_parts_add_up_and_stay_within_15_3_percent(net):
    result = self_employment_tax(net)
    assert result.total == result.social_security + result.medicare
    assert result.social_security <= 18_450_000 * 1240 // 10_000 + 1
    assert 0 <= result.total <= (result.taxable * 1530 + 10_000) // 10_000 + 1


# --------------------------------------------------------------------------- due dates


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        # Apr 15 2022 was DC Emancipation Day observed (Apr 16 a Saturday) -> Mon Apr 18;
        # Jan 15 2023 a Sunday, Mon Jan 16 Martin Luther King Day -> Tue Jan 17.
        (2022, ["2022-04-18", "2022-06-15", "2022-09-15", "2023-01-17"]),
        # Apr 15 2023 a Saturday, Mon Apr 17 Emancipation Day observed -> Apr 18;
        # Jan 15 2024 was Martin Luther King Day -> Jan 16.
        (2023, ["2023-04-18", "2023-06-15", "2023-09-15", "2024-01-16"]),
        # Jun 15 2024 a Saturday -> Jun 17; Sep 15 a Sunday -> Sep 16.
        (2024, ["2024-04-15", "2024-06-17", "2024-09-16", "2025-01-15"]),
        # Jun 15 2025 a Sunday -> Jun 16.
        (2025, ["2025-04-15", "2025-06-16", "2025-09-15", "2026-01-15"]),
        (2026, ["2026-04-15", "2026-06-15", "2026-09-15", "2027-01-15"]),
        # Jan 15 2028 a Saturday, Mon Jan 17 Martin Luther King Day -> Tue Jan 18.
        (2027, ["2027-04-15", "2027-06-15", "2027-09-15", "2028-01-18"]),
        # Jan 15 2022 a Saturday, Jan 17 MLK Day -> Jan 18 2022 (the fourth 2021 payment).
        (2021, ["2021-04-15", "2021-06-15", "2021-09-15", "2022-01-18"]),
    ],
)
def test_quarterly_due_dates(year, expected):
    assert [d.isoformat() for d in quarterly_due_dates(year)] == expected


def test_extra_holidays_where_the_worker_files():
    # Maine and Massachusetts: Patriots' Day, Mon Apr 15 2024, then DC Emancipation Day on
    # Tue Apr 16 -> Wed Apr 17, 2024.
    assert quarterly_due_dates(2024, holidays=[date(2024, 4, 15)])[0] == date(2024, 4, 17)


# --------------------------------------------------------------------------- safe harbor


def test_safe_harbor_takes_the_smaller_requirement():
    # Last year's tax 10,000, AGI 120,000; this year's estimate 12,000.
    # 90% of 12,000 = 10,800; 100% of last year = 10,000 -> 10,000.
    assert safe_harbor(1_000_000, 12_000_000, 1_200_000) == 1_000_000
    # AGI over 150,000: 110% of 10,000 = 11,000 against 10,800 -> 10,800.
    assert safe_harbor(1_000_000, 16_000_000, 1_200_000) == 1_080_000
    # AGI exactly 150,000 is not over it: 100%.
    assert safe_harbor(1_000_000, 15_000_000, 1_200_000) == 1_000_000
    # A smaller year: 90% of 9,000 = 8,100.
    assert safe_harbor(1_000_000, 12_000_000, 900_000) == 810_000
    # No full prior year filed: 90% rule only.
    assert safe_harbor(None, 0, 1_200_000) == 1_080_000
    # No tax last year: nothing required.
    assert safe_harbor(0, 5_000_000, 1_200_000) == 0
    # Married filing separately: the 110% rule starts over 75,000.
    assert safe_harbor(1_000_000, 8_000_000, 2_000_000, married_filing_separately=True) == 1_100_000


def test_safe_harbor_rounds_up_to_the_cent():
    # 90% of 11.11 = 9.999 -> 10.00; 110% of 9.11 = 10.021 -> 10.03.
    assert safe_harbor(None, 0, 1111) == 1000
    assert safe_harbor(911, 20_000_000, 10_000) == 1003


def test_installments_add_up_exactly():
    assert installments(1_000_001) == [250_001, 250_000, 250_000, 250_000]
    assert installments(1_080_003) == [270_001, 270_001, 270_001, 270_000]
    assert sum(installments(1_080_003)) == 1_080_003
    assert installments(0) == [0, 0, 0, 0]
