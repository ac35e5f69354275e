"""`GET /healthz`: can this server reach its database and its task queue, and is a task
runner working through the scheduled jobs?

The answer is JSON, ``{"status": "ok" | "degraded" | "down", "checks": {...}}``:

- ``down`` (503): the database does not answer, so this server cannot serve pages; a load
  balancer should stop sending it requests.
- ``degraded`` (200): pages work, but the queue does not answer or no task runner has
  written a heartbeat lately (imports wait, scheduled jobs do not run). Every web server
  shares the queue, so taking them all out of rotation would help nobody: monitoring alerts
  on the body instead.
- ``ok`` (200).

The check needs no login and touches no session; it runs one trivial query and reads the
queue. It names a failure by its exception class only: messages can carry host names,
users or paths, and the endpoint is public.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from typing import Any

import redis
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from huey.storage import RedisStorage

logger = logging.getLogger(__name__)

# Where the periodic `keel.ops.tasks.heartbeat` job leaves the time it last ran: in the
# queue's own storage (the SQLite file or Redis), which every server and runner shares.
HEARTBEAT_KEY = "keel.ops.heartbeat"
# The heartbeat runs every minute; five missed beats mean no runner works the schedule
# (or its queue is so backed up that the beat waits behind other jobs).
HEARTBEAT_STALE_AFTER = timedelta(minutes=5)
# A Redis server that accepts connections but does not answer must not hold a server
# thread for long: the probe gives up after this many seconds.
REDIS_PROBE_TIMEOUT = 2.0


def now() -> datetime:
    """The clock the checks read; tests replace it to see exact ages."""
    return timezone.now()


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("health check: the database does not answer: %s", exc)
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "ok"}


@functools.lru_cache(maxsize=8)
def _redis_probe(storage: RedisStorage) -> redis.Redis:
    """A client for the queue's Redis with timeouts; huey's own client has none."""
    pool = storage.pool
    options = {
        **pool.connection_kwargs,
        "socket_timeout": REDIS_PROBE_TIMEOUT,
        "socket_connect_timeout": REDIS_PROBE_TIMEOUT,
    }
    return redis.Redis(
        connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **options)
    )


def check_queue(queue: Any) -> dict[str, Any]:
    """The queue's storage answers: PING for Redis, a count of waiting jobs for any."""
    try:
        if isinstance(queue.storage, RedisStorage):
            _redis_probe(queue.storage).ping()
        pending = int(queue.pending_count())
    except Exception as exc:
        # Any storage (SQLite file, Redis) fails in its own way; all mean "does not answer".
        logger.warning("health check: the task queue does not answer: %s", exc)
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "ok", "pending": pending}


def write_heartbeat(queue: Any, at: datetime) -> None:
    queue.put(HEARTBEAT_KEY, at.isoformat())


def read_heartbeat(queue: Any) -> datetime | None:
    value = queue.get(HEARTBEAT_KEY, peek=True)
    return datetime.fromisoformat(value) if value else None


def check_task_runner(queue: Any, at: datetime) -> dict[str, Any]:
    """How long ago a task runner last ran the periodic heartbeat."""
    try:
        beat = read_heartbeat(queue)
    except Exception as exc:
        logger.warning("health check: cannot read the task runner's heartbeat: %s", exc)
        return {"status": "unknown", "last_heartbeat_age_seconds": None}
    if beat is None:
        return {"status": "missing", "last_heartbeat_age_seconds": None}
    # Clocks of different machines disagree a little; a beat "from the future" is fresh.
    age = max(0, int((at - beat).total_seconds()))
    status = "stale" if age > HEARTBEAT_STALE_AFTER.total_seconds() else "ok"
    return {"status": status, "last_heartbeat_age_seconds": age}


def report(queue: Any, at: datetime) -> dict[str, Any]:
    database = check_database()
    queue_check = check_queue(queue)
    runner = (
        check_task_runner(queue, at)
        if queue_check["status"] == "ok"
        else {"status": "unknown", "last_heartbeat_age_seconds": None}
    )
    if database["status"] != "ok":
        status = "down"
    elif queue_check["status"] != "ok" or runner["status"] != "ok":
        status = "degraded"
    else:
        status = "ok"
    return {
        "status": status,
        "checks": {"database": database, "queue": queue_check, "task_runner": runner},
    }


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    from huey.contrib.djhuey import HUEY

    body = report(HUEY, now())
    return JsonResponse(body, status=503 if body["status"] == "down" else 200)
