"""The dashboard's panel registry: a domain adds its own panel to the worker's dashboard
without the shell importing the domain.

A domain registers once, from its ``AppConfig.ready()``::

    from keel.web.panels import register_panel

    register_panel("career.mrr", "career/offers/_dashboard_panel.html", mrr_panel, order=20)

``provider(user, today)`` returns the template's context (a dict) or None to show nothing
(a worker without offers); the template is included with that context as ``panel``. A
provider that fails is left out (and logged) instead of breaking the dashboard.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = ["Panel", "PanelProvider", "dashboard_panels", "register_panel", "unregister_panel"]

log = logging.getLogger(__name__)

PanelProvider = Callable[[Any, date], dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Panel:
    key: str
    template: str
    provider: PanelProvider
    order: int = 100


@dataclass(frozen=True, slots=True)
class RenderedPanel:
    key: str
    template: str
    context: dict[str, Any]


_REGISTRY: list[Panel] = []


def register_panel(key: str, template: str, provider: PanelProvider, *, order: int = 100) -> Panel:
    """Add a panel, or replace the one registered under ``key`` (``ready()`` may run twice)."""
    panel = Panel(key, template, provider, order)
    unregister_panel(key)
    _REGISTRY.append(panel)
    _REGISTRY.sort(key=lambda entry: entry.order)
    return panel


def unregister_panel(key: str) -> None:
    _REGISTRY[:] = [panel for panel in _REGISTRY if panel.key != key]


def dashboard_panels(user: Any, today: date) -> list[RenderedPanel]:
    """The panels this person's dashboard shows, in order."""
    shown = []
    for panel in _REGISTRY:
        try:
            context = panel.provider(user, today)
        except Exception:
            log.exception("dashboard panel %s failed", panel.key)
            continue
        if context is not None:
            shown.append(RenderedPanel(panel.key, panel.template, context))
    return shown
