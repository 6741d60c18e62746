"""Entra application client secrets against the local Entra token endpoint + Microsoft Graph
emulator over HTTPS: a secret the kind issues gets a token as the application, a deleted one is
refused with AADSTS7000215, the kind only ever sees the keys it labelled, and the admin
application's credentials and permission are proved on save.

PYTEST_DONT_REWRITE: these assertions handle real client secrets, so a failure reports the line,
never the values pytest's rewriting would print.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.emulators.entra_graph import EntraApplication, EntraGraphEmulator
from tests.support.celery_worker import require_postgres
from tests.support.crash_runner import run_killed_at

pytestmark = pytest.mark.django_db

MANAGE = ("Application.ReadWrite.All",)


@pytest.fixture
def entra(monkeypatch: pytest.MonkeyPatch) -> Iterator[EntraGraphEmulator]:
    """The emulator, its self-signed CA trusted as production trusts a private CA."""
    emulator = EntraGraphEmulator()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_file)
    try:
        yield emulator
    finally:
        emulator.stop()


@dataclass
class Scene:
    """An admin application allowed to manage applications, and the application whose secrets rotate."""

    entra: EntraGraphEmulator
    admin: EntraApplication
    admin_secret: str = field(repr=False)
    app: EntraApplication

    def config(self, **overrides: str) -> dict[str, str]:
        return {
            "tenantId": self.entra.tenant_id,
            "objectId": self.app.id,
            "clientId": self.app.app_id,
            "adminClientId": self.admin.app_id,
            "authorityUrl": self.entra.url,
            "graphUrl": self.entra.url,
            **overrides,
        }

    def signs_in(self, secret: str) -> bool:
        return self.entra.client_credentials(self.app.app_id, secret) == 200


def make_scene(entra: EntraGraphEmulator, roles: tuple[str, ...] = MANAGE) -> Scene:
    admin = entra.add_application("strongroom-admin", roles=roles)
    secret = entra.add_password(admin, "strongroom").secret_text
    return Scene(entra, admin, secret, entra.add_application("payments-api"))


@pytest.fixture
def scene(entra: EntraGraphEmulator, allow_local: None) -> Scene:
    return make_scene(entra)


def _target(cast: Any, scene: Scene, secret: str | None = None, **config: str) -> Any:
    from rotation.kinds.azure_client_secret import AzureClientSecret

    return AzureClientSecret().target(
        organization_id=cast.organization.pk,
        config=scene.config(**config),
        credentials={"adminClientSecret": scene.admin_secret if secret is None else secret},
    )


def _kind() -> Any:
    from rotation.kinds.azure_client_secret import AzureClientSecret

    return AzureClientSecret()


def test_an_issued_secret_gets_a_token_until_it_is_deleted(cast: Any, scene: Scene) -> None:
    from rotation.kinds.base import ProviderError

    kind, target = _kind(), _target(cast, scene)

    issued = kind.issue(target, principal=scene.app.id, label="strongroom-rotation-a")
    kind.verify(target, principal=scene.app.id, credential=issued)

    assert scene.signs_in(issued.secret)
    assert kind.list_key_ids(target, principal=scene.app.id, label="strongroom-rotation-a") == [issued.key_id]
    assert issued.expires_at  # Entra gives every secret an end
    # Graph shows the key afterwards, never its secret again.
    document = requests.get(
        f"{scene.entra.url}/v1.0/applications/{scene.app.id}",
        headers={"Authorization": f"Bearer {_admin_token(scene)}"},
        verify=scene.entra.ca_file,
        timeout=10,
    ).json()
    (shown,) = document["passwordCredentials"]
    assert shown["keyId"] == issued.key_id and shown["secretText"] is None
    assert shown["displayName"] == "strongroom-rotation-a" and shown["hint"] == issued.secret[:3]

    kind.delete(target, principal=scene.app.id, key_id=issued.key_id)

    assert not scene.signs_in(issued.secret)
    assert scene.entra.client_credentials(scene.app.app_id, issued.secret) == 401
    assert kind.list_key_ids(target, principal=scene.app.id, label="strongroom-rotation-a") == []
    kind.delete(target, principal=scene.app.id, key_id=issued.key_id)  # already gone: success
    del scene.entra.applications[scene.app.id]  # the application itself deleted in the tenant
    with pytest.raises(ProviderError, match="no application with that objectId"):
        kind.delete(target, principal=scene.app.id, key_id=issued.key_id)


def _admin_token(scene: Scene) -> str:
    answer = requests.post(
        f"{scene.entra.url}/{scene.entra.tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": scene.admin.app_id,
            "client_secret": scene.admin_secret,
            "scope": "https://graph.microsoft.com/.default",
        },
        verify=scene.entra.ca_file,
        timeout=10,
    )
    return str(answer.json()["access_token"])


def _remove_by_hand(scene: Scene, key_id: str) -> None:
    """What an administrator does in the portal: Graph's removePassword, outside the rotation."""
    removed = requests.post(
        f"{scene.entra.url}/v1.0/applications/{scene.app.id}/removePassword",
        json={"keyId": key_id},
        headers={"Authorization": f"Bearer {_admin_token(scene)}"},
        verify=scene.entra.ca_file,
        timeout=10,
    )
    assert removed.status_code == 204 and key_id not in scene.app.key_ids()


def test_it_lists_and_deletes_only_the_keys_of_its_own_label(cast: Any, scene: Scene) -> None:
    kind, target = _kind(), _target(cast, scene)
    someone_elses = scene.entra.add_password(scene.app, "ci-pipeline")
    unnamed = scene.entra.add_password(scene.app, "")
    other_rotation = kind.issue(target, principal=scene.app.id, label="strongroom-rotation-b")
    mine = [kind.issue(target, principal=scene.app.id, label="strongroom-rotation-a") for _ in range(2)]

    listed = kind.list_key_ids(target, principal=scene.app.id, label="strongroom-rotation-a")

    assert sorted(listed) == sorted(key.key_id for key in mine)
    for key_id in listed:
        kind.delete(target, principal=scene.app.id, key_id=key_id)
    assert not any(scene.signs_in(key.secret) for key in mine)
    for kept in (someone_elses.secret_text, unnamed.secret_text, other_rotation.secret):
        assert scene.signs_in(kept)
    assert sorted(scene.app.key_ids()) == sorted([someone_elses.key_id, unnamed.key_id, other_rotation.key_id])


def test_verify_waits_for_entra_to_replicate_a_new_secret(cast: Any, scene: Scene) -> None:
    kind, target = _kind(), _target(cast, scene)
    scene.entra.replication_delay = 1.2
    issued = kind.issue(target, principal=scene.app.id, label="strongroom-rotation-a")
    assert not scene.signs_in(issued.secret)  # not replicated yet

    started = time.monotonic()
    kind.verify(target, principal=scene.app.id, credential=issued)

    assert time.monotonic() - started >= 1.0
    assert scene.signs_in(issued.secret)


def test_a_secret_ends_two_intervals_plus_a_margin_after_it_is_issued(cast: Any, scene: Scene) -> None:
    kind, target = _kind(), _target(cast, scene)
    before = dt.datetime.now(dt.UTC)

    issued = kind.issue(target, principal=scene.app.id, label="l", valid_for=dt.timedelta(days=30))

    (credential,) = scene.app.password_credentials
    expected = before + dt.timedelta(days=67)
    assert abs((credential.end - expected).total_seconds()) < 60
    assert issued.expires_at.startswith(credential.end.strftime("%Y-%m-%dT%H:%M"))


def test_the_admin_application_is_proved_on_save_without_changing_anything(
    cast: Any, entra: EntraGraphEmulator, allow_local: None
) -> None:
    from rotation.kinds.base import ProviderError

    kind, scene = _kind(), make_scene(entra)
    kind.test_root(_target(cast, scene))  # token, read, permission probe

    wrong = "xyz8Q~not-the-admin-secret-0123456789"
    with pytest.raises(ProviderError) as refused:
        kind.test_root(_target(cast, scene, secret=wrong))
    assert "invalid_client" in str(refused.value) and wrong not in str(refused.value)
    assert refused.value.retryable is False

    reader = make_scene(entra, roles=("Application.Read.All",))
    with pytest.raises(ProviderError, match="403: Authorization_RequestDenied .*Application.ReadWrite.All"):
        kind.test_root(_target(cast, reader, objectId=reader.app.id, clientId=reader.app.app_id))

    nobody = make_scene(entra, roles=())
    with pytest.raises(ProviderError, match="Application.ReadWrite.All"):
        kind.test_root(_target(cast, nobody, objectId=nobody.app.id, clientId=nobody.app.app_id))

    with pytest.raises(ProviderError, match="clientId is not the application"):
        kind.test_root(_target(cast, scene, clientId=scene.admin.app_id))
    with pytest.raises(ProviderError, match="no application with that objectId"):
        kind.test_root(_target(cast, scene, objectId="00000000-0000-0000-0000-000000000000"))

    owner = make_scene(entra, roles=("Application.ReadWrite.OwnedBy",))
    owner.app.owners.add(owner.admin.app_id)
    kind.test_root(_target(cast, owner, objectId=owner.app.id, clientId=owner.app.app_id))  # least privilege
    assert all(not app.password_credentials for app in (scene.app, reader.app, nobody.app, owner.app))


def test_settings_are_checked_before_anything_is_dialled(scene: Scene) -> None:
    kind = _kind()
    config = scene.config()
    kind.check_config(config, [scene.app.id])
    kind.check_credentials({"adminClientSecret": "s"})

    for broken, usernames, message in [
        ({**config, "objectId": ""}, [scene.app.id], "config.objectId is required"),
        ({**config, "clientId": "a/../b"}, [scene.app.id], "config.clientId: must be an ID"),
        ({**config, "graphUrl": "ftp://graph"}, [scene.app.id], "config.graphUrl"),
        ({**config, "host": "x"}, [scene.app.id], "config.host is not a setting"),
        (config, ["someone-else"], r"usernames must be \[config.objectId\]"),
    ]:
        with pytest.raises(ValueError, match=message):
            kind.check_config(broken, usernames)
    with pytest.raises(ValueError, match="credentials.adminClientSecret is required"):
        kind.check_credentials({"adminClientSecret": " "})


def test_graph_down_fails_safely(cast: Any, scene: Scene) -> None:
    from rotation.kinds.base import ProviderError

    kind, target = _kind(), _target(cast, scene)
    scene.entra.graph_down = True

    with pytest.raises(ProviderError, match="add password: HTTP 503") as failed:
        kind.issue(target, principal=scene.app.id, label="l")
    assert failed.value.retryable is True
    assert scene.app.password_credentials == []


# --- the engine: rotations of an application's client secrets ------------------------------------

CLIENT_ID, CLIENT_SECRET = "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"


def _define(cast: Any, scene: Scene, name: str = "entra", **kwargs: Any) -> Any:
    from rotation.services.rotations import RotationInput, rotation_create

    return rotation_create(
        scope=cast.scope(cast.alice),
        environment="dev",
        path="/",
        data=RotationInput(
            name=name,
            kind="azure_client_secret",
            config=scene.config(),
            credentials={"adminClientSecret": scene.admin_secret},
            usernames=[scene.app.id],
            secrets_mapping={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            **kwargs,
        ),
    )


def _owned(cast: Any) -> dict[str, str]:
    from secrets_app.selectors.secrets import secret_list

    result = secret_list(cast.scope(cast.alice), environment="dev", path="/", include_values=True)
    return {view.key: str(view.value) for view in result.secrets if view.key in (CLIENT_ID, CLIENT_SECRET)}


def _rotate(rotation: Any, trigger: str = "manual") -> Any:
    from rotation.models import Rotation
    from rotation.services.engine import rotation_run

    result = rotation_run(rotation_id=rotation.pk, trigger=trigger)
    assert result.outcome == "success", Rotation.objects.get(pk=rotation.pk).last_error
    return Rotation.objects.get(pk=rotation.pk)


def _labelled(scene: Scene, rotation: Any) -> set[str]:
    from rotation.services.issued import issued_label

    label = issued_label(rotation)
    return {c.key_id for c in scene.app.password_credentials if c.display_name == label}


def test_rotations_switch_to_a_secret_that_signs_in_and_retire_the_oldest_one_rotation_later(
    cast: Any, scene: Scene
) -> None:
    from audit.models import AuditEvent

    someone_elses = scene.entra.add_password(scene.app, "ci-pipeline")
    rotation = _define(cast, scene, interval_days=30)

    first = _rotate(rotation)
    one = _owned(cast)
    assert one[CLIENT_ID] == scene.app.app_id and scene.signs_in(one[CLIENT_SECRET])
    assert first.issued_keys["active"] in _labelled(scene, rotation) and "previous" not in first.issued_keys
    (issued,) = [c for c in scene.app.password_credentials if c.key_id == first.issued_keys["active"]]
    lifetime = issued.end - issued.start  # two intervals plus the week's margin
    assert dt.timedelta(days=66, hours=23) < lifetime <= dt.timedelta(days=67)

    second = _rotate(rotation)
    two = _owned(cast)
    assert two[CLIENT_SECRET] != one[CLIENT_SECRET] and scene.signs_in(two[CLIENT_SECRET])
    assert scene.signs_in(one[CLIENT_SECRET])  # previous: valid one more interval
    assert (second.issued_keys["active"], second.issued_keys["previous"]) == (
        _key_of(scene, two[CLIENT_SECRET]),
        first.issued_keys["active"],
    )

    third = _rotate(rotation, trigger="schedule")
    three = _owned(cast)
    assert scene.signs_in(three[CLIENT_SECRET]) and scene.signs_in(two[CLIENT_SECRET])
    assert scene.entra.client_credentials(scene.app.app_id, one[CLIENT_SECRET]) == 401  # the oldest: removed
    assert _labelled(scene, rotation) == {third.issued_keys["active"], third.issued_keys["previous"]}
    assert scene.signs_in(someone_elses.secret_text)  # never touched
    assert someone_elses.key_id in scene.app.key_ids() and len(scene.app.password_credentials) == 3

    events = AuditEvent.objects.filter(resource_id=str(rotation.public_id))
    dumped = " ".join(str(event.metadata) for event in events)
    assert {e.metadata["key_id"] for e in events if e.action == "rotation.rotated"} == {
        first.issued_keys["active"],
        second.issued_keys["active"],
        third.issued_keys["active"],
    }
    assert not any(values[CLIENT_SECRET] in dumped for values in (one, two, three))
    assert scene.admin_secret not in dumped and someone_elses.secret_text not in dumped
    # The client ID never changes: one version, written by the first run; the secret got three.
    written = [e.metadata["secrets"] for e in events.order_by("id") if e.action == "rotation.rotated"]
    assert written == [[CLIENT_ID, CLIENT_SECRET], [CLIENT_SECRET], [CLIENT_SECRET]]


def _key_of(scene: Scene, secret: str) -> str:
    return next(c.key_id for c in scene.app.password_credentials if c.secret_text == secret)


def test_graph_down_records_the_failure_and_leaves_the_secrets_alone(cast: Any, scene: Scene) -> None:
    from rotation.models import Rotation
    from rotation.services.engine import rotation_run

    rotation = _define(cast, scene)
    _rotate(rotation)
    before, keys = _owned(cast), set(scene.app.key_ids())
    scene.entra.graph_down = True

    result = rotation_run(rotation_id=rotation.pk, trigger="manual")

    failed = Rotation.objects.get(pk=rotation.pk)
    assert result.outcome == "failed" and failed.status == "retrying" and failed.next_run_at is not None
    assert "HTTP 503" in failed.last_error and before[CLIENT_SECRET] not in failed.last_error
    assert failed.attempts.filter(outcome="failed").count() == 1
    assert _owned(cast) == before and scene.signs_in(before[CLIENT_SECRET])
    assert set(scene.app.key_ids()) == keys  # nothing added, nothing removed

    scene.entra.graph_down = False
    _rotate(rotation, trigger="retry")  # the intent of the failed run is rolled forward
    after = _owned(cast)
    assert scene.signs_in(after[CLIENT_SECRET]) and scene.signs_in(before[CLIENT_SECRET])


def test_it_refuses_on_save_an_admin_application_without_the_permission(
    cast: Any, entra: EntraGraphEmulator, allow_local: None
) -> None:
    from rotation.models import Rotation
    from secrets_app.errors import ValidationFailed

    reader = make_scene(entra, roles=("Application.Read.All",))
    with pytest.raises(ValidationFailed) as refused:
        _define(cast, reader)
    assert "Application.ReadWrite.All" in str(refused.value) and reader.admin_secret not in str(refused.value)
    assert not Rotation.objects.exists() and reader.app.password_credentials == []


CRASH_POINTS = ("after_pending", "issued_unrecorded", "after_issue", "after_verify")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_run_killed_at_each_crash_point_converges_with_no_orphaned_secret(
    cast: Any, scene: Scene, tmp_path: Path
) -> None:
    """One rotation, its run killed in turn at every crash point of the issued-credential path (a
    real process SIGKILLed there, tests/support/crash_runner.py), then run again in this process
    (one transactional test: the database flush after each would cost more than the runs). Last,
    a secret recorded by a killed run and then removed by hand: the next run discards the record
    and converges on a fresh secret instead of failing for ever."""
    require_postgres("a separate process needs the PostgreSQL test database")
    from django.utils import timezone

    from audit.models import AuditEvent
    from rotation.models import PendingRotation, Rotation
    from rotation.services.engine import rotation_run

    def unlock() -> None:  # the dead run's claim; its lease would run out by itself
        Rotation.objects.filter(pk=rotation.pk).update(locked_until=timezone.now() - dt.timedelta(seconds=1))

    rotation = _define(cast, scene)
    _rotate(rotation)
    _rotate(rotation)
    for step in CRASH_POINTS:
        before = _owned(cast)  # active
        oldest = Rotation.objects.get(pk=rotation.pk).issued_keys["previous"]  # the next run retires it
        oldest_secret = next(c.secret_text for c in scene.app.password_credentials if c.key_id == oldest)
        log = tmp_path / f"{step}.log"
        assert run_killed_at(step, rotation.pk, log) == -9, step  # SIGKILL at the step, nothing cleaned up

        pending = PendingRotation.objects.get(rotation=rotation)
        assert bool(pending.key_id) is (step in ("after_issue", "after_verify")), step
        assert _owned(cast) == before and scene.signs_in(before[CLIENT_SECRET]), step
        if step == "issued_unrecorded":
            orphans = _labelled(scene, rotation) - {_key_of(scene, before[CLIENT_SECRET]), oldest}
            assert len(orphans) == 1 and not pending.key_id, step  # issued, never recorded
        unlock()

        result = rotation_run(rotation_id=rotation.pk, trigger="retry")

        assert result.outcome == "success" and result.rolled_forward, step
        after = _owned(cast)
        if pending.key_id:
            assert _key_of(scene, after[CLIENT_SECRET]) == pending.key_id, step  # switched, never issued over
        assert scene.signs_in(after[CLIENT_SECRET]) and scene.signs_in(before[CLIENT_SECRET]), step
        assert scene.entra.client_credentials(scene.app.app_id, oldest_secret) == 401, step
        active, previous = _key_of(scene, after[CLIENT_SECRET]), _key_of(scene, before[CLIENT_SECRET])
        assert _labelled(scene, rotation) == {active, previous}, step  # no orphan left
        keys = Rotation.objects.get(pk=rotation.pk).issued_keys
        assert (keys["active"], keys["previous"]) == (active, previous), step
        assert not PendingRotation.objects.filter(rotation=rotation).exists(), step
        text = log.read_text()
        for secret in (after[CLIENT_SECRET], before[CLIENT_SECRET], scene.admin_secret):
            assert secret not in text, step

    # A secret recorded by a killed run, then removed by hand before the switch.
    before = _owned(cast)
    assert run_killed_at("after_issue", rotation.pk, tmp_path / "removed.log") == -9
    pending = PendingRotation.objects.get(rotation=rotation)
    _remove_by_hand(scene, pending.key_id)
    # Recorded longer ago than Entra takes to list a new secret (the kind's verify_seconds).
    PendingRotation.objects.filter(pk=pending.pk).update(applied_at=pending.applied_at - dt.timedelta(minutes=5))
    unlock()

    result = rotation_run(rotation_id=rotation.pk, trigger="retry")

    assert result.outcome == "success", Rotation.objects.get(pk=rotation.pk).last_error
    after = _owned(cast)
    active, previous = _key_of(scene, after[CLIENT_SECRET]), _key_of(scene, before[CLIENT_SECRET])
    assert active != pending.key_id and scene.signs_in(after[CLIENT_SECRET]) and scene.signs_in(before[CLIENT_SECRET])
    assert _labelled(scene, rotation) == {active, previous}  # no orphan, the old previous retired
    keys = Rotation.objects.get(pk=rotation.pk).issued_keys
    assert (keys["active"], keys["previous"]) == (active, previous)
    assert not PendingRotation.objects.filter(rotation=rotation).exists()
    (discarded,) = AuditEvent.objects.filter(resource_id=str(rotation.public_id), action="rotation.pending_discarded")
    assert discarded.metadata["key_id"] == pending.key_id and "no longer exists" in discarded.metadata["reason"]


def test_a_previous_secret_removed_by_hand_does_not_stop_the_next_run(cast: Any, scene: Scene) -> None:
    rotation = _define(cast, scene)
    _rotate(rotation)
    previous = _rotate(rotation).issued_keys["previous"]
    active = _owned(cast)
    _remove_by_hand(scene, previous)

    rotated = _rotate(rotation)

    new = _owned(cast)
    assert scene.signs_in(new[CLIENT_SECRET]) and scene.signs_in(active[CLIENT_SECRET])
    assert rotated.issued_keys["previous"] == _key_of(scene, active[CLIENT_SECRET])
    assert _labelled(scene, rotation) == {rotated.issued_keys["active"], rotated.issued_keys["previous"]}


# --- the web UI ----------------------------------------------------------------------------------

NEW = "/projects/acme/rotations/new/"


def _form(scene: Scene, **extra: str) -> dict[str, str]:
    return {
        "kind": "azure_client_secret",
        "path": "/",
        "environment": "dev",
        "name": "payments-api",
        "description": "",
        **scene.config(),
        "adminClientSecret": scene.admin_secret,
        "key_client_id": CLIENT_ID,
        "key_client_secret": CLIENT_SECRET,
        "schedule": "interval",
        "interval_days": "30",
        "rotate_at": "03:30",
        "cron": "",
        **extra,
    }


def test_the_new_rotation_form_creates_an_entra_rotation_tested_live(cast: Any, scene: Scene) -> None:
    from django.test import Client

    from rotation.models import Rotation
    from tests.ui.conftest import HX, assert_csp_clean

    alice = Client()
    alice.force_login(cast.alice)
    page = alice.get(NEW + "?kind=azure_client_secret")
    html = page.content.decode()
    assert page.status_code == 200 and "Entra application client secret" in html
    for label in ("Tenant ID", "Application object ID", "Application (client) ID", "Admin application (client) ID"):
        assert label in html
    assert 'name="adminClientSecret"' in html and 'type="password"' in html
    assert "Application.ReadWrite.All" in html and 'value="AZURE_CLIENT_SECRET"' in html
    assert "User 1" not in html and "Downtime trade-off" not in html  # no users, no mode to choose
    assert_csp_clean(page)

    wrong = "abc8Q~not-the-admin-secret-0123456789"
    refused = alice.post(NEW, _form(scene, adminClientSecret=wrong), **HX)
    assert refused.status_code == 422 and "invalid_client" in refused.content.decode()
    assert wrong not in refused.content.decode() and not Rotation.objects.exists()

    created = alice.post(NEW, _form(scene), **HX)

    assert created.status_code == 204, created.content.decode()[:2000]
    rotation = Rotation.objects.get()
    assert (rotation.kind, rotation.usernames, rotation.mode) == ("azure_client_secret", [scene.app.id], "alternate")
    assert rotation.secrets_mapping == {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    assert rotation.config["clientId"] == scene.app.app_id and "adminClientSecret" not in rotation.config
    assert scene.app.password_credentials == []  # nothing issued before the first run
    detail = alice.get(created["HX-Redirect"]).content.decode()
    assert scene.app.id in detail and scene.admin.app_id in detail and scene.admin_secret not in detail
    rotated = _rotate(rotation)
    detail = alice.get(created["HX-Redirect"]).content.decode()
    end = rotated.issued_keys["active_expires_at"][:10]  # two intervals and a week from now
    assert rotated.issued_keys["active"] in detail and f"the target ends it on {end}" in detail
    assert _owned(cast)[CLIENT_SECRET] not in detail

    edit = f"/projects/acme/rotations/{rotation.public_id}/edit/"
    page = alice.get(edit).content.decode()
    assert "Admin client secret" in page and "leave empty to keep" in page and scene.admin_secret not in page
    schedule = {"schedule": "interval", "interval_days": "14", "rotate_at": "01:00", "cron": "", "description": ""}
    wrong = alice.post(edit, {**schedule, "adminClientSecret": "abc8Q~still-not-the-admin-secret-01"}, **HX)
    assert wrong.status_code == 422 and "invalid_client" in wrong.content.decode()
    renewed = scene.entra.add_password(scene.admin, "strongroom-2").secret_text  # the admin app's new secret
    saved = alice.post(edit, {**schedule, "adminClientSecret": renewed}, **HX)
    assert saved.status_code == 204, saved.content.decode()[:2000]
    rotation.refresh_from_db()
    assert rotation.interval_days == 14 and renewed not in alice.get(edit).content.decode()


# --- the API -------------------------------------------------------------------------------------

API = "/api/v1/projects/acme/rotations/"


def test_the_api_creates_an_entra_rotation_and_names_the_field_it_refuses(cast: Any, api: Any, scene: Scene) -> None:
    import json

    from tests.api.conftest import error_of

    alice, bob, charlie = api(cast.alice), api(cast.bob), api(cast.charlie)
    body = {
        "environment": "dev",
        "path": "/",
        "name": "payments-api",
        "kind": "azure_client_secret",
        "config": scene.config(),
        "credentials": {"adminClientSecret": scene.admin_secret},
        "usernames": [scene.app.id],
        "secretsMapping": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        "intervalDays": 30,
    }
    for bad, named in (
        ({"mode": "single"}, "mode"),
        ({"usernames": [scene.admin.id]}, "config"),
        ({"config": {**scene.config(), "objectId": ""}}, "config"),
        ({"config": {**scene.config(), "graphUrl": "not a url"}}, "config"),
        ({"credentials": {}}, "credentials"),
        ({"credentials": {"adminClientSecret": "abc8Q~wrong-secret-0123456789"}}, "config"),
        ({"secretsMapping": {"key_id": "A", "secret": "B"}}, "secretsMapping"),
    ):
        refused = alice.post(API, {**body, **bad}, format="json")
        assert refused.status_code == 400, (bad, refused.status_code)
        assert named in json.dumps(error_of(refused)), (bad, error_of(refused))
        assert scene.admin_secret not in refused.content.decode()
    assert charlie.post(API, body, format="json").status_code == 404
    assert bob.post(API, body, format="json").status_code == 403
    assert scene.app.password_credentials == []  # no refused request changed the application

    created = alice.post(API, body, format="json")
    assert created.status_code == 201, error_of(created)
    rotation = created.json()
    assert scene.admin_secret not in created.content.decode() and "adminClientSecret" not in rotation["config"]
    assert (rotation["kind"], rotation["usernames"], rotation["issuedKeys"]) == (
        "azure_client_secret",
        [scene.app.id],
        {},
    )

    from rotation.models import Rotation

    _rotate(Rotation.objects.get(public_id=rotation["id"]))
    shown = bob.get(f"{API}{rotation['id']}/").json()
    owned = _owned(cast)
    assert shown["issuedKeys"]["active"] == _key_of(scene, owned[CLIENT_SECRET])
    assert owned[CLIENT_SECRET] not in json.dumps(shown)


def test_graph_and_the_token_endpoint_must_be_on_the_target_allowlist(cast: Any, entra: EntraGraphEmulator) -> None:
    from rotation.models import Rotation
    from secrets_app.errors import ValidationFailed

    scene = make_scene(entra)  # no allow_local: the organization allows no target
    with pytest.raises(ValidationFailed, match="allowlist") as refused:
        _define(cast, scene)
    assert scene.admin_secret not in str(refused.value)
    assert not Rotation.objects.exists()
    assert not any(path.endswith("/token") for _, path, _ in entra.requests)  # never dialled
