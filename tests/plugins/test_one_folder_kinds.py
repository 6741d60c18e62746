"""A new kind is one folder plus one registry line, in every family.

Each test registers a kind that lives only in ``tests/plugins/kinds/<family>_echo/`` with one
``register()`` call (the documented mechanism, the same as one line in the registry module) and
finds it on every surface without a form, template, serializer, migration or branch of its own:
the API (create, list, the 4xx naming the field), the OpenAPI schema generated now, the UI form,
and the worker path (a sync run, a channel delivery, a stream delivery, a lease created and
revoked, a rotation).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from secrets_app.plugins import PluginRegistry

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
ECHO_SECRET = "echo-typed-secret-8812"  # a credential typed by a person: never in an answer


@pytest.fixture
def register() -> Iterator[Any]:
    """``register(REGISTRY, KindClass)``: the one line; undone after the test (registries are
    process-wide)."""
    added: list[tuple[PluginRegistry[Any], str]] = []

    def add(registry: PluginRegistry[Any], kind_class: type) -> None:
        registry.register(kind_class)
        added.append((registry, kind_class.kind))  # type: ignore[attr-defined]

    yield add
    for registry, kind in added:
        registry.unregister(kind)


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def compat_token(cast: Any) -> str:
    """An access token of a machine identity (project admin) from the Infisical-compatible login."""
    from tests.compat.conftest import login as compat_login
    from tests.compat.conftest import make_machine

    return compat_login(Client(), make_machine(cast.project, "echo-machine", "admin"))


def org_admin(cast: Any) -> Any:
    from secrets_app.models import OrganizationMembership, OrgRole

    OrganizationMembership.objects.filter(organization=cast.organization, user=cast.alice).update(role=OrgRole.ADMIN)
    return cast.alice


def schema(api_client: Any) -> dict[str, Any]:
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return dict(response.json())


def operation(spec: dict[str, Any], path: str) -> str:
    return str(spec["paths"][path]["post"]["description"])


def component(spec: dict[str, Any], name: str) -> str:
    return json.dumps(spec["components"]["schemas"][name])


def test_a_sync_destination_is_one_folder_and_one_line(cast: Any, api: Any, register: Any) -> None:
    from syncs.models import AppConnection, SecretSync
    from syncs.providers.registry import PROVIDERS
    from tests.plugins.kinds.sync_echo.provider import BUCKETS, EchoSyncProvider
    from tests.syncs.conftest import put_secret, run_now

    register(PROVIDERS, EchoSyncProvider)
    alice = api(cast.alice)
    connection = alice.post(
        "/api/v1/connections/",
        {"kind": "sync_echo", "method": "token", "name": "echo", "credentials": {"echo_token": ECHO_SECRET}},
        format="json",
    )
    assert connection.status_code == 201, connection.content
    assert connection.json()["lastTestMessage"] == "echo bucket store reached"
    assert ECHO_SECRET not in connection.content.decode()
    assert AppConnection.objects.get().get_kind_display() == "Echo bucket"  # model choices: from the registry

    page = login(cast.alice).get("/projects/acme/syncs/").content.decode()
    assert "New sync to Echo bucket" in page and 'name="bucket"' in page and "Echo bucket name" in page
    assert '<option value="loud">Loud</option>' in page

    form = {"kind": "sync_echo", "name": "to-echo", "connection": connection.json()["id"], "environment": "dev"}
    form |= {"path": "/", "key_name_template": "{{secretKey}}", "initial_behavior": "import_destination"}
    refused = login(cast.alice).post("/projects/acme/syncs/", form, **HX)
    assert refused.status_code == 422 and 'id="sync-sync_echo-bucket"' in refused.content.decode()
    assert "This field is required" in refused.content.decode() and not SecretSync.objects.exists()

    body = {"name": "api-echo", "environment": "dev", "connection": connection.json()["id"]}
    body |= {"initialBehavior": "import_destination", "destination": {}}
    refused = alice.post("/api/v1/projects/acme/syncs/", body, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"destination.bucket": ["this field is required"]}

    put_secret(cast, "API_KEY", "v1")
    created = login(cast.alice).post("/projects/acme/syncs/", {**form, "bucket": "b1", "loudness": "loud"}, **HX)
    assert created.status_code == 204, created.content.decode()[:2000]
    sync = SecretSync.objects.get()
    assert (sync.destination, sync.provider_options) == ({"bucket": "b1"}, {"loudness": "loud"})
    listed = alice.get("/api/v1/projects/acme/syncs/").json()["syncs"]
    assert [(item["kind"], item["destination"]) for item in listed] == [("sync_echo", {"bucket": "b1"})]

    run_now(sync)
    assert sync.status == "succeeded" and BUCKETS.pop("b1") == {"API_KEY": "v1"}

    # The declared per-value limit: a larger value saved in the synced folder is warned about.
    saved = login(cast.alice).post(
        "/projects/acme/secrets/",
        {"key": "BIG", "environment": "dev", "value": "b" * 65, "path": "/", "origin": "panel"},
        **HX,
    )
    assert saved.status_code == 200
    assert (
        "BIG is 65 bytes, and this folder is synced to Echo bucket (to-echo), which stores at most 64 bytes"
        in saved.content.decode()
    )

    spec = schema(alice)
    assert "**`sync_echo`** — Echo bucket" in operation(spec, "/api/v1/connections/")
    assert "sync_echo: {bucket}" in component(spec, "SyncCreateRequest")
    assert "sync_echo: {loudness?}" in component(spec, "SyncCreateRequest")


def test_a_notification_channel_is_one_folder_and_one_line(cast: Any, api: Any, register: Any) -> None:
    from notifications.channels.registry import CHANNELS
    from notifications.models import Delivery
    from tests.notifications.fixtures import deliver_all
    from tests.notifications.test_channels_and_delivery import send
    from tests.plugins.kinds.channel_echo.kind import POSTED, EchoChannel

    register(CHANNELS, EchoChannel)
    POSTED.clear()
    alice = api(org_admin(cast))
    body = {"kind": "channel_echo", "name": "echo", "config": {"room": "ops"}, "credentials": {}}
    refused = alice.post("/api/v1/notification-channels/", body, format="json")
    assert refused.status_code == 400, refused.content
    assert refused.json()["error"]["fields"] == {"credentials.echo_key": ["this field is required"]}

    routes = [{"project": None, "events": ["approvals.*"]}]
    body |= {"credentials": {"echo_key": ECHO_SECRET}, "routes": routes}
    created = alice.post("/api/v1/notification-channels/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["credentials"] == {"echo_key": "set"} and created.json()["lastTestStatus"] == "ok"
    listed = alice.get("/api/v1/notification-channels/")
    assert [channel["kind"] for channel in listed.json()["channels"]] == ["channel_echo"]
    assert ECHO_SECRET not in created.content.decode() + listed.content.decode()

    page = login(cast.alice).get("/org/acme-org/notifications/").content.decode()
    assert "Echo room" in page and 'name="room"' in page and 'type="password" name="echo_key"' in page

    send(cast)
    assert deliver_all() == ["sent"]
    assert POSTED[-1] == {"room": "ops", "key": ECHO_SECRET, "title": "Secret change request"}
    assert Delivery.objects.get().external_ref == {"room": "ops", "n": len(POSTED)}

    spec = schema(alice)
    assert "**`channel_echo`** — Echo room" in operation(spec, "/api/v1/notification-channels/")
    assert "channel_echo" in component(spec, "ChannelCreateKindEnum")


def test_an_audit_stream_kind_is_one_folder_and_one_line(cast: Any, api: Any, register: Any) -> None:
    from audit.sealing import audit_seal_pending
    from audit.streams.delivery import stream_deliver
    from audit.streams.models import AuditStream
    from audit.streams.registry import STREAM_KINDS
    from tests.plugins.kinds.stream_echo.kind import BATCHES, EchoStream

    register(STREAM_KINDS, EchoStream)
    BATCHES.clear()
    alice = api(org_admin(cast))
    base = "/api/v1/organizations/acme-org/audit-streams/"
    body = {"kind": "stream_echo", "name": "echo", "config": {}, "credentials": {"echo_token": ECHO_SECRET}}
    refused = alice.post(base, body, format="json")
    assert refused.status_code == 400, refused.content
    assert refused.json()["error"]["fields"] == {"config.channel": ["this field is required"]}

    created = alice.post(base, {**body, "config": {"channel": "siem"}, "start": "beginning"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["credentialNames"] == ["echo_token"] and BATCHES == [
        {"channel": "siem", "ids": [], "test": True}
    ]
    listed = alice.get(base)
    assert [stream["kind"] for stream in listed.json()["streams"]] == ["stream_echo"]
    assert ECHO_SECRET not in created.content.decode() + listed.content.decode()

    page = login(cast.alice).get("/org/acme-org/audit/streams/").content.decode()
    assert "Echo log" in page and 'name="channel"' in page and 'type="password" name="echo_token"' in page

    audit_seal_pending()
    stream_deliver(stream_id=AuditStream.objects.get().pk)
    delivered = [event_id for batch in BATCHES for event_id in batch["ids"]]
    assert delivered and delivered == sorted(delivered)
    assert AuditStream.objects.get().delivered_count == len(delivered)

    spec = schema(alice)
    assert "**`stream_echo`** — Echo log" in operation(spec, "/api/v1/organizations/{organization}/audit-streams/")


def test_a_dynamic_secret_provider_is_one_folder_and_one_line(cast: Any, api: Any, register: Any) -> None:
    from dynamic.models import TargetAllowlist
    from dynamic.providers.registry import PROVIDERS
    from tests.plugins.kinds.dynamic_echo.provider import USERS, EchoDynamicProvider

    register(PROVIDERS, EchoDynamicProvider)
    TargetAllowlist.objects.update_or_create(organization=cast.organization, defaults={"entries": ["127.0.0.1/32"]})
    alice, bob = api(cast.alice), api(cast.bob)
    base = "/api/v1/projects/acme/dynamic-secrets/"
    body = {"environment": "dev", "path": "/", "name": "echo-accounts", "provider": "dynamic_echo"}
    body |= {"config": {"host": "127.0.0.1"}, "credentials": {"password": "echo-root-key"}, "defaultTTL": "1h"}
    refused = alice.post(base, body, format="json")
    assert refused.status_code == 400, refused.content
    assert refused.json()["error"]["fields"] == {"config.database": ["this field is required"]}

    created = alice.post(base, {**body, "config": {"host": "127.0.0.1", "database": "realm1"}}, format="json")
    assert created.status_code == 201, created.content
    assert "echo-root-key" not in created.content.decode()
    listed = alice.get(f"{base}?environment=dev&path=/").json()
    assert [item["provider"] for item in listed["dynamicSecrets"]] == ["dynamic_echo"]

    page = login(cast.alice).get("/projects/acme/dynamic-secrets/new/?provider=dynamic_echo").content.decode()
    assert "Echo accounts" in page and 'name="database"' in page and 'type="password" name="password"' in page

    leased = bob.post(f"{base}{created.json()['id']}/leases/", {"ttl": 600}, format="json")
    assert leased.status_code == 201, leased.content
    data, lease = leased.json()["data"], leased.json()["lease"]
    assert USERS[data["DB_USERNAME"]] == data["DB_PASSWORD"]
    revoked = bob.post(f"/api/v1/projects/acme/leases/{lease['id']}/revoke/", {}, format="json")
    assert revoked.json()["lease"]["status"] == "revoked" and data["DB_USERNAME"] not in USERS

    compat = Client().get(
        "/compat/infisical/api/v1/dynamic-secrets/echo-accounts?projectSlug=acme&environmentSlug=dev&path=/",
        HTTP_AUTHORIZATION=f"Bearer {compat_token(cast)}",
    )
    assert compat.status_code == 200, compat.content
    assert compat.json()["dynamicSecret"]["type"] == "echo-db"  # the declared Infisical type

    spec = schema(alice)
    assert "**`dynamic_echo`** — Echo accounts" in operation(spec, "/api/v1/projects/{project}/dynamic-secrets/")
    assert "dynamic_echo" in component(spec, "DynamicSecretCreateRequest")


def test_a_rotation_kind_is_one_folder_and_one_line(cast: Any, api: Any, register: Any) -> None:
    from rotation.kinds.registry import KINDS
    from rotation.models import Rotation
    from rotation.services.engine import rotation_run
    from secrets_app.selectors.secrets import secret_list
    from tests.plugins.kinds.rotation_echo import PASSWORDS, EchoRotation

    register(KINDS, EchoRotation)
    alice = api(cast.alice)
    base = "/api/v1/projects/acme/rotations/"
    body = {"environment": "dev", "path": "/", "name": "echo-rot", "kind": "rotation_echo"}
    body |= {"config": {}, "credentials": {"root_key": "echo-root-key"}, "usernames": ["app-a", "app-b"]}
    body |= {"secretsMapping": {"username": "ECHO_USER", "password": "ECHO_PASSWORD"}, "intervalDays": 30}
    refused = alice.post(base, body, format="json")
    assert refused.status_code == 400, refused.content
    assert refused.json()["error"]["fields"] == {"config.realm": ["this field is required"]}

    created = alice.post(base, {**body, "config": {"realm": "r1"}}, format="json")
    assert created.status_code == 201, created.content
    assert "echo-root-key" not in created.content.decode()
    assert [item["kind"] for item in alice.get(base).json()["rotations"]] == ["rotation_echo"]

    page = login(cast.alice).get("/projects/acme/rotations/new/?kind=rotation_echo").content.decode()
    assert "Echo account passwords" in page and 'name="realm"' in page and 'type="password" name="root_key"' in page

    rotation_run(rotation_id=Rotation.objects.get().pk, trigger="manual")
    owned = secret_list(cast.scope(cast.alice), environment="dev", path="/", include_values=True)
    values = {view.key: view.value for view in owned.secrets}
    assert PASSWORDS[values["ECHO_USER"]] == values["ECHO_PASSWORD"]

    compat = Client().get(
        "/compat/infisical/api/v2/secret-rotations/echo-credentials?projectId=acme",
        HTTP_AUTHORIZATION=f"Bearer {compat_token(cast)}",
    )
    assert compat.status_code == 200, compat.content
    assert [item["type"] for item in compat.json()["secretRotations"]] == ["echo-credentials"]

    spec = schema(alice)
    described = operation(spec, "/api/v1/projects/{project}/rotations/")
    assert "**`rotation_echo`** — Echo account passwords." in described and "`config.realm`" in described
    assert "rotation_echo" in component(spec, "RotationCreateRequest")


def test_infisical_sql_inputs_map_onto_the_ssl_setting_the_provider_declares() -> None:
    from dynamic.compat.responses import ProviderInputs, sql_clients

    assert sql_clients() == {"postgres": "postgresql", "mysql2": "mysql"}  # from the providers' declarations
    assert ProviderInputs({"sslEnabled": True}, provider="mysql").config == {"tls": True}  # MySQL declares `tls`
    assert ProviderInputs({"sslEnabled": True}, provider="postgresql").config == {"sslmode": "require"}
    assert ProviderInputs({"sslEnabled": False}, provider="postgresql").config == {"sslmode": "prefer"}
