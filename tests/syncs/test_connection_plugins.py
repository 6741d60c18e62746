"""Connections derive from the providers' declarations (``syncs.providers`` on the plugin pattern):
a provider registered here, with no form, template or serializer of its own, gets a connection
form, API validation and API documentation from its declared fields alone. The Azure DevOps form
swaps in the fields of the method a person picks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from django.test import Client

from syncs.providers.base import ConnectionInfo, ConnectionMethod, Credential, SyncProvider
from syncs.providers.registry import PROVIDERS, register

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
CONNECTIONS = "/api/v1/connections/"
TYPED_TOKEN = "typed-echo-token-4711"


class RegionToken(ConnectionMethod):
    kind = "token"
    label = "API token"
    fields = (
        Credential("api_token", "API token"),
        Credential("region", "Region", secret=False, input="choice", choices=(("eu", "Europe"), ("us", "US"))),
    )


class EchoStoreProvider(SyncProvider):
    kind = "echo_store"
    label = "Echo store"
    description = "A destination declared only in this test"
    methods = (RegionToken(),)

    def test_connection(self, connection: ConnectionInfo) -> str:
        return f"reached the {connection.config['region']} region"

    def validate_destination(self, destination: Mapping[str, Any], connection_config: Mapping[str, Any]) -> dict:
        return dict(destination)


@pytest.fixture
def echo_store(monkeypatch: pytest.MonkeyPatch) -> None:
    # The registry is process-wide: give this test its own copy, so the kind vanishes afterwards.
    monkeypatch.setattr(PROVIDERS, "modules", dict(PROVIDERS.modules))
    monkeypatch.setattr(PROVIDERS, "_instances", dict(PROVIDERS._instances))
    register(EchoStoreProvider)


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_builds_the_connection_form_of_a_registered_provider(cast: Any, echo_store: None) -> None:
    from syncs.models import AppConnection

    alice = login(cast.alice)
    page = alice.get("/org/acme-org/connections/").content.decode()
    assert "Echo store" in page and 'value="echo_store"' in page
    assert '<select name="region"' in page and '<option value="us">US</option>' in page
    assert 'type="password" name="api_token"' in page

    form = {"name": "echo", "kind": "echo_store", "api_token": TYPED_TOKEN}
    refused = alice.post("/org/acme-org/connections/", {**form, "region": "mars"}, **HX)
    body = refused.content.decode()
    assert refused.status_code == 422 and "Select a valid choice" in body and TYPED_TOKEN not in body
    assert not AppConnection.objects.exists()

    saved = alice.post("/org/acme-org/connections/", {**form, "region": "eu"}, **HX)
    body = saved.content.decode()
    assert saved.status_code == 200 and "reached the eu region" in body and TYPED_TOKEN not in body
    connection = AppConnection.objects.get()
    assert (connection.kind, connection.method, connection.config) == ("echo_store", "token", {"region": "eu"})


def test_the_api_validates_and_documents_a_registered_providers_fields(cast: Any, api: Any, echo_store: None) -> None:
    def create(credentials: dict[str, str], config: dict[str, str]) -> Any:
        body = {"kind": "echo_store", "method": "token", "name": "echo", "credentials": credentials, "config": config}
        return api(cast.alice).post(CONNECTIONS, body, format="json")

    cases = [
        ({"api_token": TYPED_TOKEN}, {}, "config.region", "this field is required"),
        ({"api_token": TYPED_TOKEN}, {"region": "mars"}, "config.region", "must be one of eu, us"),
        ({"api_token": " "}, {"region": "eu"}, "credentials.api_token", "this field is required"),
        (
            {"api_token": TYPED_TOKEN, "apitoken": TYPED_TOKEN},
            {"region": "eu"},
            "credentials.apitoken",
            "unknown field",
        ),
    ]
    for credentials, config, field, message in cases:
        refused = create(credentials, config)
        assert refused.status_code == 400, (field, refused.content)
        assert refused.json()["error"]["fields"] == {field: [message]}
        assert TYPED_TOKEN not in refused.content.decode()

    created = create({"api_token": TYPED_TOKEN}, {"region": "us"})
    assert created.status_code == 201, created.content
    assert created.json()["config"] == {"region": "us"} and created.json()["lastTestMessage"] == "reached the us region"

    schema = api(cast.alice).get("/api/schema/?format=json").json()
    request = json.dumps(schema["components"]["schemas"]["ConnectionCreateRequest"])
    assert "echo_store" in request and "echo_store/token: api_token" in request
    described = schema["paths"]["/api/v1/connections/"]["post"]["description"]
    assert "`credentials.token` (credentials, required, write-only)" in described  # Azure DevOps, PAT
    assert "`config.vault_url` (config, optional)" in described  # Key Vault


def test_the_azure_devops_form_swaps_in_the_fields_of_the_chosen_method(cast: Any) -> None:
    alice = login(cast.alice)
    page = alice.get("/org/acme-org/connections/").content.decode()
    assert 'name="token"' in page and 'name="tenant_id"' in page  # PAT for Azure DevOps; Key Vault's form

    fields = alice.get("/org/acme-org/connections/?kind=azure_devops&method=client_secret", **HX).content.decode()
    assert fields.startswith('\n<div class="stack" id="connection-azure_devops-method-fields">'), fields[:200]
    for name in ("organization_url", "tenant_id", "client_id", "client_secret", "authority_host"):
        assert f'name="{name}"' in fields, name
    assert 'name="token"' not in fields and 'name="name"' not in fields

    fields = alice.get("/org/acme-org/connections/?kind=azure_devops&method=oauth", **HX).content.decode()
    assert 'type="password" name="access_token"' in fields and 'name="tenant_id"' not in fields
    assert alice.get("/org/acme-org/connections/?kind=nope&method=x", **HX).status_code == 404
