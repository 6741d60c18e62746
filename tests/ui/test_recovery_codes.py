"""TOTP recovery codes: shown once when TOTP is turned on, a stand-in for a code at sign-in (each
once), counted and regenerated on the account page, gone with TOTP; wrong ones count like codes."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from django.test import Client

from audit.models import AuditEvent
from secrets_app.models import RecoveryCode
from tests.conftest import PASSWORD
from tests.ui.conftest import HX

CODE = re.compile(r"\b[a-z2-9]{5}-[a-z2-9]{5}\b")


def _code(seed: str, *, step_ahead: int = 0) -> str:
    return pyotp.TOTP(seed).at(int(time.time()) + 30 * step_ahead)


def _turn_on(client: Client) -> tuple[str, list[str]]:
    """Turn TOTP on through the account page; returns the seed and the codes the dialog showed."""
    begun = client.post("/account/totp/begin/", **HX).content.decode()
    seed = begun.split('id="totp-secret">')[1].split("<")[0]
    confirmed = client.post("/account/totp/confirm/", {"code": _code(seed)}, **HX)
    assert confirmed.status_code == 200 and confirmed["Cache-Control"] == "no-store"
    html = confirmed.content.decode()
    dialog = html.split('id="recovery-codes">')[1].split("</code>")[0]
    return seed, CODE.findall(dialog)


def _password_step(email: str) -> Client:
    client = Client()
    assert client.post("/login/", {"email": email, "password": PASSWORD})["Location"] == "/login/verify/"
    return client


@pytest.mark.django_db
def test_it_shows_ten_codes_once_and_stores_only_their_hashes(login, cast):
    alice = login(cast.alice)
    _, codes = _turn_on(alice)

    assert len(codes) == 10 and len(set(codes)) == 10
    stored = list(RecoveryCode.objects.filter(user=cast.alice).values_list("code_hash", flat=True))
    assert len(stored) == 10
    assert not any(code in hashed or code.replace("-", "") in hashed for code in codes for hashed in stored)
    page = alice.get("/account/").content.decode()
    assert not any(code in page for code in codes)
    assert "10 of 10" in page
    event = AuditEvent.objects.get(action="user.recovery_codes_generated", resource_id=str(cast.alice.pk))
    assert not any(code in str(event.metadata) for code in codes)


@pytest.mark.django_db
def test_it_signs_in_with_a_recovery_code_once(login, cast):
    _, codes = _turn_on(login(cast.alice))

    page = _password_step("alice@example.com").get("/login/verify/").content.decode()
    assert "Use a recovery code" in page and 'name="recovery_code"' in page

    first = _password_step("alice@example.com")
    # Typed in capitals and without the dash: the same code.
    signed_in = first.post("/login/verify/", {"recovery_code": codes[3].upper().replace("-", "")})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/"
    assert first.get("/projects/").status_code == 200
    used = AuditEvent.objects.get(action="user.recovery_code_used")
    assert used.metadata == {"remaining": 9}
    assert "9 of 10" in first.get("/account/").content.decode()

    again = _password_step("alice@example.com")
    refused = again.post("/login/verify/", {"recovery_code": codes[3]})
    assert refused.status_code == 401
    assert "used already" in refused.content.decode()
    assert again.get("/projects/").status_code == 302  # still not signed in
    assert AuditEvent.objects.filter(action="user.login_failed", metadata__username="alice@example.com").exists()


@pytest.mark.django_db
def test_it_counts_wrong_recovery_codes_like_wrong_totp_codes(login, cast):
    _, codes = _turn_on(login(cast.alice))
    client = _password_step("alice@example.com")
    for _ in range(4):
        assert client.post("/login/verify/", {"recovery_code": "aaaaa-bbbbb"}).status_code == 401
    final = client.post("/login/verify/", {"recovery_code": "aaaaa-bbbbb"})
    assert final.status_code == 302 and final["Location"] == "/login/"
    # The pending login is gone: a right code now needs the password again.
    assert client.post("/login/verify/", {"recovery_code": codes[0]})["Location"] == "/login/"
    assert RecoveryCode.objects.filter(user=cast.alice, used_at__isnull=False).count() == 0


@pytest.mark.django_db
def test_it_regenerates_codes_with_the_password_or_a_totp_code(login, cast):
    alice = login(cast.alice)
    seed, old_codes = _turn_on(alice)

    wrong = alice.post("/account/recovery-codes/", {"password_or_code": "not my password"}, **HX)
    assert wrong.status_code == 422 and "not your current password" in wrong.content.decode()
    assert not CODE.search(wrong.content.decode().split('id="recovery-codes-section"')[0])

    by_password = alice.post("/account/recovery-codes/", {"password_or_code": PASSWORD}, **HX)
    assert by_password.status_code == 200 and by_password["Cache-Control"] == "no-store"
    new_codes = CODE.findall(by_password.content.decode().split('id="recovery-codes">')[1].split("</code>")[0])
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)

    # The old codes stopped working; a new one works.
    client = _password_step("alice@example.com")
    assert client.post("/login/verify/", {"recovery_code": old_codes[0]}).status_code == 401
    assert client.post("/login/verify/", {"recovery_code": new_codes[0]}).status_code == 302

    by_code = alice.post("/account/recovery-codes/", {"password_or_code": _code(seed, step_ahead=1)}, **HX)
    assert by_code.status_code == 200 and 'id="recovery-codes"' in by_code.content.decode()
    assert AuditEvent.objects.filter(action="user.recovery_codes_generated").count() == 3


@pytest.mark.django_db
def test_it_deletes_the_codes_when_totp_is_turned_off(login, cast):
    alice = login(cast.alice)
    seed, codes = _turn_on(alice)
    assert alice.post("/account/totp/disable/", {"code": _code(seed, step_ahead=1)}, **HX).status_code == 200
    assert not RecoveryCode.objects.filter(user=cast.alice).exists()
    page = alice.get("/account/").content.decode()
    assert "Recovery codes" not in page
    # Without TOTP there is no second step, and no code works anywhere.
    from secrets_app.services.recovery_codes import recovery_code_use

    assert not recovery_code_use(user=cast.alice, code=codes[0])
