"""The file cache Keel uses without Redis: Django's, culled by expiry first and not on
every write.

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
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.core.cache.backends.filebased import FileBasedCache

logger = logging.getLogger(__name__)

CULL_INTERVAL_SECONDS = 60.0


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

    def _removed_if_expired(self, name: str) -> bool:
        try:
            with open(name, "rb") as f:
                return bool(self._is_expired(f))  # type: ignore[attr-defined]
        except FileNotFoundError:  # another process deleted it first
            return True
