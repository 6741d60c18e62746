"""B7: the browser session and CSRF, as a person's browser meets them (the real login form)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _sign_in(client: Client, user: Any) -> None:
    response = client.post("/login/", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content[:300]


def _session_key(client: Client) -> str:
    from django.conf import settings

    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_B7_pages_carry_the_security_headers(cast: Any) -> None:
    response = Client().get("/login/")
    policy = response["Content-Security-Policy"]
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in policy
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.cookies.get("sessionid") is None or response.cookies["sessionid"]["httponly"]


def test_B7_session_id_changes_at_login_and_logout_ends_it_on_the_server(cast: Any) -> None:
    browser = Client()
    browser.get("/login/")
    session = browser.session
    session["seen_login_page"] = True
    session.save()
    before = session.session_key
    _sign_in(browser, cast.alice)
    after = _session_key(browser)
    assert after and after != before
    cookie = browser.cookies["sessionid"]
    assert cookie["httponly"] and cookie["samesite"].lower() in ("lax", "strict")

    browser.post("/logout/")
    assert not Session.objects.filter(session_key=after).exists()
    assert browser.get("/projects/").status_code == 302  # back to the login page


def test_B7_a_cookie_post_without_a_csrf_token_is_refused(cast: Any) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(cast.alice)
    response = browser.post("/account/tokens/", {"name": "no-csrf"})
    assert response.status_code == 403
    assert not cast.alice.api_tokens.filter(name="no-csrf").exists()


def test_B7_a_cookie_authenticated_api_write_needs_the_csrf_token(cast: Any) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(cast.alice)
    response = browser.post("/api/v1/tokens/", {"name": "cookie-only"}, content_type="application/json")
    assert response.status_code == 403
    assert not cast.alice.api_tokens.filter(name="cookie-only").exists()


def test_B7_changing_the_password_ends_the_other_sessions(cast: Any) -> None:
    laptop, phone = Client(), Client()
    _sign_in(laptop, cast.bob)
    _sign_in(phone, cast.bob)
    assert phone.get("/projects/").status_code == 200
    new_password = "a-much-better-passphrase-2026"
    changed = laptop.post(
        "/account/password/",
        {"current_password": PASSWORD, "new_password": new_password, "confirm_password": new_password},
    )
    assert changed.status_code in (200, 302)
    assert laptop.get("/projects/").status_code == 200
    assert phone.get("/projects/").status_code == 302
