"""The file cache without Redis: expired entries are culled before live ones, and the
directory is looked at once a minute, not on every write."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from keel.cache import CULL_INTERVAL_SECONDS, FileCache


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def file_cache(directory: Path, clock: Clock, max_entries: int = 10) -> FileCache:
    cache = FileCache(str(directory), {"OPTIONS": {"MAX_ENTRIES": max_entries}})
    cache.clock = clock
    return cache


def files(directory: Path) -> int:
    return len(list(directory.glob("*.djcache")))


def test_a_full_cache_drops_its_expired_entries_and_keeps_every_live_one(tmp_path, clock):
    cache = file_cache(tmp_path, clock)
    cache.set("lockout:ana", 4, timeout=900)
    clock.now += CULL_INTERVAL_SECONDS
    for n in range(12):
        cache.set(f"window:{n}", 1, timeout=0)  # a rate-limit window that is over
    cache.set("limit:key-7", 2999, timeout=60)
    assert files(tmp_path) == 14  # no cull in this minute: the first set looked already

    clock.now += CULL_INTERVAL_SECONDS
    cache.set("form-once:abc", True, timeout=86_400)

    assert files(tmp_path) == 3
    assert cache.get("lockout:ana") == 4
    assert cache.get("limit:key-7") == 2999
    assert cache.get("form-once:abc") is True


def test_below_the_limit_nothing_is_culled_even_when_expired(tmp_path, clock):
    cache = file_cache(tmp_path, clock)
    for n in range(8):
        cache.set(f"window:{n}", 1, timeout=0)
    clock.now += CULL_INTERVAL_SECONDS
    cache.set("lockout:ana", 4, timeout=900)

    assert files(tmp_path) == 9


def test_a_cache_full_of_live_entries_falls_back_to_djangos_random_third_and_says_so(
    tmp_path, clock, caplog
):
    cache = file_cache(tmp_path, clock)
    for n in range(12):  # within one minute: only the first set looks, at an empty cache
        cache.set(f"lockout:{n}", n, timeout=900)
    clock.now += CULL_INTERVAL_SECONDS

    with caplog.at_level(logging.WARNING, logger="keel.cache"):
        cache.set("lockout:new", 1, timeout=900)

    # 12 live files, 12 // 3 deleted at random before the new one is written.
    assert files(tmp_path) == 12 - 4 + 1
    assert cache.get("lockout:new") == 1
    assert "the file cache holds 12 live entries (limit 10)" in caplog.text
    assert "set KEEL_REDIS_URL" in caplog.text


def test_the_directory_is_looked_at_once_a_minute_not_on_every_write(tmp_path, clock):
    cache = file_cache(tmp_path, clock, max_entries=5)
    cache.set("first", 1, timeout=60)  # looks, and sets the next look a minute on
    for n in range(10):
        cache.set(f"window:{n}", 1, timeout=0)
    assert files(tmp_path) == 11

    clock.now += CULL_INTERVAL_SECONDS - 1
    cache.set("second", 1, timeout=60)
    assert files(tmp_path) == 12

    clock.now += 1
    cache.set("third", 1, timeout=60)
    assert files(tmp_path) == 3
