"""E3 (Unicode keys and byte-exact values, through the native API and the Infisical-compatible one)
and H3 (value responses are not cacheable; credentials are never readable after creation)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

P = "/api/v1/projects/acme/"
VALUES = {
    "CRLF": "line one\r\nline two\r\n",
    "TRAILING": "  spaces and a tab\t ",
    "NUL": "before\x00after",
    "EMOJI": "\U0001f510 \U0001f469\u200d\U0001f4bb",
    "PEM": "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\r\n-----END CERTIFICATE-----\n",
    "REFLIKE": "${HOST} and ${prod.DB_PASS} stay literal",
    "NFD_VALUE": "cafe\u0301",  # values are bytes to us: never normalised
}


def _compat_token(cast: Any) -> str:
    from django.test import Client

    from tests.compat.conftest import login, make_machine

    return login(Client(), make_machine(cast.project, "e3-bot", "member"))


@pytest.mark.django_db
def test_E3_round_trips_values_byte_for_byte_through_both_apis(cast: Any, api: Any) -> None:
    alice = api(cast.alice)
    for key, value in VALUES.items():
        created = alice.post(
            P + "secrets/", {"environment": "dev", "path": "/", "key": key, "value": value}, format="json"
        )
        assert created.status_code == 201, created.content
    token = _compat_token(cast)

    native = {key: alice.get(P + f"secrets/{key}/", {"environment": "dev"}).json()["value"] for key in VALUES}
    listed = APIClient().get(
        "/compat/infisical/api/v3/secrets/raw",
        {"workspaceId": str(cast.project.public_id), "environment": "dev", "secretPath": "/"},
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    compat = {s["secretKey"]: s["secretValue"] for s in listed.json()["secrets"]}

    for key, value in VALUES.items():
        assert native[key].encode() == value.encode(), key
        assert compat[key].encode() == value.encode(), key


@pytest.mark.django_db
def test_E3_normalises_keys_to_nfc_before_uniqueness_and_refuses_invisible_characters(cast: Any, api: Any) -> None:
    alice = api(cast.alice)

    def create(key: str) -> Any:
        return alice.post(P + "secrets/", {"environment": "dev", "path": "/", "key": key, "value": "v"}, format="json")

    assert create("CAF\u00c9").status_code == 201
    assert create("CAFE\u0301").status_code == 409  # the NFD spelling is the same key
    assert alice.get(P + "secrets/CAFE%CC%81/", {"environment": "dev"}).json()["key"] == "CAF\u00c9"
    for key in ("A\u200bB", "A\u202eB", "A\x00B", "A\u2028B", "A\x1b[31mB", "A\ud800B", " A", "A\r\nB"):
        refused = alice.post(
            P + "secrets/",
            json.dumps({"environment": "dev", "path": "/", "key": key, "value": "v"}),
            content_type="application/json",
        )
        assert refused.status_code == 400, (key, refused.content)
        assert "key" in refused.json()["error"]["fields"], key
    # Look-alike letters from another script are other keys (no confusable folding): deterministic.
    assert create("\u0410PI").status_code == 201 and create("API").status_code == 201


@pytest.mark.django_db
def test_H3_value_answers_are_never_cacheable_on_either_api(cast: Any, api: Any) -> None:
    alice = api(cast.alice)
    alice.post(P + "secrets/", {"environment": "dev", "path": "/", "key": "K", "value": "v"}, format="json")
    token = _compat_token(cast)
    where = {"workspaceId": str(cast.project.public_id), "environment": "dev", "secretPath": "/"}
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    answers = [
        alice.get(P + "secrets/K/", {"environment": "dev"}),
        alice.get(P + "secrets/", {"environment": "dev", "include_values": "true"}),
        APIClient().get("/compat/infisical/api/v3/secrets/raw", where, **bearer),
        APIClient().get("/compat/infisical/api/v3/secrets/raw/K", where, **bearer),
        APIClient().get("/compat/infisical/api/v4/secrets/K", {**where, "projectId": where["workspaceId"]}, **bearer),
    ]

    for answer in answers:
        assert answer.status_code == 200, answer.content
        assert b'"v"' in answer.content
        assert answer["Cache-Control"] == "no-store" and answer["Pragma"] == "no-cache"


@pytest.mark.django_db
def test_H3_client_secrets_are_shown_once_and_no_later_answer_or_schema_carries_a_credential(
    cast: Any, api: Any
) -> None:
    from tests.identities.universal_support import make_org_admin

    make_org_admin(cast)
    alice = api(cast.alice)
    identity = alice.post("/api/v1/organizations/acme-org/identities/", {"name": "h3-bot"}, format="json").json()["id"]
    base = f"/api/v1/identities/{identity}/"
    alice.put(base + "universal-auth/", {}, format="json")
    created = alice.post(base + "universal-auth/client-secrets/", {}, format="json")
    secret = created.json()["clientSecret"]

    later = [
        alice.get(base),
        alice.get(base + "universal-auth/"),
        alice.get(base + "universal-auth/client-secrets/"),
        alice.get("/api/v1/organizations/acme-org/identities/"),
        alice.get("/api/v1/tokens/"),
    ]
    schema = APIClient().get("/api/schema/", {"format": "json"}).content.decode()

    assert created.status_code == 201 and secret
    for answer in later:
        assert answer.status_code == 200, answer.content
        assert secret not in answer.content.decode() and secret[4:] not in answer.content.decode()
        assert "hash" not in answer.content.decode().lower()
    properties = {name.lower() for name in _property_names(json.loads(schema))}
    assert not [name for name in properties if "hash" in name], "a response schema names a hash"


def _property_names(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = list(node.get("properties", {}).keys()) if isinstance(node.get("properties"), dict) else []
        return own + [name for value in node.values() for name in _property_names(value)]
    if isinstance(node, list):
        return [name for value in node for name in _property_names(value)]
    return []


def test_H1_every_celery_task_of_ours_takes_ids_only() -> None:
    """Task arguments travel through the broker and land in worker logs: only ids may travel.
    A new task with any other kind of argument fails here."""
    import inspect
    import typing

    from config.celery import app

    app.loader.import_default_modules()
    ours = {
        name: task
        for name, task in app.tasks.items()
        if getattr(task.run, "__module__", "").split(".")[0] in ("secrets_app", "syncs", "audit", "approvals")
    }
    assert ours, "no tasks found: the check would prove nothing"
    offending = []
    for name, task in sorted(ours.items()):
        hints = typing.get_type_hints(task.run)
        for parameter in inspect.signature(task.run).parameters.values():
            if parameter.name in ("self", "args", "kwargs"):
                continue
            if not (parameter.name.endswith("_id") and hints.get(parameter.name) is int):
                offending.append(f"{name}({parameter.name}: {hints.get(parameter.name)})")
    for entry in app.conf.beat_schedule.values():
        if any(not isinstance(arg, int) for arg in entry.get("args", ())) or entry.get("kwargs"):
            offending.append(f"beat {entry['task']} {entry.get('args')} {entry.get('kwargs')}")

    assert offending == [], f"tasks whose arguments are not ids: {offending}"
