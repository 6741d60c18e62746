"""The REST API end to end: create (root credentials tested live, target allowlist, the root
password never returned), list, get, rotate now (202; 409 while a run holds it), pause, resume,
attempts, patch, delete; members may read but not manage.

PYTEST_DONT_REWRITE: these assertions handle real passwords, so a failure reports the line, never the
values pytest's rewriting would print.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import error_of
from tests.rotation.conftest import RotationTarget, login, owned_values
from tests.support.celery_worker import eager  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
BASE = "/api/v1/projects/acme/rotations/"


def _body(target: RotationTarget, **extra: Any) -> dict[str, Any]:
    return {
        "environment": "dev",
        "path": "/",
        "name": "app-db",
        "kind": "mysql",
        "config": target.db.config(),
        "credentials": target.db.credentials(),
        "usernames": target.users,
        "secretsMapping": {"username": "DB_USERNAME", "password": "DB_PASSWORD"},
        "intervalDays": 30,
        "rotateAtUtc": {"hours": 3, "minutes": 30},
        **extra,
    }


def test_a_rotation_over_the_api(
    cast: Any,
    api: Any,
    allow_local: None,
    mysql_rotation_target: RotationTarget,
    eager: None,  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    target = mysql_rotation_target
    alice, bob = api(cast.alice), api(cast.bob)
    assert bob.post(BASE, _body(target), format="json").status_code == 403

    created = alice.post(BASE, _body(target), format="json")
    assert created.status_code == 201, created.content
    rotation = created.json()
    assert target.db.password not in created.content.decode()
    assert (rotation["status"], rotation["activeIndex"], rotation["rotateAtUtc"]) == (
        "new",
        None,
        {"hours": 3, "minutes": 30},
    )
    assert bob.get(BASE).json()["rotations"][0]["id"] == rotation["id"]  # members read definitions

    with django_capture_on_commit_callbacks(execute=True):
        rotated = alice.post(f"{BASE}{rotation['id']}/rotate/", {}, format="json")
    assert rotated.status_code == 202, rotated.content
    values = owned_values(cast)
    assert values["DB_USERNAME"] == target.users[0] and login(target, target.users[0], values["DB_PASSWORD"])
    attempts = alice.get(f"{BASE}{rotation['id']}/attempts/").json()["attempts"]
    assert [(a["trigger"], a["outcome"]) for a in attempts] == [("manual", "success")]
    assert values["DB_PASSWORD"] not in alice.get(f"{BASE}{rotation['id']}/").content.decode()

    from django.utils import timezone

    from rotation.services.engine import _claim

    _claim(cast.project.rotations.get().pk, timezone.now())  # a run holds it
    held = alice.post(f"{BASE}{rotation['id']}/rotate/", {}, format="json")
    assert held.status_code == 409 and "already running" in error_of(held)["message"]
    assert alice.delete(f"{BASE}{rotation['id']}/").status_code == 409
    cast.project.rotations.update(locked_until=None)

    paused = alice.post(f"{BASE}{rotation['id']}/pause/", {}, format="json").json()
    assert paused["paused"] and paused["nextRunAt"] is None
    resumed = alice.post(f"{BASE}{rotation['id']}/resume/", {}, format="json").json()
    assert not resumed["paused"] and resumed["nextRunAt"]
    patched = alice.patch(f"{BASE}{rotation['id']}/", {"cron": "0 4 * * 1"}, format="json")
    assert patched.status_code == 200 and patched.json()["cron"] == "0 4 * * 1"
    assert alice.patch(f"{BASE}{rotation['id']}/", {"cron": "nope"}, format="json").status_code == 400

    assert alice.delete(f"{BASE}{rotation['id']}/").status_code == 200
    assert owned_values(cast) == values  # the owned secrets stay
    from audit.models import AuditEvent

    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"rotation.created", "rotation.rotate_requested", "rotation.rotated", "rotation.deleted"} <= actions
    assert values["DB_PASSWORD"] not in str(list(AuditEvent.objects.values_list("metadata", flat=True)))


def test_create_refuses_a_target_off_the_allowlist_and_bad_root_credentials(
    cast: Any, api: Any, mysql_rotation_target: RotationTarget
) -> None:
    from dynamic.models import TargetAllowlist

    alice = api(cast.alice)
    refused = alice.post(BASE, _body(mysql_rotation_target), format="json")
    assert refused.status_code == 400, refused.content

    TargetAllowlist.objects.update_or_create(organization=cast.organization, defaults={"entries": ["127.0.0.1/32"]})
    wrong = alice.post(BASE, _body(mysql_rotation_target, credentials={"password": "wrong-password"}), format="json")
    assert wrong.status_code == 400 and "wrong-password" not in wrong.content.decode()
    assert all(login(mysql_rotation_target, u, mysql_rotation_target.passwords[u]) for u in mysql_rotation_target.users)
