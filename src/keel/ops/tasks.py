"""The heartbeat that `GET /healthz` reads, run by `keel tasks` (huey) every minute.

Only a runner that runs the scheduled jobs beats (not one started with --no-periodic), so a
stale heartbeat means the daily salaries and expiries would not run either.
"""

from __future__ import annotations

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, periodic_task

from . import health


@periodic_task(crontab(), name="ops.heartbeat")  # type: ignore[untyped-decorator]
def heartbeat() -> None:
    health.write_heartbeat(HUEY, timezone.now())
