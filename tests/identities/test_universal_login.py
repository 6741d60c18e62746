"""Universal auth through the real login route: tokens, renewal, revocation, trusted IPs, use limits."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
import time_machine
from django.test import override_settings
from rest_framework.test import APIClient

from audit.models import AuditEvent
from secrets_app.identities.universal import LoginRefused, universal_auth_login
from secrets_app.services.secrets import SecretInput, secret_create
from tests.identities.universal_support import bearer, login, make_org_admin, make_robot

JWT_SHAPE = re.compile(r"^[A-Za-z0-9-_]+\.[A-Za-z0-9-_]+\.[A-Za-z0-9-_]*$")
SECRETS = "/api/v1/projects/acme/secrets/?environment=dev"


@pytest.fixture
def seeded(cast: Any) -> Any:
    secret_create(scope=cast.scope(cast.alice), environment="dev", path="/", item=SecretInput(key="DB", value="pw"))
    return cast


def test_it_logs_in_and_reads_exactly_what_its_role_allows(seeded: Any) -> None:
    robot = make_robot(seeded)
    response = login(robot, ip="192.0.2.10")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"accessToken", "expiresIn", "accessTokenMaxTTL", "tokenType"}
    assert body["tokenType"] == "Bearer" and body["expiresIn"] == 3600 and body["accessTokenMaxTTL"] == 86400
    assert JWT_SHAPE.match(body["accessToken"])
    client = bearer(body["accessToken"])
    assert [s["key"] for s in client.get(SECRETS).json()["secrets"]] == ["DB"]
    assert client.get("/api/v1/projects/acme/secrets/DB/?environment=dev").status_code == 403  # viewer
    assert client.get("/api/v1/projects/evil/secrets/?environment=dev").status_code == 404
    event = AuditEvent.objects.filter(action="identity.logged_in").latest("id")
    assert event.source_ip == "192.0.2.10" and event.resource_id == str(robot.identity.public_id)


def test_it_answers_the_same_401_for_every_kind_of_bad_credential(cast: Any) -> None:
    from secrets_app.identities import services
    from secrets_app.principals import Principal

    robot = make_robot(cast, lockout_enabled=False)
    admin = Principal.for_user(cast.alice)
    revoked_row, revoked = services.client_secret_create(principal=admin, identity=robot.identity)
    services.client_secret_revoke(principal=admin, identity=robot.identity, secret_id=revoked_row.pk)
    _, expiring = services.client_secret_create(principal=admin, identity=robot.identity, ttl_seconds=60)
    attempts = [
        {"clientId": robot.client_id, "clientSecret": "wrong" + robot.client_secret[5:]},
        {"clientId": "8d3f7a2e-0000-4000-8000-000000000000", "clientSecret": robot.client_secret},
        {"clientId": "not-a-uuid", "clientSecret": robot.client_secret},
        {"clientId": robot.client_id, "clientSecret": revoked},
    ]
    answers = [APIClient().post("/api/v1/auth/universal-auth/login", body, format="json") for body in attempts]
    with time_machine.travel(datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(seconds=61)):
        answers.append(
            APIClient().post(
                "/api/v1/auth/universal-auth/login",
                {"clientId": robot.client_id, "clientSecret": expiring},
                format="json",
            )
        )

    for answer in answers:
        assert answer.status_code == 401
        assert answer.json()["error"] == {"code": "invalid_credentials", "message": "Invalid credentials"}
    failures = AuditEvent.objects.filter(action="identity.login_failed")
    assert failures.count() == 5 and all(event.source_ip == "127.0.0.1" for event in failures)


def test_it_expires_at_ttl_and_caps_renewal_at_max_ttl(cast: Any) -> None:
    robot = make_robot(cast, access_token_ttl=60, access_token_max_ttl=150)
    start = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
    renew = "/api/v1/auth/token/renew"
    with time_machine.travel(start, tick=False) as clock:
        token = login(robot).json()["accessToken"]
        clock.move_to(start + datetime.timedelta(seconds=59))
        assert bearer(token).get(SECRETS).status_code == 200
        clock.move_to(start + datetime.timedelta(seconds=61))
        assert bearer(token).get(SECRETS).status_code == 401  # no renewal: expired at 60

        token = login(robot).json()["accessToken"]  # issued at 61, hard limit 211
        for elapsed, expected in ((50, 60), (100, 50), (140, 10)):  # capped at 61 + 150
            clock.move_to(start + datetime.timedelta(seconds=61 + elapsed))
            answer = APIClient().post(renew, {"accessToken": token}, format="json")
            assert answer.status_code == 200 and answer.json()["expiresIn"] == expected
            assert answer.json()["accessToken"] == token and answer.json()["accessTokenMaxTTL"] == 150
        clock.move_to(start + datetime.timedelta(seconds=61 + 149))
        assert bearer(token).get(SECRETS).status_code == 200  # never refused before the expiry it was given
        clock.move_to(start + datetime.timedelta(seconds=61 + 151))
        assert bearer(token).get(SECRETS).status_code == 401
        assert APIClient().post(renew, {"accessToken": token}, format="json").status_code == 401
    assert AuditEvent.objects.filter(action="identity.token_renewed").count() == 3


def test_it_revokes_one_token_all_tokens_and_a_client_secrets_tokens_on_the_next_request(api: Any, cast: Any) -> None:
    from secrets_app.identities import services
    from secrets_app.principals import Principal

    robot = make_robot(cast)
    admin = api(make_org_admin(cast))
    base = f"/api/v1/identities/{robot.identity.public_id}"

    first, second = (login(robot).json()["accessToken"] for _ in range(2))
    revoked = APIClient().post("/api/v1/auth/token/revoke", {"accessToken": first}, format="json")
    assert revoked.status_code == 200 and revoked.json() == {"message": "Successfully revoked access token"}
    assert bearer(first).get(SECRETS).status_code == 401
    assert bearer(second).get(SECRETS).status_code == 200

    answer = admin.post(f"{base}/tokens/revoke/", {"reason": "laptop stolen"}, format="json")
    assert answer.status_code == 200 and answer.json() == {"revoked": 1}
    assert bearer(second).get(SECRETS).status_code == 401
    after = login(robot).json()["accessToken"]
    assert bearer(after).get(SECRETS).status_code == 200  # new logins still work

    other_row, other_secret = services.client_secret_create(
        principal=Principal.for_user(cast.alice), identity=robot.identity
    )
    other_token = login(robot, secret=other_secret).json()["accessToken"]
    answer = admin.post(f"{base}/universal-auth/client-secrets/{robot.secret_row.pk}/revoke/", {}, format="json")
    assert answer.status_code == 200 and answer.json()["isRevoked"] is True
    assert bearer(after).get(SECRETS).status_code == 401  # issued by the revoked secret
    assert bearer(other_token).get(SECRETS).status_code == 200  # issued by another one
    assert login(robot).status_code == 401  # the revoked secret itself
    assert other_row.pk != robot.secret_row.pk
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"identity.token_revoked", "identity.tokens_revoked", "identity.client_secret_revoked"} <= actions


def test_it_refuses_untrusted_addresses_for_the_secret_and_the_token(cast: Any) -> None:
    robot = make_robot(
        cast,
        client_secret_trusted_ips=["10.0.0.0/24", "2001:db8::/32"],
        access_token_trusted_ips=["10.0.1.0/24"],
        secret={"trusted_ips": ["10.0.0.0/25", "2001:db8::/48"]},
    )
    assert login(robot, ip="10.0.2.5").status_code == 403
    assert login(robot, ip="10.0.0.200").status_code == 403  # allowed by the config, not by this secret
    assert login(robot, ip="::ffff:10.0.0.7").status_code == 200  # IPv4-mapped IPv6
    assert login(robot, ip="2001:db8::5").status_code == 200
    token = login(robot, ip="10.0.0.9").json()["accessToken"]
    assert bearer(token).get(SECRETS, REMOTE_ADDR="10.0.0.9").status_code == 401
    assert bearer(token).get(SECRETS, REMOTE_ADDR="10.0.1.9").status_code == 200
    # A forged X-Forwarded-For from a peer that is not a trusted proxy is not believed...
    forged = login(robot, client=_with_forwarded("10.0.0.9"), ip="198.51.100.7")
    assert forged.status_code == 403
    # ...from a configured proxy it is.
    with override_settings(TRUSTED_PROXIES=["198.51.100.0/24"]):
        assert login(robot, client=_with_forwarded("10.0.0.9"), ip="198.51.100.7").status_code == 200
    refused = [
        event
        for event in AuditEvent.objects.filter(action="identity.login_failed")
        if "IP not allowed" in event.metadata["reason"]
    ]
    assert {event.source_ip for event in refused} == {"10.0.2.5", "10.0.0.200", "198.51.100.7"}


def _with_forwarded(address: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_FORWARDED_FOR=address)
    return client


def test_it_counts_client_secret_and_token_uses(cast: Any) -> None:
    robot = make_robot(cast, access_token_num_uses_limit=2, secret={"num_uses_limit": 2})
    token = login(robot).json()["accessToken"]
    assert login(robot).status_code == 200
    assert login(robot).status_code == 401  # the secret's third use
    assert [bearer(token).get(SECRETS).status_code for _ in range(3)] == [200, 200, 401]
    robot.secret_row.refresh_from_db()
    assert robot.secret_row.num_uses == 2


def test_it_refuses_a_deactivated_identity_and_its_tokens(api: Any, cast: Any) -> None:
    robot = make_robot(cast, lockout_enabled=False)
    token = login(robot).json()["accessToken"]
    admin = api(make_org_admin(cast))
    answer = admin.patch(f"/api/v1/identities/{robot.identity.public_id}/", {"isActive": False}, format="json")
    assert answer.status_code == 200 and answer.json()["isActive"] is False
    assert bearer(token).get(SECRETS).status_code == 401
    with pytest.raises(LoginRefused):
        universal_auth_login(client_id=robot.client_id, client_secret=robot.client_secret, ip="127.0.0.1")
