"""The REST API end to end: define, lease (credentials once), read, renew, revoke, force-revoke,
delete; errors name the field; the allowlist is for org admins."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import error_of
from tests.dynamic.conftest import pg_login, pg_role_exists

pytestmark = pytest.mark.django_db
BASE = "/api/v1/projects/acme/"


def _create_body(target: Any, **extra: Any) -> dict[str, Any]:
    return {
        "environment": "dev",
        "path": "/",
        "name": "app-db",
        "provider": "postgresql",
        "config": target.config(),
        "credentials": target.credentials(),
        "defaultTTL": "1h",
        "maxTTL": "2h",
        **extra,
    }


def test_a_dynamic_secret_and_its_lease_over_the_api(
    cast: Any, api: Any, allow_local: None, pg_target: Any, dyn_settings: Any
) -> None:
    alice, bob = api(cast.alice), api(cast.bob)

    created = alice.post(BASE + "dynamic-secrets/", _create_body(pg_target), format="json")
    assert created.status_code == 201, created.content
    secret = created.json()
    assert secret["credentialNames"] == ["password"] and pg_target.password not in created.content.decode()
    assert bob.post(BASE + "dynamic-secrets/", _create_body(pg_target, name="x"), format="json").status_code == 403

    too_long = bob.post(f"{BASE}dynamic-secrets/{secret['id']}/leases/", {"ttl": "3h"}, format="json")
    assert too_long.status_code == 400
    assert error_of(too_long)["fields"] == {"ttl": ["TTL cannot be larger than max TTL"]}

    leased = bob.post(f"{BASE}dynamic-secrets/{secret['id']}/leases/", {"ttl": 600}, format="json")
    assert leased.status_code == 201, leased.content
    assert leased["Cache-Control"] == "no-store"
    body = leased.json()
    data, lease = body["data"], body["lease"]
    assert set(data) == {"DB_USERNAME", "DB_PASSWORD"} and lease["externalEntityId"] == data["DB_USERNAME"]
    assert lease["status"] == "active" and lease["consumer"]["label"] == "bob@example.com"
    with pg_login(pg_target, data["DB_USERNAME"], data["DB_PASSWORD"]) as conn:
        conn.execute("SELECT 1 FROM items")

    shown = bob.get(f"{BASE}leases/{lease['id']}/")
    listed = bob.get(f"{BASE}dynamic-secrets/{secret['id']}/leases/")
    assert shown.status_code == 200 and data["DB_PASSWORD"] not in shown.content.decode() + listed.content.decode()
    assert [item["id"] for item in listed.json()["leases"]] == [lease["id"]]
    assert api(cast.dave).get(f"{BASE}leases/{lease['id']}/").status_code == 403  # a viewer reads no credentials

    renewed = bob.post(f"{BASE}leases/{lease['id']}/renew/", {"ttl": "10m"}, format="json")
    assert renewed.status_code == 200 and renewed.json()["lease"]["version"] == 2

    assert bob.post(f"{BASE}leases/{lease['id']}/force-revoke/", {}, format="json").status_code == 403
    revoked = bob.post(f"{BASE}leases/{lease['id']}/revoke/", {}, format="json")
    assert revoked.status_code == 200 and revoked.json()["lease"]["status"] == "revoked"
    assert not pg_role_exists(data["DB_USERNAME"])

    gone = alice.delete(f"{BASE}dynamic-secrets/{secret['id']}/")
    assert gone.json() == {"deleted": True, "leasesRevoked": 0, "leasesLeftInPlace": 0}
    assert bob.get(f"{BASE}leases/?status=revoked").json()["leases"][0]["dynamicSecretName"] == "app-db"


def test_errors_name_the_field(cast: Any, api: Any, allow_local: None, pg_target: Any) -> None:
    alice = api(cast.alice)

    cases = [
        ({"defaultTTL": "10s"}, "defaultTTL"),
        ({"maxTTL": "forever"}, "maxTTL"),
        ({"provider": "oracle"}, "provider"),
        ({"config": {**pg_target.config(), "hots": "x"}}, "config.hots"),
        ({"credentials": {}}, "credentials.password"),
        ({"usernameTemplate": "{{password}}"}, "usernameTemplate"),
        ({"statements": {"creation": ["CREATE ROLE '{{username}}"]}}, "statements.creation"),
        ({"statements": {"revocation": ['DROP ROLE "{{password}}"']}}, "statements.revocation"),
        ({"passwordRequirements": {"length": 5}}, "passwordRequirements.length"),
    ]
    for change, field in cases:
        response = alice.post(BASE + "dynamic-secrets/", _create_body(pg_target, **change), format="json")
        assert response.status_code == 400, (field, response.content)
        assert field in error_of(response)["fields"], (field, response.content)
        assert pg_target.password not in response.content.decode()


def test_the_target_allowlist_over_the_api(cast: Any, api: Any) -> None:
    from tests.identities.universal_support import make_org_admin

    make_org_admin(cast)
    url = "/api/v1/organizations/acme-org/dynamic-secret-targets/"

    saved = api(cast.alice).put(url, {"entries": ["10.1.0.0/16", "DB.internal"]}, format="json")
    bad = api(cast.alice).put(url, {"entries": ["nope nope"]}, format="json")

    assert saved.json() == {"entries": ["10.1.0.0/16", "db.internal"]}
    assert api(cast.alice).get(url).json() == saved.json()
    assert bad.status_code == 400 and error_of(bad)["fields"] == {"entries[0]": ["not a host name, IP address or CIDR"]}
    assert api(cast.bob).get(url).status_code == 403


def test_a_retried_lease_creation_with_an_idempotency_key_takes_no_second_lease(
    cast: Any, api: Any, pg_secret: Any
) -> None:
    import json

    from dynamic.models import Lease
    from secrets_app.models import IdempotencyRecord

    bob, url = api(cast.bob), f"{BASE}dynamic-secrets/{pg_secret.public_id}/leases/"
    first = bob.post(url, {"ttl": "10m"}, format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
    replay = bob.post(url, {"ttl": "10m"}, format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
    other_request = bob.post(url, {"ttl": "20m"}, format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
    refused = bob.post(url, {"ttl": "11 years"}, format="json", HTTP_IDEMPOTENCY_KEY="retry-2")
    fixed = bob.post(url, {"ttl": "11 years"}, format="json", HTTP_IDEMPOTENCY_KEY="retry-2")

    assert first.status_code == 201, first.content
    lease_id, password = first.json()["lease"]["id"], first.json()["data"]["DB_PASSWORD"]
    assert replay.status_code == 409 and replay["Idempotent-Replayed"] == "true"
    assert error_of(replay)["code"] == "lease_already_created" and error_of(replay)["leaseId"] == lease_id
    assert lease_id in error_of(replay)["message"] and "data" not in replay.json()
    assert other_request.status_code == 422  # the key names another request
    assert refused.status_code == 400 and fixed.status_code == 400  # a failure frees its key: not a 409
    assert [str(pk) for pk in Lease.objects.values_list("public_id", flat=True)] == [lease_id]
    stored = json.dumps(list(IdempotencyRecord.objects.values()), default=str)
    assert lease_id in stored and password not in stored and first.json()["data"]["DB_USERNAME"] not in stored
    assert pg_role_exists(first.json()["data"]["DB_USERNAME"])
