"""Dynamic secrets in the web UI, against the machine's PostgreSQL: the folder view's section, the
definition form per provider (tested live, root password write-only), a dynamic secret's page with
its leases, the credentials shown once, renew / revoke / force-revoke, delete (forced or not), the
irrevocable-lease banner, and who gets 403."""

from __future__ import annotations

import re
from typing import Any

import pytest

from audit.models import AuditEvent
from dynamic.models import DynamicSecret, Lease, LeaseStatus
from tests.dynamic.conftest import (  # noqa: F401 (fixtures)
    allow_local,
    define,
    dyn_settings,
    pg_login,
    pg_role_exists,
    pg_target,
)
from tests.ui.conftest import HX, assert_csp_clean

pytestmark = pytest.mark.django_db
FOLDER = "/projects/acme/"
NEW = "/projects/acme/dynamic-secrets/new/"


def _page(secret: Any, suffix: str = "") -> str:
    return f"/projects/acme/dynamic-secrets/{secret.public_id}/{suffix}"


def _lease_url(lease: Any, action: str) -> str:
    return f"/projects/acme/leases/{lease.public_id}/{action}/"


def _form(target: Any, **extra: Any) -> dict[str, Any]:
    return {
        "provider": "postgresql",
        "path": "/",
        "environment": "dev",
        "name": "app-db",
        "host": target.host,
        "port": str(target.port),
        "database": target.database,
        "username": target.username,
        "password": target.password,
        "sslmode": "prefer",
        "default_ttl": "1h",
        "max_ttl": "2h",
        "username_template": "sr-{{random 24}}",
        "password_length": "48",
        "creation": "",
        "renewal": "",
        "revocation": "",
        **extra,
    }


def _lease_for(client: Any, secret: Any, ttl: str = "") -> tuple[Lease, str, str]:
    """POST "Create lease" (htmx); (lease, username, password) read from the one-time box."""
    response = client.post(_page(secret, "leases/"), {"ttl": ttl}, **HX)
    assert response.status_code == 200, response.content.decode()[:2000]
    html = response.content.decode()
    values = re.findall(r'<code class="mono" id="lease-value-\d">([^<]+)</code>', html)
    assert len(values) == 2, html
    lease = Lease.objects.get(username=values[0])
    return lease, values[0], values[1]


def test_it_lists_the_folders_dynamic_secrets_with_provider_ttls_and_live_leases(
    login: Any,
    cast: Any,
    allow_local: None,  # noqa: F811
    pg_target: Any,  # noqa: F811
    dyn_settings: Any,  # noqa: F811
) -> None:
    from dynamic.services.leases import lease_create

    secret = define(cast, pg_target, name="reporting-db-with-a-rather-long-name-for-layout", default_ttl="30m")
    issued = lease_create(scope=cast.scope(cast.bob), secret=secret)

    page = login(cast.alice).get(FOLDER)
    html = page.content.decode()
    section = html[html.index('id="dynamic-secrets"') :]
    assert page.status_code == 200
    assert "reporting-db-with-a-rather-long-name-for-layout" in section and "PostgreSQL" in section
    assert ">30m<" in section and ">24h<" in section and '<span class="count" title="active' in section
    assert re.search(r'title="active, revoking, failed or irrevocable">1</span>', section)
    assert "New dynamic secret" in section
    assert issued.data["DB_PASSWORD"] not in html and pg_target.password not in html
    assert_csp_clean(page)

    # Bob (member) sees the section but may not define; dave (viewer) sees the names only.
    bob_html = login(cast.bob).get(FOLDER).content.decode()
    assert "reporting-db-with" in bob_html and "New dynamic secret" not in bob_html
    assert "reporting-db-with" in login(cast.dave).get(FOLDER).content.decode()
    # The folder view's htmx navigation (workspace partial) carries the section too.
    partial = login(cast.alice).get(FOLDER + "?path=/", **HX).content.decode()
    assert 'id="dynamic-secrets"' in partial and "<html" not in partial
    assert login(cast.charlie).get(_page(secret)).status_code == 404


def test_the_form_is_prefilled_per_provider_and_never_shows_a_password(login: Any, cast: Any) -> None:
    alice = login(cast.alice)

    postgres = alice.get(NEW + "?path=/&provider=postgresql")
    mysql = alice.get(NEW + "?path=/&provider=mysql", **HX)

    assert postgres.status_code == 200 and mysql.status_code == 200
    pg_html, my_html = postgres.content.decode(), mysql.content.decode()
    assert "CREATE ROLE &quot;{{username}}&quot; WITH LOGIN PASSWORD" in pg_html
    assert 'value="5432"' in pg_html and "sr-{{random 24}}" in pg_html
    assert 'type="password" name="password"' in pg_html and "Test connection and save" in pg_html
    assert "CREATE USER &#x27;{{username}}&#x27;@&#x27;%&#x27;" in my_html and "`{{database}}`" in my_html
    assert 'value="3306"' in my_html and "<html" not in my_html  # htmx: the form alone
    assert "(32 characters)" in my_html and "(63 characters)" in pg_html
    assert_csp_clean(postgres)
    from dynamic.providers.registry import PROVIDERS

    for kind, _label in PROVIDERS.kinds():  # every provider gets its form from its declaration
        other = alice.get(NEW + f"?path=/&provider={kind}", **HX)
        assert other.status_code == 200 and 'class="segment active"' in other.content.decode(), kind


def test_an_admin_defines_one_only_when_the_connection_test_passes(
    login: Any,
    cast: Any,
    allow_local: None,  # noqa: F811
    pg_target: Any,  # noqa: F811
) -> None:
    alice = login(cast.alice)
    wrong_password = "Wrong-Root-Pass-5b1c9e"

    # 127.0.0.1 trusts every password: a root user that does not exist fails the test instead.
    refused = alice.post(NEW, _form(pg_target, username="no_such_root", password=wrong_password), **HX)
    not_allowed = alice.post(NEW, _form(pg_target, host="10.255.255.1"), **HX)
    created = alice.post(NEW, _form(pg_target), **HX)

    assert refused.status_code == 422 and "Provider connection failed: PostgreSQL" in refused.content.decode()
    assert wrong_password not in refused.content.decode() and pg_target.password not in refused.content.decode()
    assert not_allowed.status_code == 422 and "target allowlist" in not_allowed.content.decode()
    assert created.status_code == 204, created.content.decode()[:3000]
    secret = DynamicSecret.objects.get(name="app-db")
    assert created["HX-Redirect"] == _page(secret) + "?saved=created"
    assert secret.max_ttl == 7200 and secret.credential_names == ["password"]
    shown = alice.get(created["HX-Redirect"])
    html = shown.content.decode()
    assert "the connection test passed" in html and "set, encrypted" in html and "Create lease" in html
    assert pg_target.password not in html
    assert_csp_clean(shown)
    assert AuditEvent.objects.filter(action="dynamic_secret.created", resource_id=str(secret.public_id)).exists()


def test_editing_keeps_the_root_password_when_left_empty(
    login: Any,
    cast: Any,
    allow_local: None,  # noqa: F811
    pg_target: Any,  # noqa: F811
    dyn_settings: Any,  # noqa: F811
) -> None:
    secret = define(cast, pg_target)
    alice = login(cast.alice)

    form = alice.get(_page(secret, "edit/"))
    shown = {kind: "\r\n".join(secret.statements[kind]) for kind in ("creation", "renewal", "revocation")}
    unchanged = {**shown, "name": "db", "password": "", "username_template": ""}  # as the form shows them
    saved = alice.post(_page(secret, "edit/"), _form(pg_target, **unchanged, default_ttl="20m", max_ttl="3h"), **HX)

    bad = alice.post(_page(secret, "edit/"), _form(pg_target, **unchanged, username="no_such_root"), **HX)
    assert bad.status_code == 422 and "Provider connection failed" in bad.content.decode()
    assert DynamicSecret.objects.get(pk=secret.pk).config["username"] == pg_target.username  # nothing saved
    html = form.content.decode()
    assert form.status_code == 200 and "leave empty to keep it" in html and pg_target.password not in html
    assert re.search(r'<input type="password" name="password"[^>]*>', html)
    assert 'value="' not in re.search(r'<input type="password" name="password"[^>]*>', html).group(0)
    assert saved.status_code == 204, saved.content.decode()[:3000]
    secret.refresh_from_db()
    assert (secret.default_ttl, secret.max_ttl) == (1200, 10800)
    event = AuditEvent.objects.filter(action="dynamic_secret.updated").order_by("-id").first()
    assert event is not None and event.metadata["changed"] == ["ttl"]  # no live test, no credential change
    lease, username, password = _lease_for(alice, secret)  # the kept password still works
    with pg_login(pg_target, username, password) as conn:
        conn.execute("SELECT 1 FROM items")


def test_a_member_leases_sees_the_credentials_once_renews_and_revokes(
    login: Any,
    cast: Any,
    allow_local: None,  # noqa: F811
    pg_target: Any,  # noqa: F811
    dyn_settings: Any,  # noqa: F811
) -> None:
    secret = define(cast, pg_target)
    bob = login(cast.bob)

    page = bob.get(_page(secret))
    response = bob.post(_page(secret, "leases/"), {"ttl": "10m"}, **HX)
    lease, username, password = _lease_for(bob, secret, "15m")

    assert page.status_code == 200 and "Create lease" in page.content.decode() and "Edit" not in page.content.decode()
    assert response["Cache-Control"] == "no-store" and 'hx-history="false"' in response.content.decode()
    assert "I have stored it" in response.content.decode() and "data-focus-once" in response.content.decode()
    assert_csp_clean(response)
    with pg_login(pg_target, username, password) as conn:
        conn.execute("SELECT 1 FROM items")
    # Never again: not on reload, not in the lease list, not on the folder view or the leases page.
    for url in (_page(secret), _page(secret) + "?fragment=leases", FOLDER, "/projects/acme/leases/"):
        again = bob.get(url, **(HX if "fragment" in url else {}))
        assert again.status_code == 200, url
        assert password not in again.content.decode() and pg_target.password not in again.content.decode(), url
    reload = bob.get(_page(secret)).content.decode()
    assert username in reload and 'data-expires-at="' in reload and "lease-once" not in reload
    assert re.search(
        rf'id="lease-{lease.public_id}".*?<time class="countdown mono"[^>]*>1[45]m \d\ds</time>', reload, re.S
    )

    renewed = bob.post(_lease_url(lease, "renew"), {"secret": str(secret.public_id)}, **HX)
    assert renewed.status_code == 200 and f"Lease of {username} renewed." in renewed.content.decode()
    assert Lease.objects.get(pk=lease.pk).version == 2

    revoked = bob.post(_lease_url(lease, "revoke"), {"secret": str(secret.public_id)}, **HX)
    assert revoked.status_code == 200 and f"Lease of {username} revoked." in revoked.content.decode()
    assert Lease.objects.get(pk=lease.pk).status == LeaseStatus.REVOKED and not pg_role_exists(username)
    assert password not in "".join(str(e.metadata) for e in AuditEvent.objects.all())
    other = Lease.objects.exclude(pk=lease.pk).get(dynamic_secret=secret)  # the first one
    bob.post(_lease_url(other, "revoke"), {"status": "live"}, **HX)


def test_people_without_the_right_see_no_buttons_and_are_refused(
    login: Any,
    cast: Any,
    allow_local: None,  # noqa: F811
    pg_target: Any,  # noqa: F811
    dyn_settings: Any,  # noqa: F811
) -> None:
    from dynamic.services.leases import lease_create

    secret = define(cast, pg_target)
    lease = lease_create(scope=cast.scope(cast.bob), secret=secret).lease
    bob, dave = login(cast.bob), login(cast.dave)
    denied_before = AuditEvent.objects.filter(action="permission.denied").count()

    assert bob.get(NEW + "?path=/").status_code == 403
    assert bob.post(NEW, _form(pg_target)).status_code == 403
    assert bob.get(_page(secret, "edit/")).status_code == 403
    assert bob.post(_page(secret, "delete/"), {}).status_code == 403
    forced = bob.post(_lease_url(lease, "force-revoke"), {"secret": str(secret.public_id)}, **HX)
    assert forced.status_code == 403 and "HX-Trigger" in forced
    assert dave.post(_page(secret, "leases/"), {}).status_code == 403
    assert dave.post(_lease_url(lease, "revoke"), {}).status_code == 403
    viewer_page = dave.get(_page(secret)).content.decode()
    assert "Create lease" not in viewer_page and lease.username not in viewer_page and "Delete" not in viewer_page
    assert login(cast.charlie).post(_page(secret, "leases/"), {}).status_code == 404
    assert AuditEvent.objects.filter(action="permission.denied").count() >= denied_before + 7
    assert DynamicSecret.objects.filter(pk=secret.pk).exists()
    assert Lease.objects.get(pk=lease.pk).status == LeaseStatus.ACTIVE and pg_role_exists(lease.username)
    login(cast.alice).post(_lease_url(lease, "revoke"), {}, **HX)


def test_irrevocable_leases_are_flagged_and_an_admin_force_revokes_them(
    login: Any,
    cast: Any,
    allow_local: None,  # noqa: F811
    pg_target: Any,  # noqa: F811
    dyn_settings: Any,  # noqa: F811
) -> None:
    from dynamic.services.leases import lease_create

    secret = define(cast, pg_target)
    lease = lease_create(scope=cast.scope(cast.bob), secret=secret).lease
    Lease.objects.filter(pk=lease.pk).update(
        status=LeaseStatus.IRREVOCABLE, last_error="PostgreSQL connection failed (OperationalError)"
    )
    alice = login(cast.alice)

    folder = alice.get(FOLDER).content.decode()
    listed = alice.get("/projects/acme/leases/?status=irrevocable")
    assert 'id="irrevocable-leases"' in folder and "1 lease could not be revoked" in folder
    assert "/projects/acme/leases/?status=irrevocable" in folder and "1 irrevocable" in folder
    assert 'id="irrevocable-leases"' not in login(cast.bob).get(FOLDER).content.decode()
    assert listed.status_code == 200 and lease.username in listed.content.decode()
    assert "Force-revoke" in listed.content.decode() and "PostgreSQL connection failed" in listed.content.decode()
    assert_csp_clean(listed)
    assert "Force-revoke" not in login(cast.bob).get("/projects/acme/leases/?status=irrevocable").content.decode()

    forced = alice.post(_lease_url(lease, "force-revoke"), {"status": "irrevocable"}, **HX)

    assert forced.status_code == 200 and "force-revoked" in forced.content.decode()
    assert Lease.objects.get(pk=lease.pk).status == LeaseStatus.REVOKED
    assert not pg_role_exists(lease.username)  # the target answered this time
    assert 'id="irrevocable-leases"' not in alice.get(FOLDER).content.decode()


def test_delete_revokes_the_leases_first_and_force_leaves_them_with_a_warning(
    login: Any,
    cast: Any,
    allow_local: None,  # noqa: F811
    pg_target: Any,  # noqa: F811
    dyn_settings: Any,  # noqa: F811
) -> None:
    from dynamic.services.leases import lease_create, lease_revoke

    first, second = define(cast, pg_target, name="first"), define(cast, pg_target, name="second")
    first_lease = lease_create(scope=cast.scope(cast.bob), secret=first).lease
    second_lease = lease_create(scope=cast.scope(cast.bob), secret=second).lease
    alice = login(cast.alice)

    page = alice.get(_page(second)).content.decode()
    deleted = alice.post(_page(first, "delete/"), {}, **HX)
    forced = alice.post(_page(second, "delete/"), {"force": "on"}, **HX)

    assert "Force: delete now and leave live leases in place" in page and "alert-warning" in page
    assert deleted.status_code == 204 and deleted["HX-Redirect"] == "/projects/acme/?path=/"
    assert not DynamicSecret.objects.filter(pk=first.pk).exists() and not pg_role_exists(first_lease.username)
    assert forced.status_code == 204 and not DynamicSecret.objects.filter(pk=second.pk).exists()
    assert pg_role_exists(second_lease.username)  # left in place, revoked at expiry from its snapshot
    event = AuditEvent.objects.filter(action="dynamic_secret.deleted").order_by("-id").first()
    assert event is not None and event.metadata["forced"] is True and event.metadata["leases_left_in_place"] == 1
    lease_revoke(scope=cast.scope(cast.bob), lease=Lease.objects.get(pk=second_lease.pk))


def test_the_redis_and_rabbitmq_forms_come_from_their_declarations(login: Any, cast: Any) -> None:
    alice = login(cast.alice)

    redis_html = alice.get(NEW + "?path=/&provider=redis", **HX).content.decode()
    rabbit_html = alice.get(NEW + "?path=/&provider=rabbitmq", **HX).content.decode()

    assert "ACL SETUSER {{username}} on &gt;{{password}} ~* &amp;* +@all -@dangerous" in redis_html
    assert "ACL DELUSER {{username}}" in redis_html and 'value="6379"' in redis_html
    assert 'type="password" name="password"' in redis_html and 'name="ca"' in redis_html
    assert 'value="15672"' in rabbit_html and 'name="virtualHostName"' in rabbit_html
    assert 'name="readPermission"' in rabbit_html and 'type="password" name="password"' in rabbit_html
    assert 'name="creation"' not in rabbit_html  # no statements: the management API calls are fixed
