"""The dashboard's figures, built from a report whose every number is chosen by hand."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.serializers.json import DjangoJSONEncoder

from keel.income import charts
from keel.income.reports import BufferStatus, IncomeReport, TaxStatus
from keel.income.rules import analytics, smoothing, tax
from keel.income.rules.analytics import IncomeFact
from keel.income.rules.forecast import Forecast, ForecastWindow

MONTHS = analytics.month_range((2026, 1), (2026, 3))
START = date(2026, 4, 1)


def _forecast() -> Forecast:
    # Six days, two 3-day "windows" so the second one's first day gets a divider line.
    days = tuple(START + timedelta(days=d) for d in range(6))
    p10 = (100_000, 90_050, 80_000, 85_000, 95_000, 99_999)
    p50 = (100_000, 95_000, 91_234, 96_000, 101_000, 104_500)
    p90 = (100_000, 99_000, 99_500, 108_000, 112_000, 120_001)
    windows = tuple(
        ForecastWindow(days[i], days[i + 2], 3_000, 1_000, 2_000, 3_000, 0.25) for i in (0, 3)
    )
    return Forecast(
        start=START,
        horizon=6,
        paths=10,
        seed=1,
        days=days,
        scheduled_income=(0,) * 6,
        projected_recurring=(0,) * 6,
        income_p10=(0,) * 6,
        income_p50=(0,) * 6,
        income_p90=(0,) * 6,
        expenses=(0,) * 6,
        balance_p10=p10,
        balance_p50=p50,
        balance_p90=p90,
        lowest_balance=91_234,
        lowest_balance_on=days[2],
        windows=windows,
        projected_streams=(),
        simulated_sources=(),
        monthly_median_income=0,
    )


@pytest.fixture
def report() -> IncomeReport:
    facts = [
        # January: $1,000.00 of retainer, $250.50 of project work.
        IncomeFact(date(2026, 1, 3), "northwind", "recurring", 100_000),
        IncomeFact(date(2026, 1, 20), "upwork", "project", 25_050),
        # February: the retainer and $12.34 of gigs.
        IncomeFact(date(2026, 2, 3), "northwind", "recurring", 100_000),
        IncomeFact(date(2026, 2, 9), "dashmile", "micro", 1_234),
        # March: a refund larger than the month's project income.
        IncomeFact(date(2026, 3, 3), "northwind", "recurring", 100_000),
        IncomeFact(date(2026, 3, 15), "upwork", "project", -5_000),
    ]
    stability = analytics.stability_summary(facts, MONTHS)
    return IncomeReport(
        worker_id=1,
        currency="USD",
        as_of=START,
        stability=stability,
        forecast=_forecast(),
        salary=smoothing.recommend_salary(stability.monthly, None),
        current_salary=0,
        buffer=BufferStatus(0, 0, None, None),
        cash=100_000,
        essential_expenses=0,
        tax=TaxStatus(True, 2500, 0, 0, tax.self_employment_tax(0), [], None),
        source_names={
            "northwind": "Northwind Studio (retainer)",
            "upwork": "Upwork",
            "dashmile": "DashMile deliveries",
        },
    )


def test_income_mix_stacks_each_stream_kind_by_month(report):
    urls = {(2026, 1): "/income/month/2026-01/", (2026, 3): "/income/month/2026-03/"}
    figure = charts.income_mix_figure(report, urls)
    bars = {trace["name"]: trace for trace in figure["data"]}
    assert list(bars) == ["Recurring", "Project", "Micro-work"]
    assert all(t["x"] == ["2026-01-01", "2026-02-01", "2026-03-01"] for t in bars.values())
    assert bars["Recurring"]["y"] == [Decimal("1000.00")] * 3
    assert bars["Project"]["y"] == [Decimal("250.50"), Decimal("0.00"), Decimal("-50.00")]
    assert bars["Micro-work"]["y"] == [Decimal("0.00"), Decimal("12.34"), Decimal("0.00")]
    assert bars["Project"]["customdata"] == [
        ["$250.50", "/income/month/2026-01/"],
        ["$0.00", ""],  # no page for February here: the chart does not link it
        ["-$50.00", "/income/month/2026-03/"],
    ]
    # A refund makes a negative bar below the axis, not a dent in the stack.
    assert figure["layout"]["barmode"] == "relative"
    assert figure["layout"]["yaxis"]["title"]["text"] == "USD"


def test_sources_are_sorted_with_the_largest_on_top(report):
    figure = charts.source_figure(report)
    (bars,) = figure["data"]
    # Plotly draws the first category at the bottom, so the largest comes last.
    # Long names are cut to 20 characters on the axis; the hover label has them whole.
    assert bars["y"] == ["DashMile deliveries", "Upwork", "Northwind Studio (r…"]
    # Upwork: $250.50 in January less the $50.00 refund in March.
    assert bars["x"] == [Decimal("12.34"), Decimal("200.50"), Decimal("3000.00")]
    assert bars["text"] == ["$12.34", "$200.50", "$3,000.00"]
    assert bars["customdata"][2] == ["$3,000.00", "Northwind Studio (retainer)"]


def test_the_fan_chart_draws_the_band_the_median_and_the_lowest_point(report):
    figure = charts.forecast_figure(report)
    low, high, median, lowest = figure["data"]
    assert low["x"][0] == "2026-04-01" and low["x"][-1] == "2026-04-06"
    assert low["y"] == [
        Decimal(v) for v in ("1000.00", "900.50", "800.00", "850.00", "950.00", "999.99")
    ]
    assert high["fill"] == "tonexty"  # the band is filled down to the p10 line
    assert high["y"][-1] == Decimal("1200.01")
    assert median["y"][2] == Decimal("912.34")
    assert median["customdata"][2] == "$912.34"
    assert (lowest["x"], lowest["y"]) == (["2026-04-03"], [Decimal("912.34")])
    (note,) = figure["layout"]["annotations"]
    assert note["text"] == "Lowest: $912.34<br>on Apr 3"
    assert (note["x"], note["y"]) == ("2026-04-03", Decimal("912.34"))
    # The second 30-day window (here: 3 days) starts at a dotted line.
    (divider,) = figure["layout"]["shapes"]
    assert divider["x0"] == divider["x1"] == "2026-04-04"
    # Room below the band for the label: a third of the band's height ($1,200.01 - $800.00).
    assert figure["layout"]["yaxis"]["range"] == [Decimal("666.67"), Decimal("1222.23")]


def test_figures_serialise_to_exact_decimal_strings(report):
    figure = charts.forecast_figure(report)
    # json_script uses DjangoJSONEncoder: Decimals become strings plotly reads as numbers,
    # so no amount passes through a binary float on the server.
    encoded = json.loads(json.dumps(figure, cls=DjangoJSONEncoder))
    assert encoded["data"][2]["y"][2] == "912.34"
    assert encoded["layout"]["annotations"][0]["y"] == "912.34"
