"""Production defaults are safe unless an operator asks otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def without_keel_settings() -> dict[str, str]:
    """This process's environment without any KEEL_ setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}


def keel_env(data_dir: Path, **variables: str) -> dict[str, str]:
    return {**without_keel_settings(), "KEEL_DATA_DIR": str(data_dir), **variables}


def run_python(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)


def settings_in_subprocess(env: dict[str, str], expression: str) -> str:
    code = (
        f"import keel.settings as s; v = ({expression});"
        " print(v if isinstance(v, str) else repr(v))"
    )
    result = run_python({**without_keel_settings(), **env}, code)
    result.check_returncode()
    return result.stdout.strip()


def test_production_defaults(tmp_path):
    env = {"KEEL_DATA_DIR": str(tmp_path)}
    assert settings_in_subprocess(env, "s.DEBUG") == "False"
    assert settings_in_subprocess(env, "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE") == (
        "(True, True)"
    )
    assert settings_in_subprocess(env, "s.PASSWORD_HASHERS[0]") == (
        "django.contrib.auth.hashers.Argon2PasswordHasher"
    )
    assert settings_in_subprocess(env, "s.DATABASES['default']['ENGINE']") == (
        "keel.sqlite_backend"
    )
    assert settings_in_subprocess(env, "s.DATABASES['default']['NAME']") == str(
        tmp_path / "keel.sqlite3"
    )
    assert (
        settings_in_subprocess(env, "s.DATABASES['default']['OPTIONS']['transaction_mode']")
        == "IMMEDIATE"
    )
    # Django's own file cache culls live lock-outs and counters at random (keel.cache).
    assert settings_in_subprocess(env, "s.CACHES['default']['BACKEND']") == "keel.cache.FileCache"


def test_generated_secret_key_is_kept_in_the_data_dir(tmp_path):
    env = {"KEEL_DATA_DIR": str(tmp_path)}
    first = settings_in_subprocess(env, "s.SECRET_KEY")
    assert first == settings_in_subprocess(env, "s.SECRET_KEY")
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert settings_in_subprocess({**env, "KEEL_SECRET_KEY": "x" * 50}, "s.SECRET_KEY") == "x" * 50


def test_database_url_switches_to_postgres(tmp_path):
    env = {
        "KEEL_DATA_DIR": str(tmp_path),
        "KEEL_DATABASE_URL": "postgres://keel:pw@db.internal:5433/keelprod",
    }
    assert (
        settings_in_subprocess(
            env,
            "s.DATABASES['default']['ENGINE'], s.DATABASES['default']['HOST'],"
            " s.DATABASES['default']['PORT'], s.DATABASES['default']['NAME']",
        )
        == "('django.db.backends.postgresql', 'db.internal', 5433, 'keelprod')"
    )


def test_a_sqlite_url_gets_what_the_default_sqlite_file_gets(tmp_path):
    elsewhere = tmp_path / "books" / "keel.sqlite3"
    env = {"KEEL_DATA_DIR": str(tmp_path), "KEEL_DATABASE_URL": f"sqlite:///{elsewhere}"}
    assert settings_in_subprocess(
        env,
        "s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'],"
        " s.DATABASES['default']['OPTIONS']['transaction_mode'],"
        " 'journal_mode=WAL' in s.DATABASES['default']['OPTIONS']['init_command'],"
        " s.DATABASES['default']['CONN_MAX_AGE']",
    ) == repr(("keel.sqlite_backend", str(elsewhere), "IMMEDIATE", True, 60))


def test_an_in_memory_sqlite_url_is_refused_naming_the_variable(tmp_path):
    failed = run_python(keel_env(tmp_path, KEEL_DATABASE_URL="sqlite://"), "import keel.settings")
    assert failed.returncode != 0
    assert "KEEL_DATABASE_URL: a SQLite URL must name a file" in failed.stderr


def test_debug_hosts_and_insecure_http_are_opt_in(tmp_path):
    env = {
        "KEEL_DATA_DIR": str(tmp_path),
        "KEEL_DEBUG": "1",
        "KEEL_ALLOWED_HOSTS": "keel.example.org, 10.0.0.5",
    }
    assert settings_in_subprocess(env, "s.DEBUG, s.ALLOWED_HOSTS") == (
        "(True, ['keel.example.org', '10.0.0.5'])"
    )
    assert settings_in_subprocess(
        {"KEEL_DATA_DIR": str(tmp_path), "KEEL_INSECURE_HTTP": "1"},
        "s.SESSION_COOKIE_SECURE, s.SECURE_SSL_REDIRECT",
    ) == ("(False, False)")


def test_sqlite_runs_in_wal_mode(tmp_path):
    env = keel_env(tmp_path, DJANGO_SETTINGS_MODULE="keel.settings")
    code = (
        "import django; django.setup(); from django.db import connection;"
        "c = connection.cursor(); c.execute('PRAGMA journal_mode'); print(c.fetchone()[0]);"
        "c.execute('PRAGMA synchronous'); print(c.fetchone()[0])"
    )
    out = run_python(env, code).stdout.split()
    assert out == ["wal", "2"]  # synchronous=FULL is 2


def test_a_sqlite_connection_outlives_the_request_that_opened_it(tmp_path):
    """Django closes a connection at the end of a request once it is older than
    CONN_MAX_AGE. At 0 each request opened a new one, re-reading the schema and running the
    PRAGMAs (about 3 ms of every request); kept, the next request finds it open."""
    env = keel_env(tmp_path, DJANGO_SETTINGS_MODULE="keel.settings")
    code = (
        "import django; django.setup();"
        "from django.core.signals import request_finished, request_started;"
        "from django.db import connection;"
        "request_started.send(sender=None); connection.ensure_connection();"
        "opened = connection.connection; request_finished.send(sender=None);"
        "request_started.send(sender=None);"
        "print(connection.connection is opened, connection.settings_dict['CONN_MAX_AGE'])"
    )
    out = run_python(env, code).stdout.split()
    assert out == ["True", "60"]


def test_mail_goes_to_files_in_the_data_dir_until_a_mail_server_is_set(tmp_path):
    env = {"KEEL_DATA_DIR": str(tmp_path)}
    assert settings_in_subprocess(env, "s.EMAIL_BACKEND, str(s.EMAIL_FILE_PATH)") == repr(
        ("django.core.mail.backends.filebased.EmailBackend", str(tmp_path / "mail"))
    )
    assert settings_in_subprocess(env, "s.DEFAULT_FROM_EMAIL") == "Keel <keel@localhost>"
    assert settings_in_subprocess(env, "s.PASSWORD_RESET_TIMEOUT") == "3600"


def test_a_mail_server_from_the_environment(tmp_path):
    env = {
        "KEEL_DATA_DIR": str(tmp_path),
        "KEEL_EMAIL_HOST": "smtp.example.org",
        "KEEL_EMAIL_USER": "keel",
        "KEEL_EMAIL_PASSWORD": "p@ss:word/with#signs",
        "KEEL_EMAIL_FROM": "Keel <keel@keel.example.org>",
    }
    assert settings_in_subprocess(
        env,
        "s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_HOST_PASSWORD,"
        " s.EMAIL_USE_TLS, s.EMAIL_USE_SSL, s.EMAIL_TIMEOUT, s.DEFAULT_FROM_EMAIL",
    ) == repr(
        (
            "django.core.mail.backends.smtp.EmailBackend",
            "smtp.example.org",
            587,
            "keel",
            "p@ss:word/with#signs",
            True,
            False,
            20,
            "Keel <keel@keel.example.org>",
        )
    )
    implicit_tls = {**env, "KEEL_EMAIL_SECURITY": "tls"}
    assert settings_in_subprocess(
        implicit_tls, "s.EMAIL_PORT, s.EMAIL_USE_TLS, s.EMAIL_USE_SSL"
    ) == repr((465, False, True))
    assert settings_in_subprocess({**env, "KEEL_EMAIL_PORT": "2525"}, "s.EMAIL_PORT") == "2525"


def test_an_unknown_mail_security_is_refused_naming_the_variable(tmp_path):
    env = keel_env(tmp_path, KEEL_EMAIL_HOST="smtp.example.org", KEEL_EMAIL_SECURITY="ssl3")
    result = run_python(env, "import keel.settings")
    assert result.returncode == 1
    assert "KEEL_EMAIL_SECURITY must be starttls, tls or none, not 'ssl3'" in result.stderr
