"""Issue 17 UI: one-time values in a focused dialog, role changes only on an explicit Save with a
one-click (audited) undo, "confirm new password", and the TOTP QR code rendered server-side."""

from __future__ import annotations

import html as html_lib
import re
from typing import Any

import pytest
import segno

from audit.models import AuditEvent
from secrets_app.models import MachineIdentity, OrganizationMembership, OrgRole, ProjectMembership
from tests.conftest import PASSWORD
from tests.identities.universal_support import make_org_admin
from tests.ui.conftest import HX, assert_csp_clean

IDENTITIES = "/org/acme-org/identities/"
DIALOG = re.compile(
    r'<dialog class="one-time-dialog" id="([\w-]+)-dialog" data-one-time open[^>]*>(.*?)</dialog>', re.S
)


def _dialog(html: str, value_id: str) -> str:
    match = DIALOG.search(html)
    assert match and match.group(1) == value_id, "no one-time dialog"
    body = match.group(2)
    assert "I have stored it" in body and f'data-copy-target="#{value_id}"' in body
    found = re.search(rf'id="{value_id}">([^<]+)<', body)
    assert found, "the value is not in the dialog"
    value = found.group(1)
    assert html.count(value) == 1, "a one-time value appears exactly once on the page"
    return value


@pytest.mark.django_db
def test_a_new_client_secret_is_shown_once_in_the_dialog(login: Any, cast: Any) -> None:
    ui = login(make_org_admin(cast))
    ui.post(IDENTITIES, {"name": "deployer"}, **HX)
    detail = f"{IDENTITIES}{MachineIdentity.objects.get(name='deployer').public_id}/"
    ui.post(f"{detail}universal-auth/", {"attach": "1"}, **HX)

    made = ui.post(f"{detail}client-secrets/", {"description": "ci", "ttl_seconds": 0, "num_uses_limit": 0}, **HX)
    page = ui.get(detail)

    html = made.content.decode()
    secret = _dialog(html, "new-client-secret")
    assert "New client secret “ci”" in html and made["Cache-Control"] == "no-store"
    assert_csp_clean(made)
    assert secret not in page.content.decode() and "data-one-time" not in page.content.decode()
    assert "js/one_time.js" in page.content.decode()  # the full page loads the dialog's script


@pytest.mark.django_db
def test_a_personal_token_and_a_generated_password_use_the_same_dialog(login: Any, cast: Any) -> None:
    alice = login(cast.alice)
    token = alice.post("/account/tokens/", {"name": "laptop", "expires_in_days": 30}, **HX)
    admin = login(make_org_admin(cast, cast.bob))
    added = admin.post("/org/acme-org/people/", {"email": "nina@example.com", "role": "member"}, **HX)

    assert token.status_code == 200 and added.status_code == 200
    _dialog(token.content.decode(), "new-token")
    _dialog(added.content.decode(), "new-password")
    assert "data-one-time" not in alice.get("/account/").content.decode()


@pytest.mark.django_db
def test_a_project_role_changes_only_on_save_and_undo_restores_it_audited(login: Any, cast: Any) -> None:
    client = login(cast.alice)
    dave = ProjectMembership.objects.get(project=cast.project, user=cast.dave)
    page = client.get("/projects/acme/members/").content.decode()
    row = next(tr for tr in page.split("<tr") if "dave@example.com" in tr)
    select = re.search(r"<select[^>]*>", row)
    # No select posts by itself: the role select sits in a form that needs its Save button.
    assert 'hx-trigger="change"' not in page
    assert "data-explicit-save" in row and ">Save</button>" in row
    assert select and "hx-post" not in select.group(0)

    changed = client.post(f"/projects/acme/members/{dave.pk}/", {"role": "member"}, **HX)
    html = changed.content.decode()
    assert "Role of dave@example.com changed from viewer to member." in html
    undo = re.search(r'<div class="alert alert-success undo-notice".*?</div>', html, re.S)
    assert undo and 'name="role" value="viewer"' in undo.group(0) and ">Undo</button>" in undo.group(0)
    assert f'hx-post="/projects/acme/members/{dave.pk}/"' in undo.group(0)

    undone = client.post(f"/projects/acme/members/{dave.pk}/", {"role": "viewer"}, **HX)
    dave.refresh_from_db()

    assert undone.status_code == 200 and dave.builtin_role == "viewer"
    events = list(AuditEvent.objects.filter(action="member.role_changed", resource_id=str(cast.dave.pk)).order_by("id"))
    assert [(e.metadata["previous_role"], e.metadata["role"]) for e in events] == [
        ("viewer", "member"),
        ("member", "viewer"),
    ]


@pytest.mark.django_db
def test_an_org_role_change_offers_undo(login: Any, cast: Any) -> None:
    client = login(make_org_admin(cast, cast.bob))
    url = f"/org/acme-org/people/{cast.dave.pk}/role/"
    changed = client.post(url, {"role": "admin"}, **HX).content.decode()
    assert "Organization role of dave@example.com changed from member to admin." in changed
    assert f'hx-post="{url}"' in changed and 'name="role" value="member"' in changed

    client.post(url, {"role": "member"}, **HX)

    assert OrganizationMembership.objects.get(user=cast.dave).role == OrgRole.MEMBER
    assert AuditEvent.objects.filter(action="member.org_role_changed", resource_id=str(cast.dave.pk)).count() == 2


@pytest.mark.django_db
def test_a_mismatched_confirmation_changes_nothing(login: Any, cast: Any) -> None:
    client = login(cast.alice)
    new = "a-brand-new-passphrase-42"
    response = client.post(
        "/account/password/",
        {"current_password": PASSWORD, "new_password": new, "confirm_password": new + "x"},
        **HX,
    )
    html = response.content.decode()
    cast.alice.refresh_from_db()

    assert response.status_code == 422
    confirm_field = html.split('for="password-confirm_password"')[1]
    assert "field-error" in confirm_field and "Does not match the new password" in confirm_field
    assert new not in html
    assert cast.alice.check_password(PASSWORD) and not cast.alice.check_password(new)
    assert not AuditEvent.objects.filter(action="user.password_changed").exists()
    assert 'name="confirm_password"' in client.get("/account/").content.decode()


@pytest.mark.django_db
def test_totp_setup_shows_a_server_rendered_qr_code(login: Any, cast: Any) -> None:
    client = login(cast.alice)
    response = client.post("/account/totp/begin/", **HX)
    html = response.content.decode()

    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    svg = re.search(r"<svg [^>]*>.*?</svg>", html, re.S)
    assert svg and 'class="segno"' in svg.group(0) and 'role="img"' in svg.group(0)
    assert len(re.findall(r"<path ", svg.group(0))) >= 1 and len(svg.group(0)) > 1000
    assert 'id="totp-secret">' in html  # the setup key as text, as before
    assert not re.search(r'(src|href)="https?:', html), "no external image or service"
    assert "http" not in svg.group(0)
    # It encodes the otpauth:// URI shown under it (same modules as a fresh encoding of that URI).
    uri = html_lib.unescape(re.search(r'<code class="mono wrap">(otpauth://[^<]+)</code>', html).group(1))
    assert uri.startswith("otpauth://totp/") and "secret=" in uri
    paths = re.findall(r' d="([^"]+)"', svg.group(0))
    fresh = segno.make(uri, error="m").svg_inline(scale=4, border=4, dark="#000", light="#fff")
    assert len(paths) == 2 and paths == re.findall(r' d="([^"]+)"', fresh)  # background, then the modules
    assert_csp_clean(response)
