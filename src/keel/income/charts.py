"""Plotly figures for the income dashboard, built as plain dicts from an ``IncomeReport``.

The page embeds each figure with ``json_script`` and ``income/charts.js`` hands it to
``Plotly.newPlot``; nothing here touches Django or the database, so the figures can be
tested against exact numbers.

Money stays exact on its way to the browser: y values are ``Decimal`` major units made
from the integer minor units (``json_script`` writes them as strings, which plotly reads
as numbers), and every hover label is the amount formatted by ``keel.money``, the same
text the ``money`` template filter prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from keel.money import format_amount, from_minor

from .reports import IncomeReport
from .rules.analytics import STREAM_KINDS
from .rules.dates import Month

Figure = dict[str, Any]

KIND_LABELS: dict[str, str] = {
    "recurring": "Recurring",
    "project": "Project",
    "micro": "Micro-work",
}
# Keel's teal and navy for the two larger kinds, an amber that stays distinct for people
# with red-green colour blindness for the third.
KIND_COLOURS: dict[str, str] = {
    "recurring": "#12837b",
    "project": "#24507c",
    "micro": "#d9892b",
}
BAND_COLOUR = "rgba(18, 131, 123, 0.18)"
MEDIAN_COLOUR = "#0c6660"
LOWEST_COLOUR = "#b42318"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
SOURCE_LABEL_LENGTH = 20


def major(minor: int, currency: str) -> Decimal:
    """Minor units as an exact Decimal of major units (12345 USD -> Decimal('123.45'))."""
    return from_minor(minor, currency)


def money_text(minor: int, currency: str) -> str:
    return format_amount(minor, currency, symbol=True)


def month_start(month: Month) -> str:
    return date(month[0], month[1], 1).isoformat()


def _layout(currency: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "margin": {"l": 8, "r": 8, "t": 8, "b": 8},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": FONT, "size": 12, "color": "#1b2a3a"},
        "hoverlabel": {"font": {"family": FONT}},
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "yaxis": {
            "type": "linear",
            "title": {"text": currency},
            # "12k", "1.5M": short enough for a phone; the hover label has the exact amount.
            "tickformat": "~s",
            "automargin": True,
            "gridcolor": "#e3e9ef",
            "zerolinecolor": "#9aa8b6",
            "fixedrange": True,
        },
        "xaxis": {"automargin": True, "fixedrange": True},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout


def income_mix_figure(report: IncomeReport, month_urls: Mapping[Month, str]) -> Figure:
    """Stacked monthly bars of net income by stream kind over the report's window, in the
    home currency. Each point's customdata is ``[amount text, month page URL or ""]``; the
    page follows the URL when a bar is clicked."""
    currency = report.currency
    months = report.stability.months
    x = [month_start(m) for m in months]
    data = []
    for kind in STREAM_KINDS:
        series = report.stability.by_stream_kind.get(kind, {})
        values = [series.get(m, 0) for m in months]
        data.append(
            {
                "type": "bar",
                "name": KIND_LABELS[kind],
                "x": x,
                "y": [major(v, currency) for v in values],
                "customdata": [
                    [money_text(v, currency), month_urls.get(m, "")]
                    for v, m in zip(values, months, strict=True)
                ],
                "hovertemplate": "%{fullData.name}: %{customdata[0]}<extra></extra>",
                "marker": {"color": KIND_COLOURS[kind]},
            }
        )
    return {
        "data": data,
        "layout": _layout(
            currency,
            barmode="relative",
            hovermode="x unified",
            xaxis={"type": "date", "tickformat": "%b %Y", "dtick": "M2"},
        ),
    }


def source_figure(report: IncomeReport) -> Figure:
    """Horizontal bars of each source's net income over the window, largest at the top."""
    currency = report.currency
    totals = sorted(
        report.stability.by_source_total.items(),
        key=lambda pair: (pair[1], report.source_names.get(pair[0], pair[0])),
    )
    names = [report.source_names.get(slug, slug) for slug, _ in totals]
    labels = [_short(name) for name in names]
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "name": "Net income",
                "y": labels,
                "x": [major(v, currency) for _, v in totals],
                "customdata": [
                    [money_text(v, currency), name]
                    for (_, v), name in zip(totals, names, strict=True)
                ],
                "text": [money_text(v, currency) for _, v in totals],
                "textposition": "inside",
                "insidetextanchor": "end",
                "hovertemplate": "%{customdata[1]}: %{customdata[0]}<extra></extra>",
                "marker": {"color": KIND_COLOURS["recurring"]},
            }
        ],
        "layout": _layout(
            currency,
            showlegend=False,
            # An amount that does not fit inside its bar is left to the hover label.
            uniformtext={"mode": "hide", "minsize": 10},
            # The amounts run along x here; the y axis carries the source names.
            xaxis={
                "type": "linear",
                "title": {"text": currency},
                "tickformat": "~s",
                "gridcolor": "#e3e9ef",
                "zerolinecolor": "#9aa8b6",
            },
            yaxis={"type": "category", "title": {"text": ""}, "tickformat": ""},
        ),
    }


def _short(name: str) -> str:
    if len(name) <= SOURCE_LABEL_LENGTH:
        return name
    return name[: SOURCE_LABEL_LENGTH - 1].rstrip() + "…"


def forecast_figure(report: IncomeReport) -> Figure:
    """The 90-day fan chart of the balance: the band between the 10th and 90th percentile,
    the median line, the lowest median point marked and labelled, and dotted lines where
    the second and third 30-day windows begin."""
    f = report.forecast
    currency = report.currency
    x = [day.isoformat() for day in f.days]

    def line(name: str, values: tuple[int, ...], **extra: Any) -> dict[str, Any]:
        return {
            "type": "scatter",
            "mode": "lines",
            "name": name,
            "x": x,
            "y": [major(v, currency) for v in values],
            "customdata": [money_text(v, currency) for v in values],
            "hovertemplate": f"{name}: %{{customdata}}<extra></extra>",
            **extra,
        }

    lowest_text = money_text(f.lowest_balance, currency)
    lowest_day = f"{f.lowest_balance_on:%b} {f.lowest_balance_on.day}"
    data = [
        line("Low (10th percentile)", f.balance_p10, line={"width": 0, "color": BAND_COLOUR}),
        line(
            "High (90th percentile)",
            f.balance_p90,
            fill="tonexty",
            fillcolor=BAND_COLOUR,
            line={"width": 0, "color": BAND_COLOUR},
        ),
        line("Median balance", f.balance_p50, line={"width": 2.5, "color": MEDIAN_COLOUR}),
        {
            "type": "scatter",
            "mode": "markers",
            "name": "Lowest expected balance",
            "x": [f.lowest_balance_on.isoformat()],
            "y": [major(f.lowest_balance, currency)],
            "customdata": [lowest_text],
            "hovertemplate": "Lowest expected: %{customdata}<extra></extra>",
            "marker": {"color": LOWEST_COLOUR, "size": 10, "line": {"color": "#fff", "width": 2}},
            "showlegend": False,
        },
    ]
    boundaries = [w.first_day.isoformat() for w in f.windows[1:]]
    # Room under the band for the lowest point's label, which hangs below the point.
    low, high = min(f.balance_p10), max(f.balance_p90)
    pad = max((high - low) // 3, 1)
    # Label to the right of a point in the first half of the chart, to its left after.
    early = f.lowest_balance_on <= f.days[len(f.days) // 2]
    return {
        "data": data,
        "layout": _layout(
            currency,
            hovermode="x unified",
            showlegend=False,
            xaxis={"type": "date", "tickformat": "%b %-d"},
            yaxis={"range": [major(low - pad, currency), major(high + pad // 6, currency)]},
            shapes=[
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": day,
                    "x1": day,
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": "#9aa8b6", "width": 1, "dash": "dot"},
                }
                for day in boundaries
            ],
            annotations=[
                {
                    "x": f.lowest_balance_on.isoformat(),
                    "y": major(f.lowest_balance, currency),
                    "text": f"Lowest: {lowest_text}<br>on {lowest_day}",
                    "showarrow": True,
                    "arrowhead": 0,
                    "arrowcolor": LOWEST_COLOUR,
                    "ax": 0,
                    "ay": 30,
                    "font": {"color": LOWEST_COLOUR, "size": 12},
                    "bgcolor": "rgba(255,255,255,0.9)",
                    "xanchor": "left" if early else "right",
                }
            ],
        ),
    }
