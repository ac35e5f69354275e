"""Settings for the test suite: Keel's own settings with a throw-away data directory."""

import os
import tempfile

os.environ.setdefault("KEEL_DATA_DIR", tempfile.mkdtemp(prefix="keel-test-"))
# Under pytest-xdist every worker inherits the controller's environment: each gets a data
# directory of its own (uploads, the file cache, the task queue), so one worker's files
# never show up in another's test.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _worker_dir = os.path.join(os.environ["KEEL_DATA_DIR"], os.environ["PYTEST_XDIST_WORKER"])
    os.makedirs(_worker_dir, exist_ok=True)
    os.environ["KEEL_DATA_DIR"] = _worker_dir
os.environ.setdefault("KEEL_INSECURE_HTTP", "1")
os.environ.setdefault("KEEL_SECRET_KEY", "keel-test-suite-only-" + "k" * 40)

from keel.settings import *  # noqa: F403
from keel.settings import DATA_DIR, DATABASES, HUEY

# Argon2 is the production hasher (tests/test_settings.py checks it); tests that create
# many users do not need to pay for it.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A file, not :memory:, so tests with several threads or processes share one database
# through SQLite's own locking, as production does.
if DATABASES["default"]["ENGINE"] == "keel.sqlite_backend":
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SECURE_SSL_REDIRECT = False

# Whitenoise looks for STATIC_ROOT at start-up; tests serve static files through the finders.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405

# Tasks run inside the call that enqueues them (in memory), so the suite needs no consumer;
# tests of the real queue build their own Huey.
HUEY = {**HUEY, "immediate": True}

# Always the data directory's file cache, even when KEEL_REDIS_URL is set: tests clear the
# cache, and clearing a Redis cache empties the whole Redis database.
CACHES = {
    "default": {
        "BACKEND": "keel.cache.FileCache",
        "LOCATION": str(DATA_DIR / "cache"),
    },
    # Log-in lock-out and API key counters in memory, per test process: a test that clears
    # the default cache (or another process of the suite) never resets a count mid-test,
    # and the tests of the limits clear this one themselves.
    "limits": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "limits"},
}
AXES_CACHE = "limits"
RATELIMIT_USE_CACHE = "limits"
# axes warns that a memory cache is not shared between processes; here that is the point.
SILENCED_SYSTEM_CHECKS = ["axes.W001"]
# Many tests present keys that are not valid from the one address 127.0.0.1; the production
# rate (which test_rate_limits.py sets itself) would soon refuse them all.
KEEL_API_KEY_FAILURE_RATE = "100000/m"
# Likewise sign-ups and password resets, many for the same address: the tests of the mail
# limits set the production rates themselves.
KEEL_MAIL_RATE_PER_ADDRESS = "100000/m"
KEEL_MAIL_RATE_PER_IP = "100000/m"
