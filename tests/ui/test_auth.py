"""Login (password, then TOTP), logout, anonymous access, and the account page."""

from __future__ import annotations

import time

import pyotp
import pytest
from django.test import Client

from audit.models import AuditEvent
from tests.conftest import PASSWORD
from tests.ui.conftest import HX

PAGES = [
    "/projects/",
    "/account/",
    "/projects/acme/",
    "/projects/acme/members/",
    "/projects/acme/audit/",
    "/projects/acme/history/?path=/",
    "/projects/acme/secrets/item/?environment=dev&path=/&key=X",
    "/projects/acme/secrets/value/?environment=dev&path=/&key=X",
]


def _totp_seed(client: Client) -> str:
    response = client.post("/account/totp/begin/", **HX)
    assert response.status_code == 200
    html = response.content.decode()
    start = html.index('id="totp-secret">') + len('id="totp-secret">')
    return html[start : html.index("<", start)]


def _code(seed: str, *, step_ahead: int = 0) -> str:
    """The code of the current 30 s step, or of the next one. Each step is accepted once, so a
    second use in the same test takes the next step (the service allows one step of clock skew)."""
    return pyotp.TOTP(seed).at(int(time.time()) + 30 * step_ahead)


@pytest.mark.django_db
def test_it_shows_the_dashboard_at_root(login, cast):
    response = login(cast.alice).get("/")
    assert response.status_code == 200 and b"Acme dashboard" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_it_sends_anonymous_visitors_to_login(client, cast, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.django_db
def test_it_tells_htmx_to_redirect_an_expired_session(client, cast):
    response = client.get("/projects/acme/", **HX)
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/login/"


@pytest.mark.django_db
def test_it_logs_in_with_email_and_password_and_audits_it(client, cast):
    page = client.get("/login/")
    assert page.status_code == 200 and b'name="password"' in page.content
    response = client.post("/login/", {"email": "Alice@Example.com", "password": PASSWORD, "next": "/projects/acme/"})
    assert response.status_code == 302 and response["Location"] == "/projects/acme/"
    assert client.get("/projects/").status_code == 200
    assert AuditEvent.objects.filter(action="user.logged_in", actor_label="alice@example.com").exists()


@pytest.mark.django_db
def test_it_refuses_a_wrong_password_and_audits_the_failure(client, cast):
    response = client.post("/login/", {"email": "alice@example.com", "password": "wrong-password-123"})
    assert response.status_code == 401
    assert b"do not match" in response.content
    assert b"wrong-password-123" not in response.content
    event = AuditEvent.objects.get(action="user.login_failed")
    assert event.outcome == "deny" and event.metadata["username"] == "alice@example.com"
    assert "wrong-password-123" not in str(event.metadata)
    assert client.get("/projects/").status_code == 302


@pytest.mark.django_db
def test_it_ignores_an_offsite_next_url(client, cast):
    response = client.post(
        "/login/", {"email": "alice@example.com", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_it_logs_out_on_post_only(login, cast):
    client = login(cast.alice)
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.get("/projects/").status_code == 302


@pytest.mark.django_db
def test_it_enables_totp_and_then_asks_for_a_code_at_login(login, client, cast):
    alice = login(cast.alice)
    seed = _totp_seed(alice)
    bad = alice.post("/account/totp/confirm/", {"code": "000000"}, **HX)
    assert bad.status_code == 422 and b"not valid" in bad.content
    confirmed = alice.post("/account/totp/confirm/", {"code": _code(seed)}, **HX)
    assert confirmed.status_code == 200 and b"Two-factor authentication is on" in confirmed.content
    assert confirmed["HX-Retarget"] == "#totp"

    # Password alone is not a login any more.
    logins = AuditEvent.objects.filter(action="user.logged_in", actor_label="alice@example.com")
    before = logins.count()  # force_login above counted as one
    step = client.post("/login/", {"email": "alice@example.com", "password": PASSWORD})
    assert step.status_code == 302 and step["Location"] == "/login/verify/"
    assert client.get("/projects/").status_code == 302
    assert logins.count() == before

    wrong = client.post("/login/verify/", {"code": "123456"})
    assert wrong.status_code == 401
    assert AuditEvent.objects.filter(action="user.login_failed", metadata__username="alice@example.com").exists()

    right = client.post("/login/verify/", {"code": _code(seed, step_ahead=1)})
    assert right.status_code == 302 and right["Location"] == "/"
    assert client.get("/projects/").status_code == 200
    assert logins.count() == before + 1


@pytest.mark.django_db
def test_it_ends_the_pending_login_after_five_wrong_codes(client, cast):
    from secrets_app.services.users import user_totp_begin, user_totp_confirm

    seed = pyotp.parse_uri(user_totp_begin(user=cast.bob)).secret
    assert user_totp_confirm(user=cast.bob, code=_code(seed))
    client.post("/login/", {"email": "bob@example.com", "password": PASSWORD})
    for _ in range(4):
        assert client.post("/login/verify/", {"code": "000000"}).status_code == 401
    final = client.post("/login/verify/", {"code": "000000"})
    assert final.status_code == 302 and final["Location"] == "/login/"
    assert client.get("/login/verify/")["Location"] == "/login/"


@pytest.mark.django_db
def test_it_does_not_restart_enrolment_over_an_active_factor(login, cast):
    """Regression: beginning again used to overwrite a confirmed factor, turning 2FA off silently."""
    alice = login(cast.alice)
    seed = _totp_seed(alice)
    alice.post("/account/totp/confirm/", {"code": _code(seed)}, **HX)
    again = alice.post("/account/totp/begin/", **HX)
    assert again.status_code == 409 and b"already on" in again.content
    from secrets_app.services.users import user_totp_required

    assert user_totp_required(cast.alice)


@pytest.mark.django_db
def test_it_turns_totp_off_only_with_a_valid_code(login, cast):
    from secrets_app.services.users import user_totp_required

    alice = login(cast.alice)
    seed = _totp_seed(alice)
    alice.post("/account/totp/confirm/", {"code": _code(seed)}, **HX)
    refused = alice.post("/account/totp/disable/", {"code": "000000"}, **HX)
    assert refused.status_code == 422 and user_totp_required(cast.alice)
    done = alice.post("/account/totp/disable/", {"code": _code(seed, step_ahead=1)}, **HX)
    assert done.status_code == 200 and not user_totp_required(cast.alice)


@pytest.mark.django_db
def test_it_shows_a_new_api_token_once_and_revokes_it(login, cast):
    from secrets_app.models import PersonalAccessToken

    alice = login(cast.alice)
    created = alice.post("/account/tokens/", {"name": "laptop CLI", "expires_in_days": "30"}, **HX)
    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    token = PersonalAccessToken.objects.get(user=cast.alice)
    html = created.content.decode()
    raw = html.split('id="new-token">')[1].split("<")[0]
    assert raw.startswith("srp_") and raw[:8] == token.prefix
    page = alice.get("/account/").content.decode()
    assert raw not in page and token.prefix in page and "laptop CLI" in page

    revoked = alice.post(f"/account/tokens/{token.pk}/revoke/", **HX)
    assert revoked.status_code == 200
    token.refresh_from_db()
    assert token.revoked_at is not None
    # Another person's token cannot be revoked through your account.
    other = PersonalAccessToken.objects.create(user=cast.bob, name="bob", token_hash="x" * 64, prefix="srp_bob")
    assert alice.post(f"/account/tokens/{other.pk}/revoke/", **HX).status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None


@pytest.mark.django_db
def test_it_validates_the_token_form_inline(login, cast):
    response = login(cast.alice).post("/account/tokens/", {"name": "", "expires_in_days": "0"}, **HX)
    assert response.status_code == 422
    assert b"field-error" in response.content
