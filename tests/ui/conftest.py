"""Fixtures for the web UI: logged-in clients per cast member, htmx requests, seeded secrets."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

# Values are distinctive so "the value is absent from the HTML" cannot pass by accident.
DEV_VALUE = "dev-Val-7c1e9a"
STAGING_VALUE = "stg-Val-51d0b2"
PROD_VALUE = "prod-Val-e84f33"
SHARED_VALUE = "same-Val-0aa9d4"
ALL_VALUES = (DEV_VALUE, STAGING_VALUE, PROD_VALUE, SHARED_VALUE)

HX = {"HTTP_HX_REQUEST": "true"}
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)


@pytest.fixture
def login(client: Client) -> Callable[[Any], Client]:
    """login(user) -> a test client with that user's session (None: anonymous)."""

    def make(user: Any) -> Client:
        ui = Client()
        if user is not None:
            ui.force_login(user)
        return ui

    return make


@pytest.fixture
def seeded(cast: Any) -> Any:
    """acme at /: DATABASE_URL differs dev/staging/prod, REDIS_URL same in dev+prod (missing in
    staging), DEV_ONLY only in dev; /backend exists in dev and staging."""
    from secrets_app.services.folders import folder_create
    from secrets_app.services.secrets import SecretInput, secret_create

    scope = cast.scope(cast.alice)
    for env, value in (("dev", DEV_VALUE), ("staging", STAGING_VALUE), ("prod", PROD_VALUE)):
        secret_create(scope=scope, environment=env, path="/", item=SecretInput(key="DATABASE_URL", value=value))
    for env in ("dev", "prod"):
        secret_create(scope=scope, environment=env, path="/", item=SecretInput(key="REDIS_URL", value=SHARED_VALUE))
    secret_create(scope=scope, environment="dev", path="/", item=SecretInput(key="DEV_ONLY", value=DEV_VALUE + "x"))
    for env in ("dev", "staging"):
        folder_create(scope=scope, environment=env, path="/", name="backend")
    return cast


def assert_no_values(html: str) -> None:
    for value in ALL_VALUES:
        assert value not in html, f"secret value {value!r} leaked into the page"


def assert_csp_clean(response: Any) -> None:
    """The CSP header is on, and the HTML has no inline script and no inline style."""
    assert "script-src 'self'" in response["Content-Security-Policy"]
    html = response.content.decode()
    assert not _INLINE_SCRIPT.search(html), _INLINE_SCRIPT.search(html)
    assert not _STYLE.search(html), _STYLE.search(html)
