"""STRONGROOM_LOG_FORMAT=json: every log line is one JSON object a log shipper can parse, with the
request id while a request is served, and no secret value in it."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils.module_loading import import_string

from audit.context import RequestContext, reset_request_context, set_request_context
from secrets_app.services.secrets import SecretInput, secret_create
from tests.compat.conftest import BASE, login, make_machine

ROOT = Path(__file__).resolve().parents[2]
SECRET_VALUE = "sk_live_json-log-canary-5d1e"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The root logger also writes through the formatter LOGGING names "json"."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(import_string(django_settings.LOGGING["formatters"]["json"]["()"])())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = stream.getvalue().splitlines()
    assert lines, "nothing was logged"
    return [json.loads(line) for line in lines]


def test_it_writes_each_record_as_one_json_object_with_the_request_id(json_lines: io.StringIO) -> None:
    token = set_request_context(RequestContext(request_id="req-0123456789abcdef"))
    try:
        logging.getLogger("strongroom.tests").warning('two\nlines and a "quote" for %s', "alice")
    finally:
        reset_request_context(token)
    logging.getLogger("strongroom.tests").info("outside any request")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("strongroom.tests").exception("failed")

    first, second, third = parsed(json_lines)
    assert first["message"] == 'two\nlines and a "quote" for alice'
    assert first["level"] == "WARNING" and first["logger"] == "strongroom.tests"
    assert first["request_id"] == "req-0123456789abcdef"
    assert first["timestamp"].endswith("+00:00")
    assert "request_id" not in second
    assert "ValueError: boom" in third["exception"]


def test_it_logs_requests_as_json_without_secret_values(cast: Any, json_lines: io.StringIO) -> None:
    secret_create(
        scope=cast.scope(cast.alice), environment="dev", path="/", item=SecretInput(key="CARD_KEY", value=SECRET_VALUE)
    )
    machine = make_machine(cast.project, "ci-reader", "member")
    client = Client()
    token = login(client, machine)
    url = f"{BASE}/api/v3/secrets/raw/CARD_KEY?workspaceSlug=acme&environment=dev"
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    assert client.get(url, HTTP_AUTHORIZATION="Bearer not.a.token").status_code in (401, 403)
    assert client.get(f"{BASE}/api/v3/secrets/raw/NOPE?workspaceSlug=acme&environment=dev").status_code == 401
    client.post(
        f"{BASE}/api/v1/auth/universal-auth/login",
        {"clientId": machine.client_id, "clientSecret": "wrong-" + machine.client_secret},
        content_type="application/json",
    )

    text = json_lines.getvalue()
    records = parsed(json_lines)
    assert all({"timestamp", "level", "logger", "message"} <= record.keys() for record in records)
    refused = [record for record in records if record["logger"] == "django.request"]
    assert refused and all(record["request_id"].startswith("req-") for record in refused)
    for leaked in (SECRET_VALUE, machine.client_secret, token):
        assert leaked not in text


def test_STRONGROOM_LOG_FORMAT_json_turns_the_servers_log_lines_into_json(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "STRONGROOM_DATA_DIR": str(tmp_path),
        "STRONGROOM_LOG_FORMAT": "json",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DATABASE_URL", None)
    script = "import django, logging; django.setup(); logging.getLogger('strongroom.x').warning('hello %s', 'ops')"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    (line,) = result.stderr.strip().splitlines()
    record = json.loads(line)
    assert record["message"] == "hello ops" and record["logger"] == "strongroom.x" and record["level"] == "WARNING"

    env["STRONGROOM_LOG_FORMAT"] = "yaml"
    refused = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode != 0 and "STRONGROOM_LOG_FORMAT must be plain or json" in refused.stderr
