"""People's sign-in: lockout after failed passwords and TOTP codes (B6), browser sessions (B7), logout audit (D1).

Lockout state lives in the real Redis the suite uses; each test uses its own client addresses and
clears the cast's counters first (the rest of the suite runs with the thresholds raised).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from audit.models import AuditEvent
from secrets_app.models import OrganizationMembership, OrgRole
from secrets_app.person_lockout import lockout_clear
from tests.conftest import PASSWORD
from tests.support.redis_server import private_redis_server

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
LOCKOUT = {
    "STRONGROOM_LOGIN_LOCKOUT_THRESHOLD": 5,
    "STRONGROOM_LOGIN_LOCKOUT_IP_THRESHOLD": 20,
    "STRONGROOM_LOGIN_LOCKOUT_SECONDS": 900,
    "STRONGROOM_LOGIN_LOCKOUT_RESET_SECONDS": 900,
}
CAST_EMAILS = ("alice@example.com", "bob@example.com", "charlie@example.com", "dave@example.com")
_ALERT = re.compile(r'<div class="alert alert-danger" role="alert">(.*?)</div>', re.S)


def _clear(ips: tuple[str, ...] = ()) -> None:
    for email in CAST_EMAILS:
        lockout_clear(username=email, unlock=True)
    for ip in ips:
        lockout_clear(ip=ip, unlock=True)


@pytest.fixture
def lockout(cast: Any) -> Iterator[Any]:
    ips = tuple(f"203.0.113.{n}" for n in range(1, 40))
    with override_settings(**LOCKOUT):
        _clear(ips)
        yield cast
        _clear(ips)


def _client(n: int) -> Client:
    return Client(REMOTE_ADDR=f"203.0.113.{n}")


def _login(client: Client, email: str, password: str) -> Any:
    return client.post("/login/", {"email": email, "password": password})


def _alert(response: Any) -> str:
    found = _ALERT.findall(response.content.decode())
    return " ".join(found)


def _signed_in(client: Client) -> bool:
    return client.get("/projects/").status_code == 200


def _enable_totp(user: Any) -> str:
    from secrets_app.services.users import user_totp_begin, user_totp_confirm

    seed = pyotp.parse_uri(user_totp_begin(user=user)).secret
    assert user_totp_confirm(user=user, code=pyotp.TOTP(seed).now())
    return seed


# --- B6: lockout ----------------------------------------------------------------------------------


def test_B6_person_locked_after_N_failures(lockout: Any) -> None:
    # N-1 failures, then the right password: signed in, and the success forgets the failures.
    for _ in range(4):
        assert _login(_client(1), "alice@example.com", "wrong-password-1").status_code == 401
    first = _client(1)
    assert _login(first, "alice@example.com", PASSWORD).status_code == 302 and _signed_in(first)

    # N failures spread over N addresses (one guess each) lock the account, whatever the address.
    for n in range(2, 6):
        assert _login(_client(n), "Alice@Example.com", "wrong-password-2").status_code == 401
    fifth = _login(_client(6), "alice@example.com", "wrong-password-2")
    assert fifth.status_code == 429 and "Too many failed sign-in attempts" in _alert(fifth)

    # During the lock the right and the wrong password get the same answer, from anywhere.
    right, wrong = _client(7), _client(8)
    answered_right = _login(right, "alice@example.com", PASSWORD)
    answered_wrong = _login(wrong, "alice@example.com", "wrong-password-3")
    assert answered_right.status_code == answered_wrong.status_code == 429
    assert _alert(answered_right) == _alert(answered_wrong) != ""
    assert not _signed_in(right)

    # Audited once, in the person's organization; the refusals during the lock are audited too.
    alice = lockout.alice
    locked = AuditEvent.objects.filter(action="user.locked_out", resource_id=str(alice.pk))
    assert locked.count() == 1
    assert locked.get().organization_id == lockout.organization.pk
    assert locked.get().metadata["scope"] == "account"
    refused = AuditEvent.objects.filter(action="user.login_failed", metadata__reason="locked out")
    assert refused.filter(metadata__username="alice@example.com").count() == 2
    assert PASSWORD not in str(list(AuditEvent.objects.values_list("metadata", flat=True)))

    # Another account is not affected.
    assert _login(_client(9), "bob@example.com", PASSWORD).status_code == 302


def test_B6_address_locked_after_its_own_threshold(lockout: Any) -> None:
    """Password spraying: a few guesses on many accounts from one address lock the address."""
    attacker = _client(10)
    with override_settings(STRONGROOM_LOGIN_LOCKOUT_IP_THRESHOLD=6):
        for n in range(5):
            email = CAST_EMAILS[n % 4]
            assert _login(attacker, email, f"spray-{n}-guess").status_code == 401
        assert _login(attacker, "erin@example.com", "spray-5-guess").status_code == 429
        # Even the right password of an account that was never guessed is refused from there ...
        assert _login(attacker, "erin@example.com", PASSWORD).status_code == 429
        # ... while the same person signs in from elsewhere.
        assert _login(_client(11), "erin@example.com", PASSWORD).status_code == 302
    assert AuditEvent.objects.filter(action="user.locked_out", metadata__scope="ip_address").count() == 1
    lockout_clear(username="erin@example.com", unlock=True)


def test_B6_locked_account_refused_without_a_request(lockout: Any) -> None:
    """authenticate() without a request (Django's Client.login, internal callers) still honours a lock."""
    _lock("charlie@example.com", 24)
    assert not Client().login(username="charlie@example.com", password=PASSWORD)
    assert Client().login(username="bob@example.com", password=PASSWORD)


def test_B6_lock_expires_on_time(lockout: Any) -> None:
    with override_settings(STRONGROOM_LOGIN_LOCKOUT_SECONDS=1):
        for n in range(5):
            _login(_client(12 + n), "dave@example.com", "wrong-password-4")
        assert _login(_client(17), "dave@example.com", PASSWORD).status_code == 429
        time.sleep(1.3)
        assert _login(_client(17), "dave@example.com", PASSWORD).status_code == 302


def test_B6_concurrent_failures_lock_after_exactly_N(lockout: Any) -> None:
    """Ten concurrent wrong passwords: the count is exact (atomic in Redis), the lock is audited once."""
    from concurrent.futures import ThreadPoolExecutor

    from secrets_app.person_lockout import lockout_failure_record, lockout_is_locked

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda n: lockout_failure_record(username="charlie@example.com", ip=""), range(10)))
    assert sum(len(locked) for locked in results) == 1  # the 5th failure, and only it, reports the lock
    assert lockout_is_locked(username="charlie@example.com", ip="")


def test_B6_totp_failures_count_per_account_across_logins(lockout: Any) -> None:
    """Before: each pending login allowed 5 codes and logging in again started over (15 wrong codes
    over 3 logins, then success). Now wrong codes count against the account, whatever the login."""
    seed = _enable_totp(lockout.bob)
    attacker = _client(20)
    for codes in (2, 2):
        assert _login(attacker, "bob@example.com", PASSWORD)["Location"] == "/login/verify/"
        for _ in range(codes):
            assert attacker.post("/login/verify/", {"code": "000000"}).status_code == 401
    # The right password again (a third pending login) does not reset the count: one more wrong code locks.
    assert _login(attacker, "bob@example.com", PASSWORD)["Location"] == "/login/verify/"
    locked = attacker.post("/login/verify/", {"code": "000000"})
    assert locked.status_code == 429 and "Too many failed sign-in attempts" in locked.content.decode()
    assert attacker.get("/login/verify/")["Location"] == "/login/"  # the pending login is gone

    # Locked: the right password and then the right code get nowhere, from any address.
    owner = _client(21)
    assert _login(owner, "bob@example.com", PASSWORD).status_code == 429
    assert owner.post("/login/verify/", {"code": pyotp.TOTP(seed).now()})["Location"] == "/login/"
    assert not _signed_in(owner)
    assert AuditEvent.objects.filter(action="user.locked_out", resource_id=str(lockout.bob.pk)).count() == 1


def test_B6_a_pending_login_is_refused_once_the_account_locks(lockout: Any) -> None:
    """A code entered after the account was locked from elsewhere is not even checked."""
    seed = _enable_totp(lockout.bob)
    victim = _client(22)
    assert _login(victim, "bob@example.com", PASSWORD)["Location"] == "/login/verify/"
    for n in range(5):
        _login(_client(23 + n), "bob@example.com", "wrong-password-5")
    answer = victim.post("/login/verify/", {"code": pyotp.TOTP(seed).now()})
    assert answer.status_code == 429 and not _signed_in(victim)


# --- B6: the lockout store is down ------------------------------------------------------------------


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    with private_redis_server(tmp_path) as (process, port):
        yield process, f"redis://127.0.0.1:{port}/0"


def test_B6_locked_login_refused_when_store_down(lockout: Any, private_redis: Any) -> None:
    process, url = private_redis
    caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    seed = _enable_totp(lockout.bob)
    with override_settings(CACHES=caches):
        for n in range(5):
            _login(_client(30 + n), "alice@example.com", "wrong-password-6")
        assert _login(_client(35), "alice@example.com", PASSWORD).status_code == 429
        pending = _client(36)
        assert _login(pending, "bob@example.com", PASSWORD)["Location"] == "/login/verify/"

        process.kill()
        process.wait(timeout=10)

        # Locked before the outage: still refused (503, not let through unchecked).
        during = _client(37)
        refused = _login(during, "alice@example.com", PASSWORD)
        assert refused.status_code == 503 and "temporarily unavailable" in refused.content.decode()
        assert not _signed_in(during)
        # Not locked: refused too, since nobody can tell; and so is a pending TOTP login.
        assert _login(_client(38), "charlie@example.com", PASSWORD).status_code == 503
        assert pending.post("/login/verify/", {"code": pyotp.TOTP(seed).now()}).status_code == 503
        assert not _signed_in(pending)
    refusals = AuditEvent.objects.filter(action="user.login_failed", metadata__reason="lockout state unavailable")
    assert refusals.count() == 3


# --- B6: unlock -------------------------------------------------------------------------------------


def _lock(email: str, first_ip: int) -> None:
    for n in range(5):
        _login(_client(first_ip + n), email, "wrong-password-7")
    assert _login(_client(first_ip), email, PASSWORD).status_code == 429


def test_B6_org_admin_unlocks_from_people_page_and_api(lockout: Any, api: Any) -> None:
    OrganizationMembership.objects.filter(user=lockout.alice, organization=lockout.organization).update(
        role=OrgRole.ADMIN
    )
    admin = Client()
    admin.force_login(lockout.alice)

    _lock("charlie@example.com", 1)
    page = admin.get("/org/acme-org/people/").content.decode()
    assert "locked out" in page and f"/org/acme-org/people/{lockout.charlie.pk}/unlock/" in page
    # Not an admin: refused, still locked.
    bob = Client()
    bob.force_login(lockout.bob)
    assert bob.post(f"/org/acme-org/people/{lockout.charlie.pk}/unlock/").status_code == 403
    assert _login(_client(6), "charlie@example.com", PASSWORD).status_code == 429

    done = admin.post(f"/org/acme-org/people/{lockout.charlie.pk}/unlock/", HTTP_HX_REQUEST="true")
    assert done.status_code == 200 and "is unlocked" in done.content.decode()
    assert _login(_client(6), "charlie@example.com", PASSWORD).status_code == 302

    _lock("dave@example.com", 10)
    assert api(lockout.bob).post(f"/api/v1/organizations/acme-org/people/{lockout.dave.pk}/unlock/").status_code == 403
    url = f"/api/v1/organizations/acme-org/people/{lockout.dave.pk}/unlock/"
    bad = api(lockout.alice).post(url, {"reason": "x" * 501}, format="json")
    assert bad.status_code == 400 and "reason" in bad.content.decode()
    answer = api(lockout.alice).post(url, {"reason": "verified by phone"}, format="json")
    assert answer.status_code == 200 and answer.json()["email"] == "dave@example.com"
    assert _login(_client(16), "dave@example.com", PASSWORD).status_code == 302
    # Another organization's admin cannot reach the person.
    other = api(lockout.mallory).post(f"/api/v1/organizations/acme-org/people/{lockout.dave.pk}/unlock/")
    assert other.status_code == 404

    unlocked = AuditEvent.objects.filter(action="user.unlocked", organization_id=lockout.organization.pk)
    assert {event.resource_id for event in unlocked} == {str(lockout.charlie.pk), str(lockout.dave.pk)}
    assert all(event.metadata["was_locked"] and event.actor_id == str(lockout.alice.pk) for event in unlocked)
    assert unlocked.get(resource_id=str(lockout.dave.pk)).metadata["reason"] == "verified by phone"
    schema = api(lockout.alice).get("/api/schema/?format=json").json()
    assert "post" in schema["paths"]["/api/v1/organizations/{organization}/people/{id}/unlock/"]


def test_B6_operator_unlocks_with_manage_command(lockout: Any) -> None:
    _lock("charlie@example.com", 20)
    call_command("person_unlock", "Charlie@Example.com", stdout=open(os.devnull, "w"))
    assert _login(_client(20), "charlie@example.com", PASSWORD).status_code == 302
    event = AuditEvent.objects.get(action="user.unlocked", resource_id=str(lockout.charlie.pk))
    assert event.actor_type == "system" and event.metadata["via"] == "manage.py person_unlock"


# --- B7: cookies, HSTS, idle timeout -----------------------------------------------------------------


def _settings_with(env: dict[str, str]) -> dict[str, Any]:
    """The session/HSTS settings a fresh process derives from this environment."""
    names = ["SESSION_COOKIE_NAME", "CSRF_COOKIE_NAME", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"]
    names.append("SECURE_HSTS_SECONDS")
    code = "import json; from config import settings as s; print(json.dumps({n: getattr(s, n, None) for n in %r}))"
    full_env = {k: v for k, v in os.environ.items() if k not in {"STRONGROOM_HTTPS", "STRONGROOM_SECURE_COOKIES"}}
    full_env.update(env)
    out = subprocess.run(
        [sys.executable, "-c", code % names], cwd=ROOT, env=full_env, capture_output=True, text=True, check=True
    )
    derived: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    # Django's defaults for names the settings module leaves alone.
    derived["SESSION_COOKIE_NAME"] = derived["SESSION_COOKIE_NAME"] or "sessionid"
    derived["CSRF_COOKIE_NAME"] = derived["CSRF_COOKIE_NAME"] or "csrftoken"
    return derived


def test_B7_hsts_and_host_cookies_over_https(cast: Any) -> None:
    https = _settings_with({"STRONGROOM_SITE_URL": "https://vault.example.com"})
    assert https["SESSION_COOKIE_NAME"] == "__Host-sessionid" and https["CSRF_COOKIE_NAME"] == "__Host-csrftoken"
    assert https["SECURE_HSTS_SECONDS"] >= 365 * 24 * 3600
    with override_settings(**https, STRONGROOM_LOGIN_LOCKOUT_THRESHOLD=100):
        browser = Client()
        page = browser.get("/login/", secure=True)
        assert page["Strict-Transport-Security"].startswith("max-age=31536000")
        csrf = page.cookies["__Host-csrftoken"]
        assert csrf["secure"] and csrf["path"] == "/" and not csrf["domain"]
        signed_in = browser.post("/login/", {"email": "alice@example.com", "password": PASSWORD}, secure=True)
        assert signed_in.status_code == 302
        session = signed_in.cookies["__Host-sessionid"]
        assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
        assert session["path"] == "/" and not session["domain"]
        assert browser.get("/projects/", secure=True).status_code == 200
        # Behind a TLS proxy (the request reaches Django as http) the header is still sent.
        assert "Strict-Transport-Security" in browser.get("/login/")

    # `make run` on http://127.0.0.1: plain names (browsers drop Secure/__Host- cookies over http), no HSTS.
    plain = _settings_with({"STRONGROOM_SITE_URL": "http://127.0.0.1:8000"})
    assert plain == {
        "SESSION_COOKIE_NAME": "sessionid",
        "CSRF_COOKIE_NAME": "csrftoken",
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
    }
    with override_settings(**plain):
        assert "Strict-Transport-Security" not in Client().get("/login/")


def test_B7_idle_timeout_ends_session(cast: Any) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        browser = Client()
        assert browser.post("/login/", {"email": "alice@example.com", "password": PASSWORD}).status_code == 302
        key = browser.cookies[settings.SESSION_COOKIE_NAME].value
        clock.shift(timedelta(minutes=29))
        assert _signed_in(browser)  # used within 30 min: the idle clock restarts
        clock.shift(timedelta(minutes=29))
        assert _signed_in(browser)
        clock.shift(timedelta(minutes=30, seconds=1))
        expired = browser.get("/projects/")
        assert expired.status_code == 302 and expired["Location"].startswith("/login/")
        assert not Session.objects.filter(session_key=key).exists()  # ended on the server, not just the cookie
    event = AuditEvent.objects.get(action="user.logged_out", actor_id=str(cast.alice.pk))
    assert event.metadata["reason"] == "idle timeout"


def test_B7_absolute_timeout_ends_an_active_session(cast: Any) -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock:
        browser = Client()
        browser.force_login(cast.alice)
        for _ in range(int(settings.SESSION_COOKIE_AGE / 1200) - 1):
            clock.shift(timedelta(minutes=20))
            assert _signed_in(browser)
        clock.shift(timedelta(minutes=40))
        assert not _signed_in(browser)
    assert AuditEvent.objects.get(action="user.logged_out").metadata["reason"] == "absolute timeout"


# --- D1: logout is audited ----------------------------------------------------------------------------


def test_D1_logout_audited(cast: Any) -> None:
    browser = Client()
    browser.force_login(cast.alice)
    key = browser.cookies[settings.SESSION_COOKIE_NAME].value
    assert browser.post("/logout/").status_code == 302
    event = AuditEvent.objects.get(action="user.logged_out")
    assert event.actor_id == str(cast.alice.pk) and event.actor_label == "alice@example.com"
    assert event.metadata == {"reason": "user"}
    assert not Session.objects.filter(session_key=key).exists()


def test_B6_password_change_guesses_count_toward_the_account_lockout(lockout: Any, api: Any) -> None:
    """A stolen session or token cannot guess the current password without limit."""
    client = api(lockout.dave)
    answers = [
        client.post(
            "/api/v1/me/password/",
            {"currentPassword": f"guess-{n}-not-it", "newPassword": "a-new-long-passphrase-77"},
            format="json",
        ).status_code
        for n in range(5)
    ]
    right = client.post(
        "/api/v1/me/password/", {"currentPassword": PASSWORD, "newPassword": "a-new-long-passphrase-77"}, format="json"
    )
    assert answers == [400] * 5
    assert right.status_code == 429 and right.json()["error"]["code"] == "locked_out"
    lockout.dave.refresh_from_db()
    assert lockout.dave.check_password(PASSWORD)
    assert _login(_client(39), "dave@example.com", PASSWORD).status_code == 429  # the same lock
    assert AuditEvent.objects.filter(action="user.locked_out", resource_id=str(lockout.dave.pk)).exists()
