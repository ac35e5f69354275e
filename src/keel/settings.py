"""Django settings, read from the environment.

Defaults are safe for production (debug off, secure cookies when served over HTTPS,
Argon2 hashing); `keel demo` and the test suite opt in to what they need explicitly.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
import platformdirs
from django.core.exceptions import ImproperlyConfigured

from keel.ops.client_address import parse_trusted


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("KEEL_DATA_DIR") or platformdirs.user_data_dir("keel", "keel"))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """KEEL_SECRET_KEY, else a key generated once and kept in the data directory.

    A generated key survives restarts (sessions stay valid) without ever shipping a
    default key that would be the same on every installation.
    """
    if key := os.environ.get("KEEL_SECRET_KEY"):
        return key
    path = DATA_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(50)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key


SECRET_KEY = _secret_key()
DEBUG = _env_bool("KEEL_DEBUG")
ALLOWED_HOSTS = _env_list("KEEL_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = _env_list("KEEL_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    # Two-factor sign-in (TOTP with one-time backup codes) and log-in lock-out.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    # Background and scheduled jobs; `keel tasks` runs the consumer.
    "huey.contrib.djhuey",
    "keel.accounts",
    "keel.ledger",
    # The security audit log; its guards reuse the ledger's purge switch.
    "keel.audit",
    "keel.income",
    "keel.gateway",
    "keel.pools",
    "keel.career",
    "keel.api",
    "keel.web",
    # /healthz, request logs and the heartbeat job the health check reads.
    "keel.ops",
]

MIDDLEWARE = [
    # Outermost: times the whole request and gives everything below its request id.
    "keel.ops.logs.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # A session of someone with two-factor sign-in on counts as logged in only once verified.
    "keel.accounts.middleware.TwoFactorSessionMiddleware",
    # Lets audit events recorded inside services carry the request's address and browser.
    "keel.audit.middleware.AuditRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: turns a log-in refused for too many failures into a 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "keel.urls"
WSGI_APPLICATION = "keel.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "keel.web.context_processors.navigation",
            ],
        },
    },
]


# Seconds a database connection is kept for the next request (both backends).
DATABASE_CONN_MAX_AGE = 60


def _sqlite(path: str) -> dict[str, Any]:
    return {
        "ENGINE": "keel.sqlite_backend",
        "NAME": path,
        # Kept open across requests, as on PostgreSQL: opening one read the whole schema
        # and ran the PRAGMAs below again, about 3 ms of every request (a GET of
        # /api/v1/health took 4.8 ms over HTTP, 1.5 ms with the connection kept).
        "CONN_MAX_AGE": DATABASE_CONN_MAX_AGE,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            # Writers take the lock when the transaction begins, so two processes writing at
            # once queue on busy_timeout instead of failing half-way with "database is locked".
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=FULL;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA busy_timeout=30000;"
                # Checkpoint the WAL every ~40 MB instead of every 4 MB: a checkpoint stalls
                # the commit that triggers it, and a journal writes several pages.
                "PRAGMA wal_autocheckpoint=10000;"
            ),
        },
        "TEST": {"NAME": os.environ.get("KEEL_TEST_SQLITE_NAME") or None},
    }


def _database() -> dict[str, Any]:
    # The test suite runs a second time against PostgreSQL when KEEL_TEST_DATABASE_URL is set.
    url = os.environ.get("KEEL_TEST_DATABASE_URL") or os.environ.get("KEEL_DATABASE_URL")
    if not url:
        return _sqlite(str(DATA_DIR / "keel.sqlite3"))
    config: dict[str, Any] = dict(
        dj_database_url.parse(url, conn_max_age=DATABASE_CONN_MAX_AGE, conn_health_checks=True)
    )
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # A SQLite file named by URL (elsewhere than the data dir) needs what the default
        # file has: without WAL and BEGIN IMMEDIATE two writers fail with "database is
        # locked" instead of queueing.
        if config.get("NAME") in ("", ":memory:"):
            raise ImproperlyConfigured(
                "KEEL_DATABASE_URL: a SQLite URL must name a file, e.g."
                " sqlite:////srv/keel/keel.sqlite3 (an in-memory database would lose the books"
                " when the server stops)"
            )
        return _sqlite(str(config["NAME"]))
    if config["ENGINE"] == "django.db.backends.postgresql":
        config.setdefault("OPTIONS", {})
        config.setdefault("TEST", {})["NAME"] = os.environ.get(
            "KEEL_TEST_DATABASE_NAME", f"test_{config.get('NAME') or 'keel'}"
        )
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "web:dashboard"
LOGOUT_REDIRECT_URL = "web:landing"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes first: it refuses a locked-out email and address before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Two-factor sign-in: the name authenticator apps show beside the person's email address.
OTP_TOTP_ISSUER = "Keel"
# Operators may delete a person's authenticator in the admin (a lost phone), never read its
# secret or the backup codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Log-in lock-out (django-axes): too many failed passwords or two-factor codes for one email
# address from one IP address within the cool-off refuse that pair with a 429 until it ends.
# Counted in the Django cache (Redis when KEEL_REDIS_URL is set), so every server sees them.
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
# Who the client is behind a proxy (keel.ops.client_address): the proxies whose
# X-Forwarded-For is believed, as addresses or networks, comma-separated. None by default:
# the address of the connection itself.
KEEL_TRUSTED_PROXIES = parse_trusted(os.environ.get("KEEL_TRUSTED_PROXIES", "").split(","))
AXES_CLIENT_IP_CALLABLE = "keel.ops.client_address.client_address"
AXES_FAILURE_LIMIT = int(os.environ.get("KEEL_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("KEEL_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The log-in form's field; Keel's user model names its username field "email".
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "keel.accounts.limits.login_username"
AXES_LOCKOUT_CALLABLE = "keel.accounts.limits.locked_out"
AXES_RESET_ON_SUCCESS = True
# Attempts live in the cache, not in axes' tables, so the admin pages for them would be empty.
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("KEEL_STATIC_ROOT") or DATA_DIR / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # whitenoise's hashed files, precompressed with gzip (keel.static_storage says why
        # not brotli too).
        "BACKEND": "keel.static_storage.GzipManifestStaticFilesStorage",
        # Public files, unlike the uploads (FILE_UPLOAD_PERMISSIONS below).
        "OPTIONS": {"file_permissions_mode": 0o644, "directory_permissions_mode": 0o755},
    },
}
MEDIA_ROOT = DATA_DIR / "media"
# Receipts and portfolio files live under MEDIA_ROOT and reach a browser only through views
# that check their owner; whitenoise serves everything under STATIC_ROOT to anyone.
if MEDIA_ROOT.resolve().is_relative_to(STATIC_ROOT.resolve()):
    raise ImproperlyConfigured(
        f"KEEL_STATIC_ROOT ({STATIC_ROOT}) holds the private uploads in {MEDIA_ROOT}; "
        "choose a static directory outside KEEL_DATA_DIR/media"
    )
# Finders let `collectstatic` pick up Bootstrap from the XStatic package and htmx from
# django-htmx; nothing is fetched from a CDN.
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
]


def _vendor_static_dirs() -> list[tuple[str, str]]:
    import plotly
    import xstatic.pkg.bootstrap as bootstrap

    return [
        ("vendor/bootstrap", bootstrap.BASE_DIR),
        ("vendor/plotly", str(Path(plotly.__file__).parent / "package_data")),
    ]


STATICFILES_DIRS = _vendor_static_dirs()
WHITENOISE_USE_FINDERS = DEBUG

# Behind a TLS-terminating proxy the proxy sets X-Forwarded-Proto; cookies are marked
# secure unless the operator explicitly serves plain HTTP (the local demo does).
_INSECURE_HTTP = _env_bool("KEEL_INSECURE_HTTP", default=DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not _INSECURE_HTTP
CSRF_COOKIE_SECURE = not _INSECURE_HTTP
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = _env_bool("KEEL_SSL_REDIRECT", default=not _INSECURE_HTTP)
# Health checks from a load balancer often come over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$", r"^healthz$"]
SECURE_HSTS_SECONDS = 0 if _INSECURE_HTTP else 31_536_000
SECURE_HSTS_INCLUDE_SUBDOMAINS = not _INSECURE_HTTP
SECURE_HSTS_PRELOAD = not _INSECURE_HTTP
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The largest request body other than files (the API's JSON): a batch of 10,000 earnings
# events is about 1.8 MB as platforms send them (keel.bench_gateway), 10.2 MB with every
# text field at its longest and 17.6 MB when those are two-byte UTF-8; anything bigger is
# refused with 413 and told to send fewer events.
DATA_UPLOAD_MAX_MEMORY_SIZE = 32 * 1024 * 1024
# Uploaded files above this go to a temporary file, never held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Receipts and portfolio files are private: readable by Keel's own user alone.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
# The largest file each upload takes, enforced while it streams in (keel.uploads), before
# anything is stored. Imports: a million-row Upwork export is about 180 MB.
KEEL_MAX_IMPORT_BYTES = int(os.environ.get("KEEL_MAX_IMPORT_BYTES") or 200 * 1024 * 1024)
KEEL_MAX_RECEIPT_BYTES = int(os.environ.get("KEEL_MAX_RECEIPT_BYTES") or 10 * 1024 * 1024)
KEEL_MAX_PORTFOLIO_BYTES = int(os.environ.get("KEEL_MAX_PORTFOLIO_BYTES") or 10 * 1024 * 1024)

# One JSON object per line in production, for log collectors; readable lines for DEBUG and
# the laptop demo (plain HTTP). KEEL_LOG_FORMAT=json or plain chooses explicitly.
KEEL_LOG_FORMAT = os.environ.get("KEEL_LOG_FORMAT", "").strip().lower() or (
    "plain" if DEBUG or _INSECURE_HTTP else "json"
)
if KEEL_LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"KEEL_LOG_FORMAT must be json or plain, not {KEEL_LOG_FORMAT!r}")

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "keel.ops.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "keel.ops.logs.json_formatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": KEEL_LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("KEEL_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Configured here so `run_huey` does not add a second handler of its own.
        "huey": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # `keel serve` hands this configuration to gunicorn, so its messages share the format.
        # Its access log stays quiet: keel.request writes one line per request, with more in it.
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}

# Redis, when configured, carries the task queue and the cache, so web servers and task
# runners on different machines see the same queue and the same import progress.
KEEL_REDIS_URL = os.environ.get("KEEL_REDIS_URL", "").strip()


def _cache(redis_url: str) -> dict[str, Any]:
    # Import progress is written by the task runner and read by whichever server process
    # answers the page's poll: the cache must be shared by every process, so never the
    # per-process memory cache.
    if redis_url:
        return {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "keel",
        }
    return {
        "BACKEND": "keel.cache.FileCache",
        "LOCATION": str(DATA_DIR / "cache"),
        # Live entries (a day's once-only form tokens, lock-outs, this minute's counters);
        # expired ones are culled first (keel.cache).
        "OPTIONS": {"MAX_ENTRIES": 10_000},
    }


CACHES = {"default": _cache(KEEL_REDIS_URL)}

# Requests authenticated by an API key, per key, and failed key authentications, per IP
# address (someone guessing keys), in django-ratelimit's "count/period" form (s, m, h, d).
# A batch of up to 10,000 earnings events is one request, so the per-key rate is far above
# what a platform posting batches needs, and still stops a client stuck in a loop.
KEEL_API_KEY_RATE = os.environ.get("KEEL_API_KEY_RATE", "3000/m")
KEEL_API_KEY_FAILURE_RATE = os.environ.get("KEEL_API_KEY_FAILURE_RATE", "30/10m")
# django_ratelimit is deliberately not an installed app: the app only adds a system check
# whose list of supported caches predates Django's own RedisCache (it warns about it,
# jsocol/django-ratelimit#283); the counting itself needs no app. Without Redis the counters
# live in the file cache every process on this one machine shares (keel.cache), which
# counts atomically under a file lock, as Redis does (axes.W001 warns about Django's own file
# cache, whose increments are not atomic, by its path; it rightly does not fire for Keel's).
RATELIMIT_USE_CACHE = "default"


def huey_config(redis_url: str, data_dir: Path) -> dict[str, Any]:
    """The task queue (huey.contrib.djhuey reads HUEY): a SQLite file in the data directory,
    or Redis when KEEL_REDIS_URL names one."""
    common: dict[str, Any] = {
        "name": "keel",
        # Explicit, or djhuey would run every task inside the request whenever DEBUG is on.
        "immediate": False,
        # Keel's tasks report through the database and the cache; nobody reads results, so
        # storing them would only grow the queue's storage.
        "results": False,
        "utc": True,
    }
    if redis_url:
        return {**common, "huey_class": "huey.RedisHuey", "url": redis_url}
    return {**common, "huey_class": "huey.SqliteHuey", "filename": str(data_dir / "tasks.sqlite3")}


HUEY = huey_config(KEEL_REDIS_URL, DATA_DIR)

# Email: password resets, sign-up confirmations and pool invitations. With KEEL_EMAIL_HOST
# set, mail goes out over SMTP; without it, each message is written as a file into
# KEEL_DATA_DIR/mail (the demo and development: nothing leaves the machine, and
# `python -m django check --deploy` warns that nobody will receive it).
KEEL_EMAIL_HOST = os.environ.get("KEEL_EMAIL_HOST", "").strip()
KEEL_EMAIL_SECURITY = os.environ.get("KEEL_EMAIL_SECURITY", "starttls").strip().lower()
if KEEL_EMAIL_SECURITY not in {"starttls", "tls", "none"}:
    raise ImproperlyConfigured(
        f"KEEL_EMAIL_SECURITY must be starttls, tls or none, not {KEEL_EMAIL_SECURITY!r}"
    )
EMAIL_FILE_PATH = DATA_DIR / "mail"
if KEEL_EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = KEEL_EMAIL_HOST
    EMAIL_PORT = int(
        os.environ.get("KEEL_EMAIL_PORT")
        or {"starttls": 587, "tls": 465}.get(KEEL_EMAIL_SECURITY, 25)
    )
    EMAIL_HOST_USER = os.environ.get("KEEL_EMAIL_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("KEEL_EMAIL_PASSWORD", "")
    EMAIL_USE_TLS = KEEL_EMAIL_SECURITY == "starttls"
    EMAIL_USE_SSL = KEEL_EMAIL_SECURITY == "tls"
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
# Django waits for ever by default; a stuck mail server must not hold a task runner thread.
EMAIL_TIMEOUT = int(os.environ.get("KEEL_EMAIL_TIMEOUT_SECONDS") or 20)
DEFAULT_FROM_EMAIL = os.environ.get("KEEL_EMAIL_FROM", "").strip() or "Keel <keel@localhost>"
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Messages asking for a password reset or a sign-up confirmation, per email address and per
# IP address (django-ratelimit's count/period): enough for someone who mistyped, too few to
# flood a stranger's inbox through Keel.
KEEL_MAIL_RATE_PER_ADDRESS = os.environ.get("KEEL_MAIL_RATE_PER_ADDRESS", "3/h")
KEEL_MAIL_RATE_PER_IP = os.environ.get("KEEL_MAIL_RATE_PER_IP", "20/h")
# A password reset link works once, for this long.
PASSWORD_RESET_TIMEOUT = int(os.environ.get("KEEL_PASSWORD_RESET_SECONDS") or 3600)

# Pending (two-phase) journals that nobody posts or voids expire after this long by default.
KEEL_PENDING_TIMEOUT_SECONDS = int(os.environ.get("KEEL_PENDING_TIMEOUT_SECONDS", 14 * 24 * 3600))
