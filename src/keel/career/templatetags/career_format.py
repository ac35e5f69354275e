"""Template filters of the career pages."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def percent(ratio: float | None, digits: int = 1) -> str:
    """0.25 -> "25.0%"; None (a rate of nothing) -> "—"."""
    if ratio is None:
        return "—"
    return f"{ratio * 100:.{int(digits)}f}%"


@register.filter
def month_label(month: tuple[int, int]) -> str:
    return f"{month[0]}-{month[1]:02d}"
