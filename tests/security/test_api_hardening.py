"""API hardening (issue #8): per-principal rate limits (G3), audit of rejected tokens and invalid
writes (D1), deactivation revokes tokens (B3), and strict request handling (E1).

Everything runs through the real routes on PostgreSQL and Redis; the "limiter store down" case uses
a private redis-server on a free port that the test stops.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings
from rest_framework.test import APIClient

from audit.models import AuditEvent
from tests.compat.conftest import BASE, make_machine
from tests.support.redis_server import private_redis_server

CANARY = "CANARY-h5-" + uuid.uuid4().hex


def _fresh_limiter(**extra: Any) -> override_settings:
    """The limiter on its own cache alias with a fresh key prefix (no count carried over from an
    earlier run in the same minute), plus *extra* settings."""
    caches = dict(settings.CACHES)
    caches["ratelimit-test"] = {**settings.CACHES["default"], "KEY_PREFIX": f"h5-{uuid.uuid4().hex}"}
    return override_settings(CACHES=caches, STRONGROOM_RATE_LIMIT_CACHE="ratelimit-test", **extra)


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def _row_text(event: AuditEvent) -> str:
    return json.dumps(
        {field.name: str(getattr(event, field.attname)) for field in AuditEvent._meta.concrete_fields}, default=str
    )


def _identity_token(cast: Any, name: str = "robot") -> tuple[Any, str]:
    machine = make_machine(cast.project, name, "member")
    response = Client().post(
        f"{BASE}/api/v1/auth/universal-auth/login",
        {"clientId": machine.client_id, "clientSecret": machine.client_secret},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return machine.identity, response.json()["accessToken"]


def _compat_list(token: str, project: Any) -> Any:
    return Client().get(
        f"{BASE}/api/v3/secrets/raw",
        {"workspaceId": str(project.public_id), "environment": "dev"},
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


# --- G3: rate limits --------------------------------------------------------------------------------
def test_G3_api_token_rate_limited_429_retry_after(cast: Any, api: Any) -> None:
    with _fresh_limiter(STRONGROOM_API_READ_RATE_PER_MINUTE=3, STRONGROOM_API_WRITE_RATE_PER_MINUTE=2):
        alice, bob = api(cast.alice), api(cast.bob)
        reads = [alice.get("/api/v1/projects/").status_code for _ in range(3)]
        limited = alice.get("/api/v1/projects/acme/")
        # Writes have their own budget; bob has his own; health probes are never counted.
        write = alice.post("/api/v1/tokens/", {"name": "second"}, format="json")
        bob_read = bob.get("/api/v1/projects/")
        health = Client().get("/healthz")
        # The same budget on the compat adapter, per machine identity.
        _identity, token = _identity_token(cast)
        compat = [_compat_list(token, cast.project).status_code for _ in range(4)]
        compat_limited = _compat_list(token, cast.project)

    assert reads == [200, 200, 200]
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited.json()["error"]["code"] == "throttled"
    assert write.status_code == 201 and bob_read.status_code == 200 and health.status_code == 200
    assert compat == [200, 200, 200, 429]
    assert compat_limited.status_code == 429 and 1 <= int(compat_limited["Retry-After"]) <= 60
    assert compat_limited.json()["error"] == "RateLimitExceeded"


def test_G3_rate_limit_audited_once_per_window(cast: Any, api: Any) -> None:
    with _fresh_limiter(STRONGROOM_API_WRITE_RATE_PER_MINUTE=2):
        alice = api(cast.alice)
        answers = [alice.post("/api/v1/tokens/", {"name": f"t{n}"}, format="json").status_code for n in range(6)]

    assert answers == [201, 201, 429, 429, 429, 429]
    events = _events("request.rate_limited")
    assert len(events) == 1
    event = events[0]
    assert (event.actor_type, event.actor_id, event.outcome) == ("user", str(cast.alice.pk), "deny")
    assert event.metadata["kind"] == "write" and event.metadata["limit_per_minute"] == 2


@pytest.fixture
def private_redis(tmp_path: Any) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    with private_redis_server(tmp_path) as server:
        yield server


def test_G3_rate_limit_store_down_keeps_the_api_limited_in_process_and_refuses_logins(
    cast: Any, api: Any, private_redis: Any
) -> None:
    """With the shared store gone, authenticated API calls are still served from PostgreSQL and
    still limited (counted in the process), while machine logins fail closed."""
    process, port = private_redis
    caches = dict(settings.CACHES)
    caches["ratelimit-private"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{port}/0",
    }
    _identity, token = _identity_token(cast)
    machine = make_machine(cast.project, "store-down-robot", "member")
    login = {"clientId": machine.client_id, "clientSecret": machine.client_secret}
    with override_settings(
        CACHES=caches, STRONGROOM_RATE_LIMIT_CACHE="ratelimit-private", STRONGROOM_API_READ_RATE_PER_MINUTE=4
    ):
        alice = api(cast.alice)
        before = alice.get("/api/v1/projects/").status_code
        compat_before = _compat_list(token, cast.project).status_code
        process.terminate()
        process.wait(timeout=10)
        reads = [
            alice.get("/api/v1/projects/acme/secrets/", {"environment": "dev", "include_values": "true"})
            for _ in range(5)
        ]
        write = alice.post("/api/v1/tokens/", {"name": "while-down"}, format="json")
        compat = _compat_list(token, cast.project)
        logged_in = Client().post("/api/v1/auth/universal-auth/login", login, content_type="application/json")
        health = Client().get("/healthz")

    assert (before, compat_before) == (200, 200)
    assert [read.status_code for read in reads] == [200, 200, 200, 200, 429]
    assert reads[-1]["Retry-After"]
    assert write.status_code == 201 and cast.alice.api_tokens.filter(name="while-down").exists()
    assert compat.status_code == 200
    assert logged_in.status_code == 503
    assert health.status_code == 200


def test_G3_compat_login_limiter_cannot_be_skipped(cast: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compat login used to import the limiter at request time and skip it on ImportError."""
    machine = make_machine(cast.project, "robot", "member")
    monkeypatch.setitem(sys.modules, "secrets_app.identities.login_views", None)  # any later import fails
    body = {"clientId": machine.client_id, "clientSecret": machine.client_secret}
    with _fresh_limiter(STRONGROOM_LOGIN_RATE_PER_MINUTE=1):
        answers = [
            Client().post(f"{BASE}/api/v1/auth/universal-auth/login", body, content_type="application/json").status_code
            for _ in range(2)
        ]
    assert answers == [200, 429]


# --- D1: audit of refusals --------------------------------------------------------------------------
def test_D1_rejected_bearer_token_audited(cast: Any, token_for: Any) -> None:
    from secrets_app.services.personal_tokens import personal_token_revoke

    personal = token_for(cast.alice)
    row = cast.alice.api_tokens.get()
    personal_token_revoke(user=cast.alice, token_id=row.pk)
    identity, identity_token = _identity_token(cast)
    from secrets_app.identities.access_tokens import identity_tokens_revoke
    from tests.compat.conftest import SYSTEM

    identity_tokens_revoke(identity=identity, actor=SYSTEM)
    garbage = "not-a-token-" + CANARY
    before = AuditEvent.objects.count()

    answers = [
        APIClient().get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Bearer {personal}").status_code,
        APIClient().get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Bearer {identity_token}").status_code,
        APIClient().get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Bearer {garbage}").status_code,
        _compat_list(identity_token, cast.project).status_code,
        _compat_list(garbage, cast.project).status_code,
    ]

    assert answers == [401, 401, 401, 401, 403]
    events = _events("token.rejected")
    assert len(events) == 5 and AuditEvent.objects.count() == before + 5  # one event per request
    assert all(event.outcome == "deny" for event in events)
    personal_event, identity_event, garbage_event, compat_identity, compat_garbage = events
    assert (personal_event.actor_type, personal_event.actor_id) == ("user", str(cast.alice.pk))
    assert personal_event.metadata["token_id"] == row.pk and personal_event.metadata["token_prefix"] == row.prefix
    assert (identity_event.actor_type, identity_event.actor_id) == ("identity", str(identity.pk))
    assert identity_event.metadata["surface"] == "api" and compat_identity.metadata["surface"] == "compat"
    assert identity_event.metadata["token_id"] == compat_identity.metadata["token_id"] is not None
    assert garbage_event.actor_type == "anonymous" and compat_garbage.metadata["token_id"] is None
    for event in events:
        text = _row_text(event)
        assert personal not in text and identity_token not in text and CANARY not in text
        assert identity_token.split(".")[2] not in text  # not even the signature


def test_D1_validation_failure_on_write_audited_without_values(cast: Any, api: Any) -> None:
    _identity, token = _identity_token(cast)
    alice = api(cast.alice)
    before = AuditEvent.objects.count()

    native = alice.post(
        "/api/v1/projects/acme/secrets/",
        {"environment": "dev", "key": "OK_KEY", "value": {"nested": CANARY}, "comment": [CANARY]},
        format="json",
    )
    compat = Client().post(
        f"{BASE}/api/v3/secrets/raw/SOME_KEY",
        {"workspaceId": str(cast.project.public_id), "secretValue": {"x": CANARY}, "secretComment": [CANARY]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    bad_read = alice.get("/api/v1/projects/acme/secrets/", {"include_values": CANARY})

    assert native.status_code == 400 and compat.status_code == 422 and bad_read.status_code == 400
    events = _events("request.invalid")
    assert len(events) == 2 and AuditEvent.objects.count() == before + 2  # one per write, none for the read
    native_event, compat_event = events
    assert (native_event.actor_type, native_event.actor_id) == ("user", str(cast.alice.pk))
    assert native_event.outcome == "deny" and native_event.metadata["method"] == "POST"
    assert {"value", "comment"} <= set(native_event.metadata["fields"])
    assert {"environment", "secretValue", "secretComment"} <= set(compat_event.metadata["fields"])
    assert compat_event.actor_type == "identity"
    for event in AuditEvent.objects.filter(id__gt=0):
        assert CANARY not in _row_text(event)


# --- B3: deactivation revokes ---------------------------------------------------------------------
def test_B3_reactivated_identity_old_tokens_stay_revoked(cast: Any, api: Any) -> None:
    from secrets_app.models import OrganizationMembership, OrgRole

    OrganizationMembership.objects.filter(user=cast.alice).update(role=OrgRole.ADMIN)
    identity, token = _identity_token(cast)
    admin = api(cast.alice)
    assert _compat_list(token, cast.project).status_code == 200

    off = admin.patch(f"/api/v1/identities/{identity.public_id}/", {"isActive": False}, format="json")
    on = admin.patch(f"/api/v1/identities/{identity.public_id}/", {"isActive": True}, format="json")

    assert (off.status_code, on.status_code) == (200, 200)
    assert _compat_list(token, cast.project).status_code == 401
    assert APIClient().get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    revoked = _events("identity.tokens_revoked")
    assert len(revoked) == 1 and revoked[0].metadata["count"] == 1
    _same, fresh = _identity_token_again(cast, identity)
    assert _compat_list(fresh, cast.project).status_code == 200  # new logins work once reactivated


def _identity_token_again(cast: Any, identity: Any) -> tuple[Any, str]:
    from secrets_app.identities.services import client_secret_create_as
    from secrets_app.models import UniversalAuth
    from tests.compat.conftest import SYSTEM

    _row, secret = client_secret_create_as(actor=SYSTEM, identity=identity, description="again")
    client_id = str(UniversalAuth.objects.get(identity=identity).client_id)
    response = Client().post(
        f"{BASE}/api/v1/auth/universal-auth/login",
        {"clientId": client_id, "clientSecret": secret},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return identity, response.json()["accessToken"]


# --- E1: strict requests ----------------------------------------------------------------------------
def test_E1_wrong_content_type_415(cast: Any, token_for: Any) -> None:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token_for(cast.alice)}"}
    client = Client()
    as_text = client.post("/api/v1/tokens/", "name=x", content_type="text/plain", **headers)
    as_form = client.post("/api/v1/tokens/", {"name": "x"}, **headers)  # multipart form
    as_xml = client.post("/api/v1/projects/acme/secrets/", "<a/>", content_type="application/xml", **headers)

    assert (as_text.status_code, as_form.status_code, as_xml.status_code) == (415, 415, 415)
    assert as_text.json()["error"]["code"] == "unsupported_media_type"
    assert not cast.alice.api_tokens.filter(name="x").exists()


def test_E1_unknown_method_405(cast: Any, token_for: Any) -> None:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token_for(cast.alice)}"}
    client = Client()
    answers = [
        client.generic(method, path, **headers).status_code
        for method, path in [
            ("PROPFIND", "/api/v1/projects/"),
            ("TRACE", "/api/v1/projects/acme/secrets/"),
            ("PUT", "/api/v1/projects/"),
            ("DELETE", "/api/v1/me/"),
        ]
    ]
    assert answers == [405, 405, 405, 405]


def test_E1_extra_fields_are_refused_not_assigned(cast: Any, api: Any) -> None:
    alice = api(cast.alice)
    body = {"environment": "dev", "key": "MASS", "value": "v"}
    refused = [
        alice.post("/api/v1/projects/acme/secrets/", {**body, extra: value}, format="json")
        for extra, value in [("project_id", 999), ("version", 7), ("created_by", 1), ("is_revoked", True)]
    ]
    created = alice.post("/api/v1/projects/acme/secrets/", body, format="json")

    assert [answer.status_code for answer in refused] == [400, 400, 400, 400]
    assert [sorted(answer.json()["error"]["fields"]) for answer in refused] == [
        ["project_id"],
        ["version"],
        ["created_by"],
        ["is_revoked"],
    ]
    assert created.status_code == 201 and created.json()["version"] == 1


def test_E1_wrong_json_types_and_blank_filters_are_400(cast: Any, api: Any) -> None:
    """Seen by schemathesis: ``{"name": 0}`` was taken as ``"0"``, ``?until=`` as no filter."""
    from secrets_app.models import OrganizationMembership, OrgRole

    OrganizationMembership.objects.filter(user=cast.alice).update(role=OrgRole.ADMIN)
    alice = api(cast.alice)
    identity, _token = _identity_token(cast)
    number_name = alice.post("/api/v1/tokens/", {"name": 0}, format="json")
    string_flag = alice.patch(f"/api/v1/identities/{identity.public_id}/", {"isActive": "false"}, format="json")
    string_number = alice.post(
        "/api/v1/projects/acme/environments/", {"slug": "qa", "name": "QA", "position": "2"}, format="json"
    )
    blank_filter = alice.get("/api/v1/audit-events/", {"until": ""})
    no_route = alice.get("/api/v1/tokens/not-a-number/")

    assert number_name.status_code == 400 and list(number_name.json()["error"]["fields"]) == ["name"]
    assert string_flag.status_code == 400 and list(string_flag.json()["error"]["fields"]) == ["isActive"]
    assert string_number.status_code == 400 and list(string_number.json()["error"]["fields"]) == ["position"]
    assert blank_filter.status_code == 400 and list(blank_filter.json()["error"]["fields"]) == ["until"]
    assert not cast.alice.api_tokens.filter(name="0").exists()
    identity.refresh_from_db()
    assert identity.is_active
    assert no_route.status_code == 404 and no_route["Content-Type"] == "application/json"
    assert no_route.json()["error"]["code"] == "not_found"
