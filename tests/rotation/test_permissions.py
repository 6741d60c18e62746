"""Rotations have their own permissions: ``rotations.manage`` (define, change, pause, resume,
delete: the target's root credentials) and ``rotations.rotate`` ("Rotate now"), both project-wide.
The built-in admin holds both through ``*``; member and viewer hold neither; a custom on-call role
with ``rotations.rotate`` alone rotates but never changes or deletes a rotation. Against the
machine's MariaDB (it checks passwords), over /api/v1 and the Infisical compat route.

PYTEST_DONT_REWRITE: these assertions handle real passwords, so a failure reports the line, never the
values pytest's rewriting would print.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from audit.models import AuditEvent
from rotation.models import Rotation
from tests.api.conftest import error_of
from tests.compat.conftest import BASE as COMPAT
from tests.compat.conftest import login as compat_login
from tests.compat.conftest import make_machine
from tests.rotation.conftest import RotationTarget, define_rotation, owned_values
from tests.rotation.conftest import login as db_login
from tests.support.celery_worker import eager  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
API = "/api/v1/projects/acme/rotations/"
ON_CALL_RULES = [{"action": "secrets.read"}, {"action": "rotations.rotate"}]


def on_call(cast: Any, user: Any) -> None:
    """Give *user* the custom role ``on-call``: read definitions, press "Rotate now"."""
    from secrets_app.models import ProjectMembership
    from secrets_app.services.members import member_update, role_create

    role_create(scope=cast.scope(cast.alice), slug="on-call", name="On call", rules=ON_CALL_RULES)
    membership = ProjectMembership.objects.get(project=cast.project, user=user)
    member_update(scope=cast.scope(cast.alice), membership_id=membership.pk, role="on-call")


def _denials(action: str) -> int:
    return AuditEvent.objects.filter(action="permission.denied", metadata__requested_action=action).count()


def test_the_vocabulary_and_the_built_in_roles() -> None:
    from secrets_app.policy import ACTIONS, BUILTIN_RULES, ProjectAccess, is_scoped
    from secrets_app.ui.forms import RULE_ACTIONS

    assert ACTIONS["rotations.manage"].startswith("Define, change and delete credential rotations")
    assert ACTIONS["rotations.rotate"] == "Rotate a credential now"
    assert {"rotations.manage", "rotations.rotate"} <= set(RULE_ACTIONS)  # the role editor offers them
    # Asked like dynamic_secrets.manage: of the whole project, whatever place is given.
    assert not is_scoped("rotations.manage") and not is_scoped("rotations.rotate")
    for role, expected in (("admin", True), ("member", False), ("viewer", False), ("no-access", False)):
        access = ProjectAccess(project_id=1, role=role, rules=BUILTIN_RULES[role])
        for action in ("rotations.manage", "rotations.rotate"):
            assert access.can(action, environment="prod", path="/db", tags=()) is expected, (role, action)


def test_custom_roles_over_the_api_accept_the_rotation_actions(cast: Any, api: Any) -> None:
    alice = api(cast.alice)
    roles = "/api/v1/projects/acme/roles/"
    created = alice.post(
        roles,
        {
            "slug": "on-call",
            "name": "On call",
            "rules": [*ON_CALL_RULES, {"action": "rotations.manage", "effect": "deny"}],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert [rule["action"] for rule in created.json()["rules"]] == [
        "secrets.read",
        "rotations.rotate",
        "rotations.manage",
    ]
    # Project-wide, as dynamic_secrets.manage: a rule limited to an environment is refused.
    scoped = alice.post(
        roles, {"slug": "prod-rotator", "rules": [{"action": "rotations.*", "environments": ["prod"]}]}, format="json"
    )
    assert scoped.status_code == 400 and "project-wide" in error_of(scoped)["fields"]["rules[0].action"][0]
    unknown = alice.post(roles, {"slug": "bad", "rules": [{"action": "rotations.rotat"}]}, format="json")
    assert unknown.status_code == 400 and list(error_of(unknown)["fields"]) == ["rules[0].action"]
    # bob (member) has no roles.manage, let alone the rotation actions to hand out.
    assert (
        api(cast.bob)
        .post(roles, {"slug": "mine", "rules": [{"action": "rotations.rotate"}]}, format="json")
        .status_code
        == 403
    )


def test_an_on_call_role_rotates_now_but_may_not_define_change_or_delete(
    cast: Any,
    api: Any,
    allow_local: None,
    mysql_rotation_target: RotationTarget,
    eager: None,  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    from secrets_app.services.members import role_create

    target = mysql_rotation_target
    rotation = define_rotation(cast, target, name="app-db")
    on_call(cast, cast.dave)
    dave = api(cast.dave)
    item = f"{API}{rotation.public_id}/"

    seen = dave.get(item)
    assert seen.status_code == 200 and "credentials" not in seen.json()
    assert target.db.password not in seen.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        rotated = dave.post(f"{item}rotate/", {}, format="json")
    assert rotated.status_code == 202, rotated.content
    values = owned_values(cast)
    assert values["DB_USERNAME"] == target.users[0] and db_login(target, target.users[0], values["DB_PASSWORD"])
    assert AuditEvent.objects.filter(action="rotation.rotate_requested", actor_label=cast.dave.email).exists()

    before = _denials("rotations.manage")
    body = {
        "environment": "dev",
        "name": "other-db",
        "kind": "mysql",
        "config": target.db.config(),
        "credentials": target.db.credentials(),
        "usernames": target.users,
        "secretsMapping": {"username": "OTHER_USERNAME", "password": "OTHER_PASSWORD"},
    }
    refusals = [
        dave.post(API, body, format="json"),
        dave.patch(item, {"intervalDays": 7, "credentials": {"password": "x" * 20}}, format="json"),
        dave.post(f"{item}pause/", {}, format="json"),
        dave.post(f"{item}resume/", {}, format="json"),
        dave.delete(item),
    ]
    for refused in refusals:
        assert refused.status_code == 403, refused.content
        assert "rotations.manage" in error_of(refused)["message"]
    assert _denials("rotations.manage") == before + len(refusals)
    stored = Rotation.objects.get()
    assert (stored.name, stored.interval_days, stored.paused) == ("app-db", 30, False)

    # rotations.manage alone implies rotating (no rotations.rotate rule needed).
    role_create(
        scope=cast.scope(cast.alice),
        slug="rotation-admin",
        name="Rotation admin",
        rules=[{"action": "secrets.read"}, {"action": "rotations.manage"}],
    )
    from secrets_app.models import ProjectMembership
    from secrets_app.services.members import member_update

    membership = ProjectMembership.objects.get(project=cast.project, user=cast.erin)
    member_update(scope=cast.scope(cast.alice), membership_id=membership.pk, role="rotation-admin")
    with django_capture_on_commit_callbacks(execute=True):
        assert api(cast.erin).post(f"{item}rotate/", {}, format="json").status_code == 202
    assert api(cast.erin).post(f"{item}pause/", {}, format="json").status_code == 200


def test_a_member_may_neither_manage_nor_rotate_and_is_told_which_permission(
    cast: Any, api: Any, allow_local: None, mysql_rotation_target: RotationTarget
) -> None:
    rotation = define_rotation(cast, mysql_rotation_target, name="app-db")
    bob = api(cast.bob)
    before_rotate, before_manage = _denials("rotations.rotate"), _denials("rotations.manage")

    rotate = bob.post(f"{API}{rotation.public_id}/rotate/", {}, format="json")
    assert rotate.status_code == 403
    message = error_of(rotate)["message"]
    assert "rotations.rotate" in message and "dynamic" not in message
    pause = bob.post(f"{API}{rotation.public_id}/pause/", {}, format="json")
    assert pause.status_code == 403 and "rotations.manage" in error_of(pause)["message"]
    assert (_denials("rotations.rotate"), _denials("rotations.manage")) == (before_rotate + 1, before_manage + 1)
    assert Rotation.objects.get().status == "new" and not rotation.attempts.exists()


def test_the_compat_rotate_route_follows_rotations_rotate(
    cast: Any, allow_local: None, mysql_rotation_target: RotationTarget, django_capture_on_commit_callbacks: Any
) -> None:
    from secrets_app.models import IdentityProjectMembership
    from secrets_app.services.members import role_create

    rotation = define_rotation(cast, mysql_rotation_target, name="app-db")
    role = role_create(scope=cast.scope(cast.alice), slug="on-call", name="On call", rules=ON_CALL_RULES)
    machine = make_machine(cast.project, "pager", "member")
    url = f"{COMPAT}/api/v2/secret-rotations/mysql-credentials/{rotation.public_id}/rotate-secrets"
    client = Client()
    token = compat_login(client, machine)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    refused = client.post(url, "", content_type="application/json", **headers)
    assert refused.status_code == 403 and "rotations.rotate" in refused.json()["message"]

    IdentityProjectMembership.objects.filter(identity=machine.identity).update(builtin_role="", custom_role=role)
    with django_capture_on_commit_callbacks() as queued:
        answered = client.post(url, "", content_type="application/json", **headers)
    assert answered.status_code == 200, answered.content
    assert answered.json()["secretRotation"]["rotationStatus"] == "queued" and len(queued) == 1


def test_an_upgrade_keeps_what_custom_roles_could_do_with_rotations(cast: Any) -> None:
    """Before rotations had actions of their own they asked dynamic_secrets.manage: migration
    secrets_app 0014 gives each such rule a rotations.manage twin, an allow and a deny alike (a deny
    also stops rotations.rotate, which the old action covered)."""
    import importlib

    from django.apps import apps

    from secrets_app.models import ProjectMembership, RoleRule
    from secrets_app.services.members import member_update, role_create

    scope = cast.scope(cast.alice)
    role_create(scope=scope, slug="dba", name="DBA", rules=[{"action": "dynamic_secrets.manage"}])
    role_create(
        scope=scope,
        slug="almost-admin",
        name="Almost admin",
        rules=[{"action": "*"}, {"action": "dynamic_secrets.*", "effect": "deny"}],
    )
    for user, role in ((cast.bob, "dba"), (cast.dave, "almost-admin")):
        membership = ProjectMembership.objects.get(project=cast.project, user=user)
        member_update(scope=scope, membership_id=membership.pk, role=role)
    assert not cast.scope(cast.bob).access.can("rotations.manage")  # what the new action alone would do

    migration = importlib.import_module("secrets_app.migrations.0014_rotation_actions")
    migration.forward(apps, None)
    migration.forward(apps, None)  # twice: no second twin

    from rotation.services.permissions import can_manage_rotations, can_rotate

    assert list(RoleRule.objects.filter(action="rotations.manage").values_list("role__slug", "effect")) == [
        ("dba", "allow"),
        ("almost-admin", "deny"),
    ]
    assert can_manage_rotations(cast.scope(cast.bob)) and can_rotate(cast.scope(cast.bob))
    assert not can_manage_rotations(cast.scope(cast.dave)) and not can_rotate(cast.scope(cast.dave))


def test_an_identity_whose_id_is_an_admins_user_id_gets_nothing_of_the_admins_rights(
    cast: Any, allow_local: None, mysql_rotation_target: RotationTarget, django_capture_on_commit_callbacks: Any
) -> None:
    """Identities and people are told apart by kind, never by id: an identity outside the project
    whose primary key equals alice's (a project admin) sees no rotation and queues nothing."""
    from secrets_app.identities.services import client_secret_create_as, universal_auth_configure_as
    from secrets_app.models import MachineIdentity
    from tests.compat.conftest import SYSTEM, Machine

    rotation = define_rotation(cast, mysql_rotation_target, name="app-db")
    assert not MachineIdentity.objects.filter(pk=cast.alice.pk).exists()
    identity = MachineIdentity.objects.create(pk=cast.alice.pk, organization=cast.project.organization, name="twin")
    config, _created = universal_auth_configure_as(actor=SYSTEM, identity=identity, changes={})
    _row, raw = client_secret_create_as(actor=SYSTEM, identity=identity, description="tests")
    client = Client()
    token = compat_login(client, Machine(identity=identity, client_id=str(config.client_id), client_secret=raw))
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    with django_capture_on_commit_callbacks() as queued:
        compat = client.post(
            f"{COMPAT}/api/v2/secret-rotations/mysql-credentials/{rotation.public_id}/rotate-secrets",
            "",
            content_type="application/json",
            **headers,
        )
        v1 = client.post(f"{API}{rotation.public_id}/rotate/", {}, content_type="application/json", **headers)
        listed = client.get(API, **headers)
    assert compat.status_code == 404 and v1.status_code == 404 and listed.status_code == 404
    assert queued == [] and rotation.name not in listed.content.decode()
