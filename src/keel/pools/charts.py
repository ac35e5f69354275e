"""Plotly figures for the pool pages and the solvency simulator, built as plain dicts.

The pages embed each figure with ``json_script`` and ``income/income.js`` draws it with
the plotly.js Keel serves itself (no CDN), as the income and benefits pages do. Nothing
here touches the database: the figures come from the ledger lines and simulation results
the views already hold, so they can be tested against exact numbers.

Money stays exact on its way to the browser: y values are ``Decimal`` major units made
from integer minor units, and every hover label is the amount formatted by
``keel.money``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from keel.money import format_amount, from_minor

if TYPE_CHECKING:
    from .services import LedgerLine

Figure = dict[str, Any]

TEAL = "#12837b"
NAVY = "#24507c"
AMBER = "#d9892b"
BAND = "rgba(18, 131, 123, 0.18)"
BAND_NAVY = "rgba(36, 80, 124, 0.16)"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


def major(minor: int, currency: str) -> Decimal:
    return from_minor(minor, currency)


def money_text(minor: int, currency: str) -> str:
    return format_amount(minor, currency, symbol=True)


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


# ---------------------------------------------------------------------------- the pool


def reserves_figure(rows: Sequence[tuple[str, int]], currency: str) -> Figure:
    """One bar per member: what their own reserve in the pool holds."""
    return {
        "data": [
            {
                "type": "bar",
                "name": "Reserve",
                "x": [label for label, _ in rows],
                "y": [major(amount, currency) for _, amount in rows],
                "customdata": [money_text(amount, currency) for _, amount in rows],
                "hovertemplate": "%{x}: %{customdata}<extra></extra>",
                "marker": {"color": TEAL},
            }
        ],
        "layout": _layout(currency, showlegend=False, xaxis={"type": "category"}),
    }


def _month(day: date) -> date:
    return day.replace(day=1)


def _months_between(first: date, last: date) -> list[date]:
    months = []
    month = _month(first)
    while month <= last:
        months.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return months


def money_over_time(lines: Iterable[LedgerLine]) -> tuple[list[date], list[int], list[int]]:
    """Per calendar month from the first entry to the last: the money the pool holds at
    the month's end (its bank account), and the gifts given in the month (what left the
    bank in gift journals)."""
    held_by_month: dict[date, int] = defaultdict(int)
    gifts_by_month: dict[date, int] = defaultdict(int)
    for line in lines:
        if line.account != "Money held":
            continue
        month = _month(line.date)
        held_by_month[month] += line.amount
        if line.kind == "pool.gift":
            gifts_by_month[month] -= line.amount
    if not held_by_month:
        return [], [], []
    months = _months_between(min(held_by_month), max(held_by_month))
    held, running = [], 0
    for month in months:
        running += held_by_month.get(month, 0)
        held.append(running)
    return months, held, [gifts_by_month.get(m, 0) for m in months]


def money_figure(lines: Iterable[LedgerLine], currency: str) -> Figure | None:
    """Money held at each month's end (a line) and the gifts given in each month (bars);
    None before the first entry."""
    months, held, gifts = money_over_time(lines)
    if not months:
        return None
    x = [m.isoformat() for m in months]
    return {
        "data": [
            {
                "type": "bar",
                "name": "Gifts given",
                "x": x,
                "y": [major(v, currency) for v in gifts],
                "customdata": [money_text(v, currency) for v in gifts],
                "hovertemplate": "Gifts given: %{customdata}<extra></extra>",
                "marker": {"color": AMBER},
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "Money held",
                "x": x,
                "y": [major(v, currency) for v in held],
                "customdata": [money_text(v, currency) for v in held],
                "hovertemplate": "Money held: %{customdata}<extra></extra>",
                "line": {"color": NAVY, "width": 2.5},
            },
        ],
        "layout": _layout(
            currency,
            hovermode="x unified",
            xaxis={"type": "date", "tickformat": "%b %Y", "dtick": "M1"},
        ),
    }


# ---------------------------------------------------------------------------- simulator


def band_figure(name: str, band: Mapping[str, Sequence[int]], currency: str) -> Figure:
    """A figure per month over the simulated years (``name``: "Reserves", "Gifts paid"):
    the band between the 10th and 90th percentile of the scenarios, the median and the
    mean. ``band`` is a simulator ``Band`` as JSON (``mean``, ``p10``, ``p50``, ``p90``)."""
    line, fill = (NAVY, BAND_NAVY) if name == "Reserves" else (TEAL, BAND)
    months = list(range(1, len(band["p50"]) + 1))

    def trace(label: str, values: Sequence[int], **extra: Any) -> dict[str, Any]:
        return {
            "type": "scatter",
            "mode": "lines",
            "name": label,
            "x": months,
            "y": [major(int(v), currency) for v in values],
            "customdata": [money_text(int(v), currency) for v in values],
            "hovertemplate": f"{label}: %{{customdata}}<extra></extra>",
            **extra,
        }

    data = [
        trace("10th percentile", band["p10"], line={"width": 0, "color": fill}, showlegend=False),
        trace(
            "10th to 90th percentile",
            band["p90"],
            fill="tonexty",
            fillcolor=fill,
            line={"width": 0, "color": fill},
        ),
        trace("Median", band["p50"], line={"width": 2.5, "color": line}),
        trace("Mean", band["mean"], line={"width": 1.5, "color": line, "dash": "dot"}),
    ]
    return {
        "data": data,
        "layout": _layout(
            currency,
            hovermode="x unified",
            xaxis={"type": "linear", "title": {"text": "Month"}, "dtick": 12},
        ),
    }
