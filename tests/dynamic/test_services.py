"""Defining dynamic secrets and the lease rules: permissions, the target check, TTL semantics
(Infisical's), the live-lease cap, snapshots that outlive the definition, and no password in the
audit log."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from secrets_app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.dynamic.conftest import define, pg_admin, pg_login, pg_role_exists

pytestmark = pytest.mark.django_db


def _lease(cast: Any, secret: Any, user: Any = None, ttl: Any = None) -> Any:
    from dynamic.services.leases import lease_create

    return lease_create(scope=cast.scope(user or cast.alice), secret=secret, ttl=ttl)


# --- defining -------------------------------------------------------------------------------------


def test_only_admins_define_dynamic_secrets(cast: Any, allow_local: None, pg_target: Any) -> None:
    from audit.models import AuditEvent
    from dynamic.services.definitions import Definition, dynamic_secret_create

    for user in (cast.bob, cast.dave, cast.erin):
        with pytest.raises(PermissionDenied):
            dynamic_secret_create(
                scope=cast.scope(user),
                environment="dev",
                path="/",
                name="db",
                provider="postgresql",
                definition=Definition(config=pg_target.config(), credentials=pg_target.credentials()),
            )
    assert (
        AuditEvent.objects.filter(
            action="permission.denied", metadata__requested_action="dynamic_secrets.manage"
        ).count()
        == 3
    )


def test_a_definition_is_tested_live_and_sealed(cast: Any, allow_local: None, pg_target: Any) -> None:
    from dynamic.sealing import open_for_secret
    from dynamic.services.definitions import Definition, dynamic_secret_create

    with pytest.raises(ValidationFailed, match="Provider connection failed") as refused:
        dynamic_secret_create(
            scope=cast.scope(cast.alice),
            environment="dev",
            path="/",
            name="db",
            provider="postgresql",
            definition=Definition(
                config={**pg_target.config(), "database": "no_such_db_here"}, credentials=pg_target.credentials()
            ),
        )
    assert pg_target.password not in str(refused.value)

    secret = define(cast, pg_target)

    assert pg_target.password.encode() not in bytes(secret.credentials_ciphertext)
    assert open_for_secret(secret) == {"password": pg_target.password}
    assert secret.statements["revocation"][-1] == 'DROP ROLE IF EXISTS "{{username}}";'
    with pytest.raises(Conflict, match="already exists under the folder"):
        define(cast, pg_target)


@pytest.mark.parametrize(
    ("entries", "config", "message"),
    [
        ([], {}, "not on the organization's dynamic secret target allowlist"),
        (["10.0.0.0/8"], {}, "not on the organization's dynamic secret target allowlist"),
        (["169.254.0.0/16"], {"host": "169.254.169.254"}, "link-local"),
        (["127.0.0.1"], {"database": "__strongroom__"}, "Strongroom's own database"),
        (["127.0.0.1"], {"port": 6379, "database": "x"}, "Strongroom's own database or Redis"),
    ],
)
def test_targets_outside_the_allowlist_and_strongrooms_own_servers_are_refused(
    cast: Any, pg_target: Any, settings: Any, entries: list[str], config: dict[str, Any], message: str
) -> None:
    from django.db import connection

    from dynamic.models import TargetAllowlist
    from dynamic.services.definitions import Definition, dynamic_secret_create

    if config.get("database") == "__strongroom__":
        config = {"database": connection.settings_dict["NAME"]}
    settings.REDIS_URL = "redis://127.0.0.1:6379/14"
    TargetAllowlist.objects.create(organization=cast.organization, entries=entries)

    with pytest.raises(ValidationFailed, match=message) as refused:
        dynamic_secret_create(
            scope=cast.scope(cast.alice),
            environment="dev",
            path="/",
            name="db",
            provider="postgresql",
            definition=Definition(config={**pg_target.config(), **config}, credentials=pg_target.credentials()),
        )
    assert refused.value.fields == {"config.host": [str(refused.value.fields["config.host"][0])]}


def test_the_allowlist_is_for_org_admins_and_names_a_bad_entry(cast: Any) -> None:
    from dynamic.selectors import target_allowlist
    from dynamic.services.targets import target_allowlist_set
    from secrets_app.models import OrganizationMembership, OrgRole
    from secrets_app.principals import Principal

    with pytest.raises(PermissionDenied):
        target_allowlist_set(
            principal=Principal.for_user(cast.bob), organization=cast.organization, entries=["10.0.0.5"]
        )
    OrganizationMembership.objects.filter(user=cast.alice, organization=cast.organization).update(role=OrgRole.ADMIN)
    with pytest.raises(ValidationFailed) as bad:
        target_allowlist_set(
            principal=Principal.for_user(cast.alice), organization=cast.organization, entries=["10.0.0.0/99"]
        )
    assert bad.value.fields == {"entries[0]": ["not a valid CIDR"]}

    saved = target_allowlist_set(
        principal=Principal.for_user(cast.alice),
        organization=cast.organization,
        entries=["DB.Example.com", "10.0.0.0/8"],
    )
    assert saved == target_allowlist(cast.organization.pk) == ["db.example.com", "10.0.0.0/8"]


# --- leasing --------------------------------------------------------------------------------------


def test_a_viewer_and_outsiders_cannot_lease_and_erin_only_in_dev(
    cast: Any, allow_local: None, pg_target: Any, dyn_settings: Any
) -> None:
    from dynamic.services.definitions import Definition, dynamic_secret_create

    secret = define(cast, pg_target)
    with pytest.raises(PermissionDenied):
        _lease(cast, secret, cast.dave)  # a viewer reads names, never values
    with pytest.raises(NotFound):
        from secrets_app.principals import Principal
        from secrets_app.selectors.access import project_scope

        project_scope(Principal.for_user(cast.charlie), "acme")
    staging = dynamic_secret_create(
        scope=cast.scope(cast.alice),
        environment="staging",
        path="/",
        name="db",
        provider="postgresql",
        definition=Definition(config=pg_target.config(), credentials=pg_target.credentials()),
    )
    assert _lease(cast, secret, cast.erin).lease.status == "active"
    with pytest.raises(PermissionDenied):
        _lease(cast, staging, cast.erin)


def test_ttl_rules_follow_infisical(cast: Any, pg_secret: Any) -> None:
    from dynamic.services.leases import lease_renew

    with pytest.raises(ValidationFailed, match="TTL cannot be larger than max TTL"):
        _lease(cast, pg_secret, ttl="25h")
    with pytest.raises(ValidationFailed, match="greater than 1min"):
        _lease(cast, pg_secret, ttl="30s")
    issued = _lease(cast, pg_secret)  # default TTL: 1 h
    lease = issued.lease
    assert abs((lease.expire_at - lease.created_at).total_seconds() - 3600) < 5

    first_expiry = lease.expire_at
    renewed = lease_renew(scope=cast.scope(cast.alice), lease=lease, ttl="2h")
    assert renewed.expire_at == first_expiry + datetime.timedelta(hours=2)  # from the old expiry, not now
    assert renewed.version == 2
    with pytest.raises(ValidationFailed, match="exceed the maximum allowed lease duration"):
        lease_renew(scope=cast.scope(cast.alice), lease=renewed, ttl="22h")
    with pg_admin() as admin:
        valid_until = admin.execute(
            "SELECT rolvaliduntil FROM pg_roles WHERE rolname = %s", (issued.data["DB_USERNAME"],)
        ).fetchone()[0]
    assert abs((valid_until - renewed.expire_at).total_seconds()) < 1


def test_the_live_lease_cap_is_per_dynamic_secret(cast: Any, pg_secret: Any, settings: Any) -> None:
    settings.STRONGROOM_DYNAMIC_MAX_LEASES_PER_SECRET = 2
    _lease(cast, pg_secret)
    _lease(cast, pg_secret)

    with pytest.raises(ValidationFailed, match="Max lease limit reached. Limit: 2"):
        _lease(cast, pg_secret)


def test_a_lease_outlives_its_definition_and_is_revoked_from_its_snapshot(
    cast: Any, pg_secret: Any, pg_target: Any
) -> None:
    from dynamic.models import Lease
    from dynamic.services.definitions import dynamic_secret_delete
    from dynamic.services.revocation import lease_revoke_execute

    issued = _lease(cast, pg_secret)
    outcome = dynamic_secret_delete(scope=cast.scope(cast.alice), secret=pg_secret, force=True)
    assert outcome.deleted and outcome.left_in_place == 1
    lease = Lease.objects.get(pk=issued.lease.pk)
    assert lease.dynamic_secret_id is None and lease.status == "active"
    with pg_login(pg_target, issued.data["DB_USERNAME"], issued.data["DB_PASSWORD"]) as conn:
        conn.execute("SELECT 1")

    Lease.objects.filter(pk=lease.pk).update(expire_at=lease.created_at)  # it expires
    assert lease_revoke_execute(lease_id=lease.pk).status == "revoked"
    assert not pg_role_exists(issued.data["DB_USERNAME"])


def test_deleting_a_definition_revokes_its_leases_first(cast: Any, pg_secret: Any) -> None:
    from audit.models import AuditEvent
    from dynamic.models import Lease
    from dynamic.services.definitions import dynamic_secret_delete

    first, second = _lease(cast, pg_secret), _lease(cast, pg_secret)

    outcome = dynamic_secret_delete(scope=cast.scope(cast.alice), secret=pg_secret)

    assert outcome.deleted and outcome.revoked == 2
    assert set(Lease.objects.values_list("status", flat=True)) == {"revoked"}
    assert not pg_role_exists(first.data["DB_USERNAME"]) and not pg_role_exists(second.data["DB_USERNAME"])
    deleted = AuditEvent.objects.get(action="dynamic_secret.deleted")
    assert deleted.metadata["forced"] is False and deleted.metadata["leases_revoked"] == 2


def test_no_password_reaches_the_audit_log_the_lease_row_or_a_log_line(
    cast: Any, pg_secret: Any, pg_target: Any, caplog: Any
) -> None:
    import logging

    from audit.models import AuditEvent
    from dynamic.models import Lease
    from dynamic.services.leases import lease_renew, lease_revoke

    caplog.set_level(logging.DEBUG)
    issued = _lease(cast, pg_secret)
    lease_renew(scope=cast.scope(cast.alice), lease=issued.lease)
    lease_revoke(scope=cast.scope(cast.alice), lease=Lease.objects.get(pk=issued.lease.pk))

    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert {"dynamic_secret.created", "lease.created", "lease.renewed", "lease.revoked"} <= set(actions)
    created = AuditEvent.objects.get(action="lease.created")
    assert created.metadata["username"] == issued.data["DB_USERNAME"] and "expire_at" in created.metadata
    dump = repr(list(AuditEvent.objects.values())) + repr(list(Lease.objects.values()))
    assert issued.data["DB_PASSWORD"] not in dump
    assert pg_target.password not in dump
    assert issued.data["DB_PASSWORD"] not in repr(issued)
    assert issued.data["DB_PASSWORD"] not in caplog.text and pg_target.password not in caplog.text


def test_a_lease_whose_definition_is_gone_cannot_be_renewed(cast: Any, pg_secret: Any) -> None:
    from dynamic.models import Lease
    from dynamic.services.definitions import dynamic_secret_delete
    from dynamic.services.leases import lease_renew

    issued = _lease(cast, pg_secret)
    dynamic_secret_delete(scope=cast.scope(cast.alice), secret=pg_secret, force=True)

    with pytest.raises(ValidationFailed, match="dynamic secret was deleted"):
        lease_renew(scope=cast.scope(cast.alice), lease=Lease.objects.get(pk=issued.lease.pk))
