"""`keel serve` keeps idle connections open longer than clients and proxies do.

The ten-minute load test found requests answered by a reset connection: gunicorn's default
keep-alive (2 s) closed idle connections just as the next request arrived on them, which a
client cannot tell from a request lost mid-way (behind a proxy it is a 502). Checked on
the configuration `keel serve` hands gunicorn; the load test checks the effect.
"""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from keel.cli import KEEP_ALIVE_SECONDS, _serve

# nginx's upstream keepalive_timeout and common load balancers' idle timeouts.
PROXY_IDLE_SECONDS = 60


def test_keel_serve_keeps_idle_connections_longer_than_a_proxy(monkeypatch):
    configured: dict[str, Any] = {}

    def run(app: BaseApplication) -> None:
        configured.update(keepalive=app.cfg.keepalive, worker_class=app.cfg.worker_class_str)

    monkeypatch.setattr(BaseApplication, "run", run)
    # Collecting the static files is not what this test is about.
    monkeypatch.setattr("django.core.management.call_command", lambda *a, **k: None)

    _serve("127.0.0.1", 0, 1, 1, with_tasks=False)

    assert configured == {"keepalive": KEEP_ALIVE_SECONDS, "worker_class": "gthread"}
    assert KEEP_ALIVE_SECONDS > PROXY_IDLE_SECONDS
