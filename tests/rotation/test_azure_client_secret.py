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
from typing import Any

import pytest
import requests

from tests.emulators.entra_graph import EntraApplication, EntraGraphEmulator

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
