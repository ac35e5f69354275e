"""The file cache without Redis: expired entries are culled before live ones, the
directory is looked at once a minute, not on every write, and add and incr are atomic
across processes."""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.cache.backends.filebased import FileBasedCache

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


# ------------------------------------------------------------------ add and incr

PROCESSES = 4
ROUNDS = 250


def expiry_of(cache: FileBasedCache, key: str) -> Any:
    with open(cache._key_to_file(key), "rb") as f:  # type: ignore[attr-defined]
        return pickle.load(f)  # noqa: S301 - the test's own file


def _count(cache_class: type[FileBasedCache], directory: str, start: Any) -> None:
    cache = cache_class(directory, {})
    start.wait()
    for _ in range(ROUNDS):
        cache.incr("failures:ana")


def _claim(cache_class: type[FileBasedCache], directory: str, claims: Any, start: Any) -> None:
    cache = cache_class(directory, {})
    start.wait()
    for token in range(ROUNDS):
        if cache.add(f"form-once:{token}", True, timeout=60):
            with claims.get_lock():
                claims[token] += 1


def race(target: Any, *args: Any) -> None:
    """`target(*args, start)` in PROCESSES processes let go at the same instant."""
    context = multiprocessing.get_context("fork")
    start = context.Barrier(PROCESSES)
    processes = [context.Process(target=target, args=(*args, start)) for _ in range(PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0


def test_increments_from_several_processes_at_once_are_all_counted(tmp_path):
    cache = FileCache(str(tmp_path), {})
    cache.add("failures:ana", 0, timeout=600)

    race(_count, FileCache, str(tmp_path))

    # 4 processes x 250 increments each, none lost (Django's own file cache lost some:
    # see test_djangos_file_cache_loses_simultaneous_increments).
    assert cache.get("failures:ana") == 1_000


def test_increments_from_several_threads_at_once_are_all_counted(tmp_path):
    # A server process's threads: each opens the lock file itself, so they wait for each
    # other as processes do.
    cache = FileCache(str(tmp_path), {})
    cache.add("failures:ana", 0, timeout=600)
    start = threading.Barrier(PROCESSES)

    def count() -> None:
        start.wait()
        for _ in range(ROUNDS):
            cache.incr("failures:ana")

    threads = [threading.Thread(target=count) for _ in range(PROCESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert cache.get("failures:ana") == 1_000


def test_djangos_file_cache_loses_simultaneous_increments(tmp_path):
    """What the lock is for: the same race against Django's FileBasedCache counts fewer.
    (If Django's ever counts them all, FileCache's own add and incr can go.)"""
    cache = FileBasedCache(str(tmp_path), {})
    cache.add("failures:ana", 0, timeout=600)

    race(_count, FileBasedCache, str(tmp_path))

    assert cache.get("failures:ana") < 1_000


def test_a_once_only_token_is_claimed_once_when_processes_race_for_it(tmp_path):
    claims = multiprocessing.get_context("fork").Array("i", ROUNDS)

    race(_claim, FileCache, str(tmp_path), claims)

    assert list(claims) == [1] * ROUNDS


def test_an_increment_keeps_the_entrys_expiry(tmp_path):
    cache = FileCache(str(tmp_path), {"TIMEOUT": 300})
    assert cache.add("api-key:7:window", 0, timeout=60)
    expires = expiry_of(cache, "api-key:7:window")
    assert time.time() + 55 < expires <= time.time() + 60

    assert cache.incr("api-key:7:window") == 1
    assert cache.incr("api-key:7:window", 4) == 5
    assert cache.decr("api-key:7:window") == 4

    # Django's incr wrote the entry again with the default timeout (300 s here).
    assert expiry_of(cache, "api-key:7:window") == expires
    assert cache.get("api-key:7:window") == 4


def test_an_increment_of_a_missing_or_expired_entry_is_refused_as_djangos_is(tmp_path):
    cache = FileCache(str(tmp_path), {})
    with pytest.raises(ValueError, match="not found"):
        cache.incr("nobody")
    cache.set("lockout:ana", 3, timeout=60)
    path = Path(cache._key_to_file("lockout:ana"))  # type: ignore[attr-defined]
    with path.open("r+b") as f:  # expired a second ago
        f.write(pickle.dumps(time.time() - 1, pickle.HIGHEST_PROTOCOL))

    with pytest.raises(ValueError, match="not found"):
        cache.incr("lockout:ana")

    assert not path.exists()
    assert files(tmp_path) == 0
    # A fresh add starts the count again.
    assert cache.add("lockout:ana", 0, timeout=60)
    assert cache.incr("lockout:ana") == 1


def test_touch_sets_a_new_expiry_and_keeps_the_value(tmp_path):
    cache = FileCache(str(tmp_path), {})
    assert cache.touch("nobody", timeout=60) is False
    cache.set("import:42:progress", {"rows": 120}, timeout=5)

    assert cache.touch("import:42:progress", timeout=600) is True

    assert time.time() + 595 < expiry_of(cache, "import:42:progress") <= time.time() + 600
    assert cache.get("import:42:progress") == {"rows": 120}
    assert cache.touch("import:42:progress", timeout=None) is True
    assert expiry_of(cache, "import:42:progress") is None
    assert cache.get("import:42:progress") == {"rows": 120}


def test_a_deleted_cache_directory_is_made_again_when_an_entry_is_used(tmp_path):
    directory = tmp_path / "cache"
    cache = FileCache(str(directory), {})
    directory.rmdir()

    assert cache.get("lockout:ana") is None
    assert cache.add("lockout:ana", 0, timeout=60)
    assert cache.incr("lockout:ana") == 1
