"""The access epoch (access_cache): what a token-authenticated request may see is cached per
process per epoch, and every change to the rows that shape access ends the epoch in the same
commit. These tests run in autocommit (transaction=True), as the server does, so the cache is in
play: each one first makes a request that fills it, then changes access, and the very next request
must see the change."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from access_cache.store import access_cache
from secrets_app.models import (
    Folder,
    IdentityAccessToken,
    IdentityProjectMembership,
    MachineIdentity,
    OrganizationMembership,
    OrgRole,
    TemporaryAccessGrant,
)
from secrets_app.services.secrets import SecretInput, secret_create
from tests.compat.conftest import BASE, login, make_machine

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the access epoch is PostgreSQL's"),
]

URL = f"{BASE}/api/v3/secrets/raw"


def epoch() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM strongroom_access_epoch WHERE id = 1")
        return int(cursor.fetchone()[0])


@pytest.fixture
def world(cast: Any) -> Any:
    scope = cast.scope(cast.alice)
    secret_create(scope=scope, environment="prod", path="/", item=SecretInput(key="DB_PASSWORD", value="s3cr3t-v4lue"))
    secret_create(scope=scope, environment="prod", path="/", item=SecretInput(key="API_TOKEN", value="t0k3n-v4lue"))
    return cast


def _auth(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def get_one(client: Any, project: Any, token: str, key: str = "DB_PASSWORD") -> Any:
    return client.get(f"{URL}/{key}", {"workspaceId": str(project.public_id), "environment": "prod"}, **_auth(token))


def list_all(client: Any, project: Any, token: str) -> Any:
    return client.get(URL, {"workspaceId": str(project.public_id), "environment": "prod"}, **_auth(token))


def machine_token(client: Any, cast: Any, role: str = "admin", name: str = "ci") -> tuple[Any, str]:
    machine = make_machine(cast.project, name, role)
    return machine.identity, login(client, machine)


def test_a_get_one_and_a_list_cost_three_statements_once_the_cache_is_warm(client: Any, world: Any) -> None:
    _identity, token = machine_token(client, world)
    assert get_one(client, world.project, token).status_code == 200  # fills the cache
    assert list_all(client, world.project, token).status_code == 200
    for request in (get_one, list_all):
        with CaptureQueriesContext(connection) as queries:
            response = request(client, world.project, token)
        assert response.status_code == 200
        statements = [query["sql"].split()[0].upper() for query in queries.captured_queries]
        # The token check (with the epoch), the one data read, the audit INSERT.
        assert statements == ["SELECT", "SELECT", "INSERT"], queries.captured_queries
    values = {
        item["secretKey"]: item["secretValue"] for item in list_all(client, world.project, token).json()["secrets"]
    }
    assert values == {"API_TOKEN": "t0k3n-v4lue", "DB_PASSWORD": "s3cr3t-v4lue"}


def test_the_native_api_reads_cost_three_statements_with_a_personal_token(
    client: Any, world: Any, token_for: Any
) -> None:
    token = token_for(world.alice)
    base = f"/api/v1/projects/{world.project.slug}/secrets/"
    one = (f"{base}DB_PASSWORD/", {"environment": "prod", "path": "/"})
    many = (base, {"environment": "prod", "path": "/", "include_values": "true"})
    for url, params in (one, many, one, many):  # the first two fill the cache
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, params, **_auth(token))
        assert response.status_code == 200, response.content
    for url, params in (one, many):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, params, **_auth(token))
        statements = [query["sql"].split()[0].upper() for query in queries.captured_queries]
        assert statements == ["SELECT", "SELECT", "INSERT"], queries.captured_queries
    assert response.json()["secrets"][1] | {"createdAt": None, "updatedAt": None} == {
        "key": "DB_PASSWORD",
        "type": "shared",
        "version": 1,
        "environment": "prod",
        "path": "/",
        "tags": [],
        "ownerLabel": "",
        "purpose": "",
        "expiresAt": None,
        "createdAt": None,
        "updatedAt": None,
        "importedFrom": None,
        "value": "s3cr3t-v4lue",
        "comment": None,
    }


def test_the_epoch_moves_with_access_changes_and_not_with_secret_writes(world: Any) -> None:
    before = epoch()
    secret_create(scope=world.scope(world.alice), environment="prod", path="/", item=SecretInput(key="MORE", value="x"))
    assert epoch() == before, "writing a secret does not change who may read what"
    OrganizationMembership.objects.filter(user=world.dave).update(role=OrgRole.ADMIN)
    after = epoch()
    assert after > before
    with transaction.atomic():
        OrganizationMembership.objects.filter(user=world.dave).update(role=OrgRole.MEMBER)
        assert epoch() == after, "the epoch moves at COMMIT, with the change"
    assert epoch() > after


def test_a_revoked_token_is_refused_on_the_next_request(client: Any, world: Any) -> None:
    _identity, token = machine_token(client, world)
    assert get_one(client, world.project, token).status_code == 200
    IdentityAccessToken.objects.update(revoked_at=timezone.now())
    assert get_one(client, world.project, token).status_code == 401


def test_a_deactivated_identity_is_refused_on_the_next_request(client: Any, world: Any) -> None:
    identity, token = machine_token(client, world)
    assert get_one(client, world.project, token).status_code == 200
    MachineIdentity.objects.filter(pk=identity.pk).update(is_active=False)
    assert get_one(client, world.project, token).status_code == 401


def test_a_removed_membership_takes_effect_on_the_next_request(client: Any, world: Any) -> None:
    identity, token = machine_token(client, world)
    assert get_one(client, world.project, token).status_code == 200
    hits = access_cache.hits
    assert get_one(client, world.project, token).status_code == 200
    assert access_cache.hits > hits, "the second request was served from the cache"
    IdentityProjectMembership.objects.filter(identity=identity).delete()
    response = get_one(client, world.project, token)
    assert response.status_code == 404
    assert "s3cr3t" not in response.content.decode()


def test_a_downgraded_role_takes_effect_on_the_next_request(client: Any, world: Any) -> None:
    identity, token = machine_token(client, world)
    assert get_one(client, world.project, token).json()["secret"]["secretValue"] == "s3cr3t-v4lue"
    IdentityProjectMembership.objects.filter(identity=identity).update(builtin_role="no-access")
    assert get_one(client, world.project, token).status_code == 404


def test_a_person_removed_as_org_admin_loses_the_project_on_the_next_request(
    client: Any, world: Any, token_for: Any
) -> None:
    OrganizationMembership.objects.filter(user=world.charlie).update(role=OrgRole.ADMIN)
    token = token_for(world.charlie)
    assert get_one(client, world.project, token).status_code == 200
    OrganizationMembership.objects.filter(user=world.charlie).update(role=OrgRole.MEMBER)
    assert get_one(client, world.project, token).status_code == 404


def test_a_deleted_folder_is_gone_on_the_next_request(client: Any, world: Any) -> None:
    from secrets_app.services.folders import folder_create

    scope = world.scope(world.alice)
    folder_create(scope=scope, environment="prod", path="/", name="api")
    secret_create(scope=scope, environment="prod", path="/api", item=SecretInput(key="K", value="v"))
    _identity, token = machine_token(client, world)
    params = {"workspaceId": str(world.project.public_id), "environment": "prod", "secretPath": "/api"}
    assert client.get(f"{URL}/K", params, **_auth(token)).status_code == 200
    Folder.objects.filter(path="/api").delete()
    assert client.get(f"{URL}/K", params, **_auth(token)).status_code == 404


def test_a_temporary_grant_ends_on_time_with_no_write(client: Any, world: Any) -> None:
    identity, token = machine_token(client, world, role="no-access")
    assert get_one(client, world.project, token).status_code == 404
    now = timezone.now()
    TemporaryAccessGrant.objects.create(
        project=world.project,
        identity=identity,
        rules=[{"effect": "allow", "action": "secrets.*"}],
        starts_at=now - datetime.timedelta(seconds=1),
        ends_at=now + datetime.timedelta(seconds=2),
        reason="incident",
    )
    assert get_one(client, world.project, token).json()["secret"]["secretValue"] == "s3cr3t-v4lue"
    assert get_one(client, world.project, token).status_code == 200  # served from the cache
    time.sleep(max(0.0, (now + datetime.timedelta(seconds=2.1) - timezone.now()).total_seconds()))
    assert get_one(client, world.project, token).status_code == 404  # no row changed


def test_nothing_computed_inside_a_rolled_back_transaction_is_served_later(client: Any, world: Any) -> None:
    from secrets_app.principals import Principal
    from secrets_app.selectors.access import project_scope

    identity, token = machine_token(client, world, role=None)
    assert get_one(client, world.project, token).status_code == 404
    with pytest.raises(RuntimeError), transaction.atomic():
        IdentityProjectMembership.objects.create(project=world.project, identity=identity, builtin_role="admin")
        with connection.cursor() as cursor:
            cursor.execute("SELECT version FROM strongroom_access_epoch WHERE id = 1")
            inside = cursor.fetchone()[0]
        # What a request inside this transaction would cache: access it will never have.
        scope = project_scope(Principal.for_identity(identity, access_epoch=inside), str(world.project.public_id))
        assert scope.access.role == "admin"
        raise RuntimeError("roll back")
    assert get_one(client, world.project, token).status_code == 404
    # A later committed change takes a new epoch, never the rolled-back one.
    OrganizationMembership.objects.filter(user=world.dave).update(role=OrgRole.ADMIN)
    assert epoch() > inside
    assert get_one(client, world.project, token).status_code == 404


def test_a_new_change_policy_holds_the_very_next_write(client: Any, world: Any) -> None:
    from approvals.services.policies import MemberRef, approval_policy_create
    from secrets_app.models import Secret

    _identity, token = machine_token(client, world)

    def create(key: str) -> Any:
        return client.post(
            f"{URL}/{key}",
            {"workspaceId": str(world.project.public_id), "environment": "prod", "secretValue": "v"},
            content_type="application/json",
            **_auth(token),
        )

    assert create("FIRST").status_code == 200  # no policy: applied, and the lookup cached
    assert create("SECOND").status_code == 200
    approval_policy_create(
        scope=world.scope(world.alice),
        name="prod changes",
        environments=["prod"],
        approvers=[MemberRef(kind="user", ref=world.bob.email)],
    )
    held = create("THIRD")
    assert "approval" in held.json(), held.content
    assert not Secret.objects.filter(key="THIRD").exists()


def test_a_sync_saved_whole_moves_the_epoch_only_when_it_starts_or_stops_following(world: Any) -> None:
    from syncs.models import AppConnection, SecretSync, SyncStatus

    connection_row = AppConnection.objects.create(
        organization=world.organization, kind="azure_devops", method="pat", name="ado", credentials_ciphertext=b"x"
    )
    sync = SecretSync.objects.create(
        project=world.project,
        environment=world.project.environments.get(slug="dev"),
        connection=connection_row,
        owner=world.alice,
        name="app",
        target_key="a",
        auto_sync=False,
    )
    before = epoch()
    sync.status = SyncStatus.SUCCEEDED
    sync.last_success_at = timezone.now()
    sync.save()  # every column written, as a sync run does
    assert epoch() == before
    sync.auto_sync = True
    sync.save()
    assert epoch() > before


def test_every_watched_table_has_its_epoch_triggers() -> None:
    from access_cache.epoch import WATCHED

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname LIKE %s",
            ["%_access_epoch%"],
        )
        found: dict[str, set[str]] = {}
        for table, trigger in cursor.fetchall():
            found.setdefault(table, set()).add(trigger.removeprefix(f"{table}_"))
    assert set(found) == set(WATCHED)
    for table in WATCHED:
        # Row changes (at COMMIT) and TRUNCATE (a table may also have its UPDATE trigger apart).
        assert {"access_epoch", "access_epoch_truncate"} <= found[table], table


def test_an_identity_whose_id_equals_an_org_admins_user_id_never_gets_the_admins_cached_access(
    client: Any, world: Any, token_for: Any
) -> None:
    from django.db import connection as db

    OrganizationMembership.objects.filter(user=world.charlie).update(role=OrgRole.ADMIN)
    person_token = token_for(world.charlie)
    assert get_one(client, world.project, person_token).status_code == 200  # caches charlie's admin scope
    identity = MachineIdentity.objects.create(organization=world.organization, name="same-id")
    # Give the identity charlie's primary key (people and identities live in two tables).
    with db.cursor() as cursor:
        cursor.execute("UPDATE secrets_app_machineidentity SET id = %s WHERE id = %s", [world.charlie.pk, identity.pk])
    identity = MachineIdentity.objects.get(pk=world.charlie.pk)
    from secrets_app.identities.services import client_secret_create_as, universal_auth_configure_as
    from tests.compat.conftest import SYSTEM, Machine

    config, _created = universal_auth_configure_as(actor=SYSTEM, identity=identity, changes={})
    _row, raw = client_secret_create_as(actor=SYSTEM, identity=identity, description="tests")
    machine_token_value = login(client, Machine(identity=identity, client_id=str(config.client_id), client_secret=raw))
    assert get_one(client, world.project, person_token).status_code == 200  # still cached for the person
    response = get_one(client, world.project, machine_token_value)
    assert response.status_code == 404
    assert "s3cr3t" not in response.content.decode()


def test_another_organizations_admin_and_a_lower_role_get_nothing_from_a_warm_cache(
    client: Any, world: Any, token_for: Any
) -> None:
    admin = token_for(world.alice)
    assert get_one(client, world.project, admin).json()["secret"]["secretValue"] == "s3cr3t-v4lue"  # warm
    outsider = get_one(client, world.project, token_for(world.mallory))  # admin of another organization
    assert outsider.status_code == 404
    assert "s3cr3t" not in outsider.content.decode()
    _identity, viewer = machine_token(client, world, role="no-access", name="ci-none")
    assert get_one(client, world.project, viewer).status_code == 404
    assert get_one(client, world.project, admin).status_code == 200  # the admin's entry is untouched
