"""Plotly figures of the recurring-revenue page, as plain dicts (no database).

The page embeds each with ``json_script`` and ``income/income.js`` draws it with the
plotly.js Keel serves itself. y values are ``Decimal`` major units made from integer
minor units; hover labels are amounts formatted by ``keel.money``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from keel.money import format_amount, from_minor

from .rules.recurring import MrrMonth
from .rules.skills import MonthlyRate

Figure = dict[str, Any]
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
TEAL, NAVY, AMBER, RED, GREEN, GREY = (
    "#12837b",
    "#24507c",
    "#d9892b",
    "#c0392b",
    "#2e8b57",
    "#7a8a99",
)


def _label(month: tuple[int, int]) -> str:
    return f"{month[0]}-{month[1]:02d}"


def _layout(currency: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "margin": {"l": 8, "r": 8, "t": 8, "b": 8},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": FONT, "size": 12, "color": "#1b2a3a"},
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "yaxis": {
            "title": {"text": currency},
            "tickformat": "~s",
            "automargin": True,
            "gridcolor": "#e3e9ef",
            "zerolinecolor": "#9aa8b6",
            "fixedrange": True,
        },
        "xaxis": {"automargin": True, "fixedrange": True, "type": "category"},
    }
    layout.update(extra)
    return layout


def mrr_figure(months: Sequence[MrrMonth], currency: str) -> Figure:
    """MRR at the end of every month."""
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "MRR",
                "x": [_label(m.month) for m in months],
                "y": [from_minor(m.closing_mrr, currency) for m in months],
                "text": [format_amount(m.closing_mrr, currency, symbol=True) for m in months],
                "hovertemplate": "%{x}: %{text}<extra></extra>",
                "line": {"color": TEAL, "width": 2},
                "fill": "tozeroy",
                "fillcolor": "rgba(18, 131, 123, 0.12)",
            }
        ],
        "layout": _layout(currency, showlegend=False),
    }


_MOVES = (
    ("New", "new_mrr", 1, TEAL),
    ("Expansion", "expansion_mrr", 1, GREEN),
    ("Reactivation", "reactivation_mrr", 1, NAVY),
    ("Contraction", "contraction_mrr", -1, AMBER),
    ("Churned", "churned_mrr", -1, RED),
)


def movements_figure(months: Sequence[MrrMonth], currency: str) -> Figure:
    """Each month's movements as stacked bars: gains up, losses down."""
    x = [_label(m.month) for m in months]
    data = []
    for name, attr, sign, color in _MOVES:
        values = [sign * getattr(m, attr) for m in months]
        data.append(
            {
                "type": "bar",
                "name": name,
                "x": x,
                "y": [from_minor(v, currency) for v in values],
                "text": [format_amount(v, currency, symbol=True) for v in values],
                "hovertemplate": f"{name} %{{x}}: %{{text}}<extra></extra>",
                "textposition": "none",
                "marker": {"color": color},
            }
        )
    data.append(
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "Net new",
            "x": x,
            "y": [from_minor(m.net_new_mrr, currency) for m in months],
            "text": [format_amount(m.net_new_mrr, currency, symbol=True) for m in months],
            "hovertemplate": "Net new %{x}: %{text}<extra></extra>",
            "line": {"color": GREY, "width": 1.5},
        }
    )
    return {"data": data, "layout": _layout(currency, barmode="relative")}


def plan_figure(
    series: Sequence[tuple[date, int]],
    starts_on: date,
    review_on: date,
    start_mrr: int,
    target_mrr: int,
    currency: str,
) -> Figure:
    """A 90-day plan's MRR day by day from the books against the plan's straight line from
    the starting MRR on day 0 to the target on day 90."""
    days = [day.isoformat() for day, _ in series]
    values = [mrr for _, mrr in series]
    ends = [starts_on.isoformat(), review_on.isoformat()]
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Plan",
                "x": ends,
                "y": [from_minor(start_mrr, currency), from_minor(target_mrr, currency)],
                "text": [
                    format_amount(start_mrr, currency, symbol=True),
                    format_amount(target_mrr, currency, symbol=True),
                ],
                "hovertemplate": "Plan %{x}: %{text}<extra></extra>",
                "line": {"color": GREY, "width": 2, "dash": "dash"},
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": "MRR",
                "x": days,
                "y": [from_minor(v, currency) for v in values],
                "text": [format_amount(v, currency, symbol=True) for v in values],
                "hovertemplate": "MRR %{x}: %{text}<extra></extra>",
                "line": {"color": TEAL, "width": 2, "shape": "hv"},
            },
        ],
        "layout": _layout(
            currency,
            xaxis={
                "automargin": True,
                "fixedrange": True,
                "type": "date",
                "range": ends,
            },
        ),
    }


_LINE_COLORS = (TEAL, NAVY, AMBER, GREEN, RED, GREY)


def rate_history_figure(history: Mapping[str, Sequence[MonthlyRate]], currency: str) -> Figure:
    """Each skill's effective hourly rate month by month (months without work are gaps)."""
    months = sorted({m.month for series in history.values() for m in series})
    x = [_label((m.year, m.month)) for m in months]
    data = []
    for i, (name, series) in enumerate(sorted(history.items())):
        by_month = {m.month: m.rate for m in series}
        rates = [by_month.get(m) for m in months]
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "x": x,
                "y": [None if r is None else from_minor(r, currency) for r in rates],
                "text": [
                    "" if r is None else format_amount(r, currency, symbol=True) + " an hour"
                    for r in rates
                ],
                "hovertemplate": f"{name} %{{x}}: %{{text}}<extra></extra>",
                "connectgaps": True,
                "line": {"color": _LINE_COLORS[i % len(_LINE_COLORS)], "width": 2},
            }
        )
    return {"data": data, "layout": _layout(f"{currency} an hour")}
