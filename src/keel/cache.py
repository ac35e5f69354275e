"""The file cache Keel uses without Redis: Django's, culled by expiry first and not on
every write, with atomic add and incr.

Without `KEEL_REDIS_URL` the log-in lock-outs, the API rate limits, the once-only form
tokens and the import progress all live in Django's file cache. Django's `FileBasedCache`
lists the whole directory on every write and, once it holds `MAX_ENTRIES` files, deletes
a third of them at random, live or expired. Rate limits write a new file per key and
window (one a minute for a busy key) that nobody reads once the window is over, so a
server under steady API traffic sat at the limit for good: every request listed about 300
files (1 ms here) and every write deleted a random third of the counters, lock-outs
included, so a lock-out could lift itself and a limit never be reached.

Here expired files go first, and random culling (Django's) is left for a cache whose live
entries alone fill it, which is logged: that server needs Redis. Each thread's cache looks
at the directory once per `CULL_INTERVAL_SECONDS` rather than on every write; between two
looks it can grow past `MAX_ENTRIES` by what is written in that time.

`add` and `incr` are atomic across the threads and processes sharing the directory, as
Redis's are. Django's read the entry and then write it: two failed log-ins or two API
requests at the same instant both read 4 and both wrote 5, so a lock-out or a rate limit
counted fewer attempts than were made, and a once-only form token could be claimed by both
of two simultaneous POSTs. Here every entry has a lock (one of `LOCK_STRIPES` lock files in
the directory, chosen by the entry's name): writers hold it exclusively from their read to
their write, readers share it. As no reader can see a half-written file, `incr` rewrites the
entry in place instead of writing a new file and renaming it over the old one (Django's
way, which on ext4 flushes the file to disk: 0.29 ms against 0.02 ms), and keeps the
entry's expiry (Django's set the default timeout again, so a counter outlived its window).
"""

from __future__ import annotations

import logging
import os
import pickle
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, BinaryIO

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache
from django.core.files import locks

logger = logging.getLogger(__name__)

CULL_INTERVAL_SECONDS = 60.0
# Lock files, one per stripe of entries: entries whose names share a stripe wait for each
# other.
LOCK_STRIPES = 16


class FileCache(FileBasedCache):
    # _cull, _list_cache_files and _is_expired are FileBasedCache's private methods, which
    # django-stubs does not declare; src/keel/tests/test_cache.py fails if they change.

    # Monotonic seconds; a test gives its own clock.
    clock: Callable[[], float] = staticmethod(time.monotonic)
    _next_cull: float | None = None

    def _cull(self) -> None:
        now = self.clock()
        if self._next_cull is not None and now < self._next_cull:
            return
        self._next_cull = now + CULL_INTERVAL_SECONDS
        names = self._list_cache_files()  # type: ignore[attr-defined]
        if len(names) < self._max_entries:
            return
        live = sum(1 for name in names if not self._removed_if_expired(name))
        if live >= self._max_entries:
            logger.warning(
                "the file cache holds %d live entries (limit %d): deleting a third at random,"
                " which can lift log-in lock-outs and reset API rate limits; set KEEL_REDIS_URL",
                live,
                self._max_entries,
            )
            super()._cull()  # type: ignore[misc]

    # Every public method that reads or writes an entry holds its lock; inside one, only
    # FileBasedCache's own methods are called (taking the lock again from the same thread
    # would wait for itself).

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        with self._key_lock(key, version, locks.LOCK_SH):
            return FileBasedCache.get(self, key, default, version)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        with self._key_lock(key, version, locks.LOCK_SH):
            return FileBasedCache.has_key(self, key, version)

    def set(
        self,
        key: Any,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> None:
        with self._key_lock(key, version, locks.LOCK_EX):
            FileBasedCache.set(self, key, value, timeout, version)

    def add(
        self,
        key: Any,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> bool:
        with self._key_lock(key, version, locks.LOCK_EX):
            if FileBasedCache.has_key(self, key, version):
                return False
            FileBasedCache.set(self, key, value, timeout, version)
            return True

    def delete(self, key: Any, version: int | None = None) -> bool:
        with self._key_lock(key, version, locks.LOCK_EX):
            return FileBasedCache.delete(self, key, version)

    def touch(
        self, key: Any, timeout: float | None = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        fname: str = self._key_to_file(key, version)  # type: ignore[attr-defined]
        with self._lock(fname, locks.LOCK_EX), self._entry(fname) as entry:
            if entry is None:
                return False
            file, _, value = entry
            self._rewrite(file, self.get_backend_timeout(timeout), value)
            return True

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        fname: str = self._key_to_file(key, version)  # type: ignore[attr-defined]
        with self._lock(fname, locks.LOCK_EX), self._entry(fname) as entry:
            if entry is None:
                raise ValueError(f"Key '{key}' not found")
            file, expiry, value = entry
            new_value: int = value + delta
            self._rewrite(file, expiry, new_value)
            return new_value

    def _key_lock(self, key: Any, version: int | None, kind: int) -> AbstractContextManager[None]:
        return self._lock(self._key_to_file(key, version), kind)  # type: ignore[attr-defined]

    @contextmanager
    def _lock(self, fname: str, kind: int) -> Iterator[None]:
        """Hold the lock of the entry `fname` (a cache file's path), shared (LOCK_SH) or
        exclusive (LOCK_EX), across threads and processes."""
        stripe = int(os.path.basename(fname)[:8], 16) % LOCK_STRIPES
        path = os.path.join(self._dir, f"keel-{stripe:02d}.lock")  # type: ignore[attr-defined]
        try:
            lock = open(path, "ab")  # noqa: SIM115 - closed by the with below
        except FileNotFoundError:
            # The directory was deleted (Django allows that at any time); made again only
            # then, not on every read.
            self._createdir()  # type: ignore[attr-defined]
            lock = open(path, "ab")  # noqa: SIM115 - closed by the with below
        with lock:
            locks.lock(lock, kind)
            try:
                yield
            finally:
                locks.unlock(lock)

    @contextmanager
    def _entry(self, fname: str) -> Iterator[tuple[BinaryIO, Any, Any] | None]:
        """The entry's file (open for writing in place), expiry and value; None when there
        is none or it has expired (and is removed), as FileBasedCache.get reads it."""
        try:
            file = open(fname, "r+b")  # noqa: SIM115 - closed by the with below
        except FileNotFoundError:
            yield None
            return
        with file:
            try:
                expiry = pickle.load(file)  # noqa: S301 - as Django reads its own files
            except EOFError:
                expiry = 0  # an empty file has expired, as for Django
            if expiry is not None and expiry < time.time():
                file.close()
                self._delete(fname)  # type: ignore[attr-defined]
                yield None
                return
            value = pickle.loads(zlib.decompress(file.read()))  # noqa: S301
            yield file, expiry, value

    def _rewrite(self, file: BinaryIO, expiry: Any, value: Any) -> None:
        file.seek(0)
        file.write(pickle.dumps(expiry, self.pickle_protocol))
        file.write(zlib.compress(pickle.dumps(value, self.pickle_protocol)))
        file.truncate()

    def _removed_if_expired(self, name: str) -> bool:
        try:
            with open(name, "rb") as f:
                return bool(self._is_expired(f))  # type: ignore[attr-defined]
        except FileNotFoundError:  # another process deleted it first
            return True
