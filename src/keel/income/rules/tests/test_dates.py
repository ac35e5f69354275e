"""Month arithmetic and the US federal (and DC) holiday calendar."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

from keel.income.rules.dates import (
    add_months,
    month_span,
    next_business_day,
    nth_weekday,
    observed,
    shift_month,
    us_federal_holidays,
)


def test_month_arithmetic():
    assert shift_month((2025, 12), 1) == (2026, 1)
    assert shift_month((2026, 1), -1) == (2025, 12)
    assert shift_month((2026, 3), -15) == (2024, 12)
    assert month_span((2025, 11), (2026, 2)) == 3
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2024, 2, 29), 1, day_of_month=31) == date(2024, 3, 31)


def test_nth_weekday_and_observed():
    assert nth_weekday(2024, 1, 0, 3) == date(2024, 1, 15)  # MLK Day 2024
    assert nth_weekday(2024, 5, 0, -1) == date(2024, 5, 27)  # Memorial Day 2024
    assert nth_weekday(2024, 11, 3, 4) == date(2024, 11, 28)  # Thanksgiving 2024
    assert observed(date(2022, 4, 16)) == date(2022, 4, 15)  # Saturday -> Friday
    assert observed(date(2023, 4, 16)) == date(2023, 4, 17)  # Sunday -> Monday
    assert observed(date(2024, 4, 16)) == date(2024, 4, 16)


def test_federal_holidays_2024():
    holidays = us_federal_holidays(2024)
    assert list(holidays) == [
        date(2024, 1, 1),
        date(2024, 1, 15),
        date(2024, 2, 19),
        date(2024, 4, 16),  # DC Emancipation Day
        date(2024, 5, 27),
        date(2024, 6, 19),
        date(2024, 7, 4),
        date(2024, 9, 2),
        date(2024, 10, 14),
        date(2024, 11, 11),
        date(2024, 11, 28),
        date(2024, 12, 25),
    ]
    assert date(2024, 4, 16) not in us_federal_holidays(2024, district_of_columbia=False)


def test_observed_holidays_cross_the_year():
    # Jan 1 2022 was a Saturday: observed Friday Dec 31 2021.
    assert us_federal_holidays(2021)[date(2021, 12, 31)] == "New Year's Day"
    assert date(2022, 1, 1) not in us_federal_holidays(2022)
    # Christmas 2022 a Sunday: observed Monday Dec 26.
    assert date(2022, 12, 26) in us_federal_holidays(2022)
    assert date(2020, 6, 19) not in us_federal_holidays(2020)  # Juneteenth from 2021


def test_next_business_day():
    assert next_business_day(date(2024, 6, 15)) == date(2024, 6, 17)  # Saturday
    assert next_business_day(date(2024, 6, 14)) == date(2024, 6, 14)
    assert next_business_day(date(2023, 1, 15), us_federal_holidays(2023)) == date(2023, 1, 17)


def test_the_rules_do_not_import_django():
    src = Path(__file__).resolve().parents[4]
    code = (
        "import sys; "
        "import keel.income.rules.analytics, keel.income.rules.forecast, "
        "keel.income.rules.smoothing, keel.income.rules.tax, keel.income.rules.dates; "
        "sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=src, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
