"""The ledger's scheduled jobs, run by `keel tasks` (huey). Each is idempotent."""

from __future__ import annotations

import logging
from datetime import datetime

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import services

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="5"))  # type: ignore[untyped-decorator]
def expire_pending(now: datetime | None = None) -> int:
    """Every hour: expire reservations (pending journals) whose time is up. An expired one
    is no longer pending, so a second run finds nothing to do."""
    count = services.expire_pending(now)
    if count:
        logger.info("%d pending journal(s) expired", count)
    return count
