"""The task queue Keel's settings choose: a SQLite file by default, Redis when
KEEL_REDIS_URL names one, with one real round trip through Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from huey.utils import load_class

from keel.settings import huey_config
from tests.test_settings import settings_in_subprocess


def djhuey_in_subprocess(env: dict[str, str], expression: str) -> str:
    """`expression` over the Huey instance Django builds from the settings (as `HUEY`)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    clean.update(env, DJANGO_SETTINGS_MODULE="keel.settings")
    code = (
        "import django; django.setup(); from huey.contrib.djhuey import HUEY;"
        f" print(repr({expression}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=clean, check=True
    ).stdout.strip()


def test_the_queue_is_a_sqlite_file_in_the_data_directory(tmp_path):
    env = {"KEEL_DATA_DIR": str(tmp_path)}
    assert settings_in_subprocess(
        env, "s.HUEY['huey_class'], s.HUEY['filename'], s.HUEY['immediate']"
    ) == repr(("huey.SqliteHuey", str(tmp_path / "tasks.sqlite3"), False))
    assert djhuey_in_subprocess(
        env, "(type(HUEY).__name__, HUEY.name, HUEY.immediate, HUEY.storage.filename)"
    ) == repr(("SqliteHuey", "keel", False, str(tmp_path / "tasks.sqlite3")))


def test_debug_does_not_run_tasks_inside_requests(tmp_path):
    env = {"KEEL_DATA_DIR": str(tmp_path), "KEEL_DEBUG": "1"}
    assert djhuey_in_subprocess(env, "HUEY.immediate") == "False"


def test_redis_url_switches_the_queue_and_the_cache_to_redis(tmp_path):
    env = {"KEEL_DATA_DIR": str(tmp_path), "KEEL_REDIS_URL": "redis://db.internal:6380/3"}
    assert settings_in_subprocess(
        env, "s.HUEY['huey_class'], s.HUEY['url'], s.CACHES['default']['BACKEND']"
    ) == repr(
        (
            "huey.RedisHuey",
            "redis://db.internal:6380/3",
            "django.core.cache.backends.redis.RedisCache",
        )
    )
    # Building the queue does not connect, so no server is needed to see where it points.
    kwargs = "HUEY.storage.conn.connection_pool.connection_kwargs"
    assert djhuey_in_subprocess(
        env, f"(type(HUEY).__name__, {kwargs}['host'], {kwargs}['port'], {kwargs}['db'])"
    ) == repr(("RedisHuey", "db.internal", 6380, 3))


@pytest.mark.redis
def test_a_task_goes_through_redis_and_back(redis_url, tmp_path):
    config = huey_config(redis_url, tmp_path)
    options = {k: v for k, v in config.items() if k not in ("huey_class", "name")}
    # A queue of its own, so nothing else using this Redis sees or takes the task.
    queue = load_class(config["huey_class"])(f"keel-test-{uuid.uuid4().hex}", **options)
    seen: list[int] = []

    @queue.task()
    def add(a: int, b: int) -> None:
        seen.append(a + b)

    try:
        add(2, 3)
        assert (queue.pending_count(), seen) == (1, [])
        task = queue.dequeue()
        assert task is not None
        assert (task.name, task.args) == ("add", (2, 3))
        queue.execute(task)
        assert (queue.pending_count(), seen) == (0, [5])
    finally:
        queue.storage.flush_all()
