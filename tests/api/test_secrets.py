"""Secrets through the API, end to end: values round-trip byte for byte, writes never echo values,
check-and-set, versions, rollbacks, bulk upserts, folder commits, and the audit trail of reads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from audit.models import AuditEvent
from tests.api.conftest import error_of, url

PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
    "kHk2+T/abc=\n"
    "-----END PRIVATE KEY-----\n"
)
VALUES = {
    "pem": PEM,
    "unicode": "pässwörd-ñ-日本語-Ωμέγα",
    "emoji": "🔐🗝️👩‍💻",
    "crlf": "line one\r\nline two\r\n",
    "spaces": "  leading and trailing  ",
    "empty": "",
    "nul_and_tabs": "a\x00b\tc",
    "json_like": '{"nested": "json", "n": 1}',
}
MIB = 1024 * 1024


def _create(client: Any, key: str, value: str, **fields: Any) -> Any:
    body = {"environment": "dev", "path": "/", "key": key, "value": value, **fields}
    return client.post(url("secrets/"), body, format="json")


def _value(client: Any, key: str, **params: Any) -> Any:
    return client.get(url(f"secrets/{key}/"), {"environment": "dev", **params})


@pytest.mark.parametrize("name", list(VALUES))
def test_it_round_trips_values_byte_for_byte(seeded: Any, api: Any, name: str) -> None:
    client = api(seeded.bob)

    created = _create(client, "ROUND_TRIP", VALUES[name])
    read = _value(client, "ROUND_TRIP")
    listed = client.get(url("secrets/"), {"environment": "dev", "include_values": "true"})

    assert created.status_code == 201, created.content
    assert read.json()["value"].encode() == VALUES[name].encode()
    assert {s["key"]: s["value"] for s in listed.json()["secrets"]}["ROUND_TRIP"] == VALUES[name]


def test_it_accepts_exactly_one_mebibyte_and_refuses_one_byte_more_naming_value(seeded: Any, api: Any) -> None:
    client = api(seeded.bob)

    ok = _create(client, "BIG", "x" * (MIB - 4) + "🔐")  # 4-byte emoji: exactly 1 MiB of UTF-8
    too_big = _create(client, "BIGGER", "x" * MIB + "y")
    too_big_update = client.patch(url("secrets/BIG/?environment=dev"), {"value": "x" * (MIB + 1)}, format="json")

    assert ok.status_code == 201
    assert len(_value(client, "BIG").json()["value"].encode()) == MIB
    for response in (too_big, too_big_update):
        assert response.status_code == 400
        error = error_of(response)
        assert error["code"] == "validation_error"
        assert list(error["fields"]) == ["value"]
        assert "xxxx" not in response.content.decode()


def test_it_creates_a_secret_without_echoing_its_value(seeded: Any, api: Any) -> None:
    response = _create(
        api(seeded.bob),
        "STRIPE_KEY",
        "sk_live_123",
        comment="rotated monthly",
        ownerLabel="payments",
        purpose="charge cards",
        expiresAt="2030-01-01T00:00:00Z",
    )

    assert response.status_code == 201
    body = response.json()
    assert "value" not in body and "comment" not in body
    assert "sk_live_123" not in response.content.decode()
    assert body["key"] == "STRIPE_KEY" and body["version"] == 1 and body["environment"] == "dev" and body["path"] == "/"
    assert body["ownerLabel"] == "payments" and body["purpose"] == "charge cards"
    assert body["expiresAt"] == "2030-01-01T00:00:00Z"
    assert response["Cache-Control"] == "no-store"


def test_it_answers_409_when_the_key_exists(seeded: Any, api: Any) -> None:
    response = _create(api(seeded.bob), "DB_PASSWORD", "again")

    assert response.status_code == 409
    assert error_of(response)["fields"] == {"key": ["already exists"]}


@pytest.mark.parametrize("key", ["HAS SPACE", "a/b", "${X}", "", "x" * 257, "tab\tkey"])
def test_it_names_the_key_field_when_a_key_is_invalid(seeded: Any, api: Any, key: str) -> None:
    response = _create(api(seeded.bob), key, "v")

    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["key"]


def test_it_names_the_item_of_a_bulk_request_with_a_bad_key(seeded: Any, api: Any) -> None:
    body = {"environment": "dev", "secrets": [{"key": "GOOD", "value": "1"}, {"key": "BAD KEY", "value": "2"}]}

    response = api(seeded.bob).post(url("secrets/bulk/"), body, format="json")

    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["secrets[1].key"]
    assert api(seeded.bob).get(url("secrets/GOOD/"), {"environment": "dev"}).status_code == 404


def test_it_reads_updates_renames_and_deletes_a_secret(seeded: Any, api: Any) -> None:
    client = api(seeded.bob)

    updated = client.patch(
        url("secrets/DB_PASSWORD/?environment=dev"), {"value": "new", "comment": "why", "purpose": "db"}, format="json"
    )
    renamed = client.patch(url("secrets/DB_PASSWORD/?environment=dev"), {"newKey": "DATABASE_PASSWORD"}, format="json")
    read = _value(client, "DATABASE_PASSWORD")
    gone = _value(client, "DB_PASSWORD")
    deleted = client.delete(url("secrets/DATABASE_PASSWORD/?environment=dev"))

    assert updated.status_code == 200 and updated.json()["version"] == 2 and "value" not in updated.json()
    assert updated["ETag"] == '"2"'
    assert renamed.status_code == 200 and renamed.json()["key"] == "DATABASE_PASSWORD"
    assert read.json() | {"createdAt": None, "updatedAt": None} == {
        "key": "DATABASE_PASSWORD",
        "type": "shared",
        "version": 2,
        "environment": "dev",
        "path": "/",
        "tags": [],
        "ownerLabel": "",
        "purpose": "db",
        "expiresAt": None,
        "createdAt": None,
        "updatedAt": None,
        "importedFrom": None,
        "value": "new",
        "comment": "why",
    }
    assert gone.status_code == 404
    assert deleted.status_code == 204
    assert _value(client, "DATABASE_PASSWORD").status_code == 404


def test_it_reads_secrets_in_a_subfolder_with_a_canonicalised_path(seeded: Any, api: Any) -> None:
    response = api(seeded.bob).get(url("secrets/API_KEY/"), {"environment": "dev", "path": "backend/"})

    assert response.status_code == 200
    assert response.json()["path"] == "/backend" and response.json()["value"] == "backend-key"


def test_it_refuses_a_path_with_dot_dot_naming_path(seeded: Any, api: Any) -> None:
    response = api(seeded.bob).get(url("secrets/"), {"environment": "dev", "path": "/backend/../"})

    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["path"]


def test_it_serves_a_secret_named_like_a_route_literal(seeded: Any, api: Any) -> None:
    client = api(seeded.bob)
    _create(client, "bulk", "not a route")

    assert _value(client, "bulk").json()["value"] == "not a route"
    assert client.patch(url("secrets/bulk/?environment=dev"), {"value": "changed"}, format="json").status_code == 200
    assert client.delete(url("secrets/bulk/?environment=dev")).status_code == 204


def test_it_reads_a_unicode_key_from_a_percent_encoded_path(seeded: Any, api: Any) -> None:
    client = api(seeded.bob)
    _create(client, "CLÉ_😀", "v")

    response = client.get("/api/v1/projects/acme/secrets/CL%C3%89_%F0%9F%98%80/?environment=dev")

    assert response.status_code == 200 and response.json()["key"] == "CLÉ_😀"


class TestCheckAndSet:
    def test_it_writes_when_if_match_names_the_current_version(self, seeded: Any, api: Any) -> None:
        client = api(seeded.bob)
        etag = _value(client, "DB_PASSWORD")["ETag"]

        response = client.patch(
            url("secrets/DB_PASSWORD/?environment=dev"), {"value": "v2"}, format="json", HTTP_IF_MATCH=etag
        )

        assert etag == '"1"'
        assert response.status_code == 200 and response.json()["version"] == 2

    @pytest.mark.parametrize("how", ["header", "quoted", "weak", "body"])
    def test_it_answers_412_and_changes_nothing_when_the_version_is_stale(
        self, seeded: Any, api: Any, how: str
    ) -> None:
        client = api(seeded.bob)
        client.patch(url("secrets/DB_PASSWORD/?environment=dev"), {"value": "someone else"}, format="json")
        body: dict[str, Any] = {"value": "mine"}
        headers = {
            "header": {"HTTP_IF_MATCH": "1"},
            "quoted": {"HTTP_IF_MATCH": '"1"'},
            "weak": {"HTTP_IF_MATCH": 'W/"1"'},
        }
        if how == "body":
            body["version"] = 1

        response = client.patch(
            url("secrets/DB_PASSWORD/?environment=dev"), body, format="json", **headers.get(how, {})
        )

        assert response.status_code == 412
        assert error_of(response)["code"] == "precondition_failed"
        current = _value(client, "DB_PASSWORD").json()
        assert (current["value"], current["version"]) == ("someone else", 2)

    def test_it_refuses_an_if_match_that_is_not_a_version(self, seeded: Any, api: Any) -> None:
        response = api(seeded.bob).patch(
            url("secrets/DB_PASSWORD/?environment=dev"), {"value": "x"}, format="json", HTTP_IF_MATCH="*"
        )

        assert response.status_code == 400
        assert list(error_of(response)["fields"]) == ["If-Match"]


def test_it_lists_versions_and_rolls_a_secret_back_by_appending_a_version(seeded: Any, api: Any) -> None:
    client = api(seeded.bob)
    client.patch(url("secrets/DB_PASSWORD/?environment=dev"), {"value": "second"}, format="json")
    client.patch(url("secrets/DB_PASSWORD/?environment=dev"), {"value": "third"}, format="json")

    rolled = client.post(url("secrets/DB_PASSWORD/rollback/"), {"environment": "dev", "version": 1}, format="json")
    versions = client.get(url("secrets/DB_PASSWORD/versions/"), {"environment": "dev"}).json()["versions"]

    assert rolled.status_code == 200 and rolled.json()["version"] == 4 and "value" not in rolled.json()
    assert [(v["version"], v["isCurrent"]) for v in versions] == [(4, True), (3, False), (2, False), (1, False)]
    assert versions[0]["change"] == "rolled back to v1" and versions[0]["actor"] == "bob@example.com"
    assert _value(client, "DB_PASSWORD").json()["value"] == "dev-password"
    assert _value(client, "DB_PASSWORD", version=2).json()["value"] == "second"
    assert (
        client.post(
            url("secrets/DB_PASSWORD/rollback/"), {"environment": "dev", "version": 9}, format="json"
        ).status_code
        == 404
    )


def test_it_bulk_upserts_reporting_created_updated_and_unchanged(seeded: Any, api: Any) -> None:
    client = api(seeded.bob)
    body = {
        "environment": "dev",
        "secrets": [
            {"key": "DB_PASSWORD", "value": "dev-password"},
            {"key": "NEW_ONE", "value": "1", "comment": "c"},
            {"key": "NEW_TWO", "value": "2"},
        ],
    }
    client.post(
        url("secrets/bulk/"), {"environment": "dev", "secrets": [{"key": "NEW_TWO", "value": "old"}]}, format="json"
    )

    response = client.post(url("secrets/bulk/"), body, format="json")

    assert response.status_code == 200
    assert response.json() == {"created": ["NEW_ONE"], "updated": ["NEW_TWO"], "unchanged": ["DB_PASSWORD"]}
    values = client.get(url("secrets/"), {"environment": "dev", "include_values": "true"}).json()["secrets"]
    assert {s["key"]: s["value"] for s in values} == {"DB_PASSWORD": "dev-password", "NEW_ONE": "1", "NEW_TWO": "2"}


def test_it_lists_folder_commits_and_rolls_the_folder_back_restoring_deleted_secrets(seeded: Any, api: Any) -> None:
    client = api(seeded.bob)
    commits = client.get(url("commits/"), {"environment": "dev"}).json()
    target = commits["results"][0]
    client.patch(url("secrets/DB_PASSWORD/?environment=dev"), {"value": "changed"}, format="json")
    _create(client, "ADDED_LATER", "x")
    client.delete(url("secrets/DB_PASSWORD/?environment=dev"))

    rolled = client.post(url(f"commits/{target['id']}/rollback/"), {"environment": "dev", "path": "/"}, format="json")
    listed = client.get(url("secrets/"), {"environment": "dev", "include_values": "true"}).json()["secrets"]
    after = client.get(url("commits/"), {"environment": "dev", "limit": 2}).json()

    assert commits["count"] == 1 and target["secretCount"] == 1 and target["actor"] == "alice@example.com"
    assert set(target) == {"id", "message", "actor", "createdAt", "secretCount"}
    assert rolled.status_code == 200 and rolled.json()["message"] == f"roll back to #1 (commit id {target['id']})"
    assert {s["key"]: s["value"] for s in listed} == {"DB_PASSWORD": "dev-password"}
    assert after["count"] == 5 and len(after["results"]) == 2 and after["next"] and after["previous"] is None
    assert client.post(url("commits/999999/rollback/"), {"environment": "dev"}, format="json").status_code == 404


def test_it_lists_recursively_with_tags_and_imports(seeded: Any, api: Any) -> None:
    client = api(seeded.alice)
    client.post(url("tags/"), {"slug": "pci"}, format="json")
    client.patch(url("secrets/API_KEY/?environment=dev&path=/backend"), {"tags": ["pci"]}, format="json")
    client.post(url("imports/"), {"environment": "dev", "sourceEnvironment": "staging"}, format="json")

    recursive = client.get(url("secrets/"), {"environment": "dev", "recursive": "true"}).json()["secrets"]
    tagged = client.get(url("secrets/"), {"environment": "dev", "recursive": "true", "tags": "pci,other"}).json()
    imported = client.get(url("secrets/"), {"environment": "dev", "include_imports": "true"}).json()

    assert [(s["path"], s["key"]) for s in recursive] == [("/", "DB_PASSWORD"), ("/backend", "API_KEY")]
    assert [s["key"] for s in tagged["secrets"]] == ["API_KEY"] and tagged["secrets"][0]["tags"] == ["pci"]
    assert [(s["key"], s["importedFrom"]) for s in imported["secrets"]] == [("DB_PASSWORD", None)]
    assert imported["importsSkipped"] == []


def test_it_expands_references_only_when_asked(seeded: Any, api: Any) -> None:
    client = api(seeded.bob)
    _create(client, "DSN", "postgres://app:${DB_PASSWORD}@db")

    raw = _value(client, "DSN").json()["value"]
    expanded = _value(client, "DSN", expand="true").json()["value"]

    assert raw == "postgres://app:${DB_PASSWORD}@db"
    assert expanded == "postgres://app:dev-password@db"


def test_it_keeps_a_personal_override_apart_from_the_shared_secret(seeded: Any, api: Any) -> None:
    client = api(seeded.bob)
    created = _create(client, "DB_PASSWORD", "bobs-own", type="personal")

    mine = _value(client, "DB_PASSWORD").json()
    shared = _value(client, "DB_PASSWORD", type="shared").json()
    alice_sees = _value(api(seeded.alice), "DB_PASSWORD").json()
    deleted = client.delete(url("secrets/DB_PASSWORD/?environment=dev&type=personal"))

    assert created.status_code == 201 and created.json()["type"] == "personal"
    assert (mine["type"], mine["value"]) == ("personal", "bobs-own")
    assert (shared["type"], shared["value"]) == ("shared", "dev-password")
    assert alice_sees["value"] == "dev-password"
    assert deleted.status_code == 204 and _value(client, "DB_PASSWORD").json()["type"] == "shared"


def test_it_records_a_value_read_with_the_key_and_never_the_value(seeded: Any, api: Any) -> None:
    client = api(seeded.bob)
    _create(client, "AUDITED", "super-secret-value-42")

    response = _value(client, "AUDITED")

    event = AuditEvent.objects.filter(action="secret.value_read").latest("id")
    assert event.resource_id == "AUDITED" and event.actor_label == "bob@example.com" and event.environment == "dev"
    assert event.request_id == response["X-Request-Id"]
    every_row = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert "super-secret-value-42" not in every_row


def test_it_records_listings_writes_and_deletions(seeded: Any, api: Any) -> None:
    client = api(seeded.bob)
    before = AuditEvent.objects.count()

    client.get(url("secrets/"), {"environment": "dev"})
    client.get(url("secrets/"), {"environment": "dev", "include_values": "true"})
    _create(client, "W", "value-w")
    client.patch(url("secrets/W/?environment=dev"), {"value": "value-w2"}, format="json")
    client.delete(url("secrets/W/?environment=dev"))

    actions = list(AuditEvent.objects.filter(id__gt=0).order_by("id").values_list("action", flat=True))[before:]
    assert actions == ["secret.listed", "secret.values_read", "secret.created", "secret.updated", "secret.deleted"]
    assert "value-w" not in json.dumps(list(AuditEvent.objects.values("metadata")), default=str)
