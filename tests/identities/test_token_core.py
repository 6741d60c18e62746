"""The identity token core: a token names its row; the row decides, on every request."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from secrets_app.identities.access_tokens import (
    TokenError,
    access_token_authenticate,
    access_token_issue,
    access_token_renew,
    access_token_revoke,
)
from secrets_app.models import IdentityProjectMembership, MachineIdentity, UniversalAuth
from secrets_app.services.secrets import SecretInput, secret_create


@pytest.fixture
def robot(cast: Any) -> MachineIdentity:
    identity = MachineIdentity.objects.create(organization=cast.organization, name="ci-pipeline")
    IdentityProjectMembership.objects.create(project=cast.project, identity=identity, builtin_role="viewer")
    return identity


def _issue(identity: MachineIdentity, **settings: Any) -> Any:
    config = UniversalAuth(identity=identity, **settings)
    return access_token_issue(identity=identity, auth_method="universal-auth", settings_from=config, ip="127.0.0.1")


def test_it_reads_with_an_identity_token_exactly_what_its_role_allows(cast: Any, robot: MachineIdentity) -> None:
    secret_create(scope=cast.scope(cast.alice), environment="dev", path="/", item=SecretInput(key="DB", value="s3cret"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {_issue(robot).access_token}")
    names = client.get("/api/v1/projects/acme/secrets/?environment=dev")
    assert names.status_code == 200 and [s["key"] for s in names.json()["secrets"]] == ["DB"]
    assert client.get("/api/v1/projects/acme/secrets/DB/?environment=dev").status_code == 403  # viewer: no values
    assert client.get("/api/v1/projects/evil/secrets/?environment=dev").status_code == 404
    assert client.get("/api/v1/tokens/").status_code == 403  # person-only endpoint


def test_it_expires_renews_up_to_max_ttl_and_revokes(robot: MachineIdentity) -> None:
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False) as clock:
        issued = _issue(robot, access_token_ttl=60, access_token_max_ttl=150)
        clock.move_to(start + datetime.timedelta(seconds=59))
        access_token_authenticate(raw_token=issued.access_token, ip="127.0.0.1")
        clock.move_to(start + datetime.timedelta(seconds=50))
        assert access_token_renew(raw_token=issued.access_token, ip="127.0.0.1").expires_in == 60
        clock.move_to(start + datetime.timedelta(seconds=140))
        with pytest.raises(TokenError):  # expired at 110 without another renewal
            access_token_authenticate(raw_token=issued.access_token, ip="127.0.0.1")
    with time_machine.travel(start + datetime.timedelta(seconds=200), tick=False):
        issued = _issue(robot, access_token_ttl=60, access_token_max_ttl=150)
    with time_machine.travel(start + datetime.timedelta(seconds=250), tick=False):
        assert access_token_renew(raw_token=issued.access_token, ip="127.0.0.1").expires_in == 60
    with time_machine.travel(start + datetime.timedelta(seconds=300), tick=False):
        renewed = access_token_renew(raw_token=issued.access_token, ip="127.0.0.1")
        assert renewed.expires_in == 50  # capped at created + max TTL (350), not now + TTL (360)
    access_token_revoke(raw_token=issued.access_token)
    with pytest.raises(TokenError, match="revoked"):
        access_token_authenticate(raw_token=issued.access_token, ip="127.0.0.1")


def test_it_refuses_forged_tokens_and_other_ips(robot: MachineIdentity) -> None:
    issued = _issue(robot, access_token_trusted_ips=["10.0.0.0/24"])
    with pytest.raises(TokenError, match="IP"):
        access_token_authenticate(raw_token=issued.access_token, ip="10.0.1.5")
    access_token_authenticate(raw_token=issued.access_token, ip="::ffff:10.0.0.9")
    header, payload, signature = issued.access_token.split(".")
    with pytest.raises(TokenError):
        access_token_authenticate(raw_token=f"{header}.{payload}.{signature[:-2]}AA", ip="10.0.0.9")
