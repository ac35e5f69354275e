"""`python -m django check --deploy` with production settings has nothing to report."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path


def deploy_check(data_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # Not this test run's own settings, nor the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE
    # (which the deploy check rightly reports).
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KEEL_")
        and k not in {"DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    clean.update({"DJANGO_SETTINGS_MODULE": "keel.settings", "KEEL_DATA_DIR": str(data_dir), **env})
    # --fail-level WARNING: a warning fails the command, not only an error.
    return subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"],
        capture_output=True,
        text=True,
        env=clean,
        check=False,
    )


PRODUCTION = {
    "KEEL_SECRET_KEY": secrets.token_urlsafe(50),
    "KEEL_ALLOWED_HOSTS": "keel.example.org",
    "KEEL_CSRF_TRUSTED_ORIGINS": "https://keel.example.org",
    "KEEL_DATABASE_URL": "postgres://keel:secret@db.internal:5432/keel",
    "KEEL_REDIS_URL": "redis://cache.internal:6379/0",
    "KEEL_EMAIL_HOST": "smtp.example.org",
    "KEEL_EMAIL_USER": "keel",
    "KEEL_EMAIL_PASSWORD": "mail-secret",
    "KEEL_EMAIL_FROM": "Keel <keel@keel.example.org>",
}


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = deploy_check(tmp_path, PRODUCTION)
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "System check identified no issues (0 silenced).\n",
        "",
    )


def test_one_machine_without_redis_passes_with_nothing_silenced(tmp_path):
    # SQLite and the file cache, the generated secret key: the embedded default. axes.W001
    # warns about Django's FileBasedCache (whose increments are not atomic) by its path,
    # rightly not about Keel's keel.cache.FileCache, whose add and incr hold a lock
    # (src/keel/tests/test_cache.py); if axes ever recognises it, this fails and the
    # warning needs a decision again.
    result = deploy_check(
        tmp_path,
        {
            "KEEL_ALLOWED_HOSTS": "keel.example.org",
            "KEEL_EMAIL_HOST": "127.0.0.1",
            "KEEL_EMAIL_SECURITY": "none",
            "KEEL_EMAIL_FROM": "Keel <keel@keel.example.org>",
        },
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "System check identified no issues (0 silenced).\n",
        "",
    )


def test_the_check_does_report_unsafe_settings(tmp_path):
    # The same command fails on what a production server must not run with, so the two
    # tests above cannot pass by checking nothing.
    unsafe = {**PRODUCTION, "KEEL_INSECURE_HTTP": "1", "KEEL_SECRET_KEY": "short-and-guessable"}
    result = deploy_check(tmp_path, unsafe)
    assert result.returncode == 1
    assert sorted(re.findall(r"^\?: \(([\w.]+)\)", result.stderr, re.MULTILINE)) == [
        "security.W004",
        "security.W008",
        "security.W009",
        "security.W012",
        "security.W016",
    ]


def test_the_check_warns_when_mail_would_reach_nobody(tmp_path):
    # Without a mail server password reset links are written to files on the server, so a
    # person who forgot their password is locked out of their money.
    no_server = {k: v for k, v in PRODUCTION.items() if not k.startswith("KEEL_EMAIL_")}
    result = deploy_check(tmp_path, no_server)
    assert result.returncode == 1
    assert re.findall(r"^\?: \(([\w.]+)\)", result.stderr, re.MULTILINE) == ["keel.W001"]
    assert str(tmp_path / "mail") in result.stderr

    localhost_sender = {k: v for k, v in PRODUCTION.items() if k != "KEEL_EMAIL_FROM"}
    result = deploy_check(tmp_path, localhost_sender)
    assert result.returncode == 1
    assert re.findall(r"^\?: \(([\w.]+)\)", result.stderr, re.MULTILINE) == ["keel.W002"]
