"""Request logs: one JSON line per request with its request id, method, path, status,
duration and user id; errors with their traceback under the same request id."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from django.test import Client
from tests.test_settings import keel_env, run_python, settings_in_subprocess

from keel.accounts.models import User
from keel.api import services as api_services
from keel.ops.logs import RequestIdFilter, json_formatter

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_lines() -> Iterator[Lines]:
    """What the production handler writes: Keel's JSON formatter and request-id filter on
    the root logger, into a buffer; each call returns the lines so far, parsed."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.removeHandler(handler)


def request_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["logger"] == "keel.request"]


@pytest.fixture
def worker(db: None) -> User:
    return User.objects.create_user(
        "rosa@example.org", "correct horse 7", name="Rosa Rivera", home_currency="USD"
    )


def test_a_request_writes_one_json_line_with_its_fields(worker, log_lines):
    client = Client()
    client.force_login(worker)
    response = client.get("/api/v1/me?token=sekret-in-the-query")
    assert response.status_code == 200
    (line,) = request_lines(log_lines())
    duration = line.pop("duration_ms")
    timestamp = line.pop("timestamp")
    assert line == {
        "level": "INFO",
        "logger": "keel.request",
        "message": f"GET /api/v1/me 200 {duration:.1f}ms",
        "request_id": response["X-Request-ID"],
        "method": "GET",
        "path": "/api/v1/me",
        "status": 200,
        "user_id": worker.pk,
    }
    assert isinstance(duration, float) and duration >= 0
    assert datetime.fromisoformat(timestamp).utcoffset() is not None
    # A fresh id when the caller sends none: 32 hex digits.
    assert len(line["request_id"]) == 32 and int(line["request_id"], 16) >= 0
    raw = json.dumps(log_lines())
    assert "sekret" not in raw and "rosa@example.org" not in raw


def test_an_api_key_request_logs_the_keys_user_but_never_the_key(worker, log_lines):
    _, plaintext = api_services.create_key(worker, "script", ["ledger:read"])
    response = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {plaintext}"})
    assert response.status_code == 200
    (line,) = request_lines(log_lines())
    assert (line["status"], line["user_id"]) == (200, worker.pk)
    assert plaintext not in json.dumps(log_lines())


def test_an_anonymous_request_logs_no_user(db, log_lines):
    response = Client().get("/api/v1/me")
    assert response.status_code == 401
    (line,) = request_lines(log_lines())
    assert (line["status"], line["user_id"], line["path"]) == (401, None, "/api/v1/me")


def test_the_callers_request_id_round_trips(db, log_lines):
    response = Client().get("/healthz", headers={"X-Request-ID": "edge-7f3a.01:b_2"})
    assert response["X-Request-ID"] == "edge-7f3a.01:b_2"
    (line,) = request_lines(log_lines())
    assert line["request_id"] == "edge-7f3a.01:b_2"


@pytest.mark.parametrize(
    "unfit", ["two words", "x" * 129, "line\nbreak", '{"json": 1}', "é"], ids=repr
)
def test_an_unfit_request_id_is_replaced_by_a_fresh_one(db, log_lines, unfit):
    response = Client().get("/healthz", headers={"X-Request-ID": unfit})
    (line,) = request_lines(log_lines())
    assert response["X-Request-ID"] == line["request_id"]
    assert len(line["request_id"]) == 32 and int(line["request_id"], 16) >= 0
    assert unfit not in json.dumps(log_lines())


@pytest.mark.urls("keel.ops.tests.urls_failing")
def test_an_error_is_logged_with_its_traceback_under_the_request_id(db, log_lines):
    client = Client(raise_request_exception=False)
    response = client.get("/ops-test/fail", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response["X-Request-ID"] == "req-500"
    lines = log_lines()
    (error,) = [line for line in lines if line["level"] == "ERROR"]
    assert error["logger"] == "django.request"
    assert error["request_id"] == "req-500"
    assert error["exc_info"].startswith("Traceback (most recent call last):")
    assert error["exc_info"].endswith("RuntimeError: the ledger caught fire")
    (access,) = request_lines(lines)
    assert (access["request_id"], access["status"]) == ("req-500", 500)


def test_a_log_line_outside_any_request_has_no_request_id(log_lines):
    logging.getLogger("keel.ops.test").info("the task runner started")
    (line,) = log_lines()
    assert "request_id" not in line
    assert line["message"] == "the task runner started"


def test_production_logs_json_and_the_demo_reads_plainly(tmp_path):
    formatter = "s.LOGGING['handlers']['console']['formatter']"
    data_dir = {"KEEL_DATA_DIR": str(tmp_path)}
    assert settings_in_subprocess(data_dir, formatter) == "json"
    assert settings_in_subprocess({**data_dir, "KEEL_INSECURE_HTTP": "1"}, formatter) == "plain"
    assert settings_in_subprocess({**data_dir, "KEEL_DEBUG": "1"}, formatter) == "plain"
    assert (
        settings_in_subprocess(
            {**data_dir, "KEEL_INSECURE_HTTP": "1", "KEEL_LOG_FORMAT": "json"}, formatter
        )
        == "json"
    )
    assert settings_in_subprocess({**data_dir, "KEEL_LOG_FORMAT": "Plain"}, formatter) == "plain"


def test_an_unknown_log_format_is_refused_naming_the_variable(tmp_path):
    result = run_python(keel_env(tmp_path, KEEL_LOG_FORMAT="xml"), "import keel.settings")
    assert result.returncode == 1
    assert "KEEL_LOG_FORMAT must be json or plain, not 'xml'" in result.stderr


def test_production_settings_write_the_request_line_as_json(tmp_path):
    """Keel's own settings, as production loads them, end to end: the request line on
    standard error is one JSON object."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KEEL_")},
        "KEEL_DATA_DIR": str(tmp_path),
        "KEEL_ALLOWED_HOSTS": "testserver",
        "DJANGO_SETTINGS_MODULE": "keel.settings",
    }
    code = (
        "import django; django.setup(); from django.test import Client;"
        " r = Client().get('/healthz', headers={'X-Request-ID': 'prod-1'});"
        " print(r.status_code, r['X-Request-ID'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.split() == ["200", "prod-1"]
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    (access,) = [line for line in lines if line["logger"] == "keel.request"]
    assert {k: access[k] for k in ("method", "path", "status", "request_id", "user_id")} == {
        "method": "GET",
        "path": "/healthz",
        "status": 200,
        "request_id": "prod-1",
        "user_id": None,
    }
