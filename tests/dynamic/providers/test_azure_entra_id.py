"""Microsoft Entra ID leases against the local Entra token + Graph emulator over HTTPS: the leased
password signs the user in (ROPC, the emulator's password check) until the lease is revoked."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.emulators.entra_graph import EntraGraphEmulator

pytestmark = pytest.mark.django_db


def _define(cast: Any, entra: EntraGraphEmulator, user_id: str, *, client_secret: str | None = None) -> Any:
    from dynamic.services.definitions import Definition, dynamic_secret_create

    return dynamic_secret_create(
        scope=cast.scope(cast.alice),
        environment="dev",
        path="/",
        name="entra",
        provider="azure_entra_id",
        definition=Definition(
            config={
                "tenantId": entra.tenant_id,
                "userId": user_id,
                "email": "break.glass@example.com",
                "applicationId": entra.client_id,
                "authorityUrl": entra.url,
                "graphUrl": entra.url,
            },
            credentials={"clientSecret": client_secret or entra.client_secret},
            default_ttl="1h",
        ),
    )


def _signs_in(entra: EntraGraphEmulator, upn: str, password: str) -> bool:
    answer = requests.post(
        f"{entra.url}/{entra.tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "password",
            "client_id": entra.client_id,
            "username": upn,
            "password": password,
            "scope": "https://graph.microsoft.com/.default",
        },
        verify=entra.ca_file,
        timeout=10,
    )
    return answer.status_code == 200


def test_it_leases_the_users_password_which_works_until_revoked(
    cast: Any, allow_local: None, dyn_settings: Any, entra: EntraGraphEmulator
) -> None:
    from audit.models import AuditEvent
    from dynamic.services.leases import lease_create, lease_renew, lease_revoke

    user = entra.add_user("break.glass@example.com", "Original-Passw0rd")
    secret = _define(cast, entra, user.id)

    issued = lease_create(scope=cast.scope(cast.bob), secret=secret)

    assert set(issued.data) == {"email", "password"}
    assert issued.data["email"] == "break.glass@example.com"
    leased = issued.data["password"]
    assert issued.lease.username == user.id  # externalEntityId: the user's id
    assert _signs_in(entra, user.user_principal_name, leased)
    assert not _signs_in(entra, user.user_principal_name, "Original-Passw0rd")
    patches = [auth for method, path, auth in entra.requests if method == "PATCH"]
    assert patches and all(auth.startswith("Bearer ") and auth[7:] in entra.app_tokens for auth in patches)

    renewed = lease_renew(scope=cast.scope(cast.bob), lease=issued.lease, ttl="30m")  # nothing to do remotely
    assert _signs_in(entra, user.user_principal_name, leased) and renewed.version == 2

    revoked = lease_revoke(scope=cast.scope(cast.bob), lease=renewed)

    assert revoked.status == "revoked"
    assert not _signs_in(entra, user.user_principal_name, leased)
    history = entra.passwords[user.id]
    assert history[0] == leased and len(history) == 2 and history[1] != leased
    unseen = history[1]
    assert len(unseen) == 64
    events = AuditEvent.objects.filter(resource_id=str(issued.lease.public_id))
    assert events.exists()
    assert not any(leased in str(event.metadata) or unseen in str(event.metadata) for event in events)


def test_revoking_when_the_user_is_gone_is_success(
    cast: Any, allow_local: None, dyn_settings: Any, entra: EntraGraphEmulator
) -> None:
    from dynamic.models import Lease
    from dynamic.services.leases import lease_create
    from dynamic.services.revocation import revoke_remote

    user = entra.add_user("temp@example.com", "Original-Passw0rd")
    issued = lease_create(scope=cast.scope(cast.alice), secret=_define(cast, entra, user.id))
    del entra.users[user.id]  # deleted in the tenant meanwhile

    assert revoke_remote(Lease.objects.get(pk=issued.lease.pk)) is None


def test_it_tests_the_app_credentials_and_the_user_on_save(
    cast: Any, allow_local: None, dyn_settings: Any, entra: EntraGraphEmulator
) -> None:
    from secrets_app.errors import ValidationFailed

    user = entra.add_user("someone@example.com", "Original-Passw0rd")
    wrong = "app~not-the-secret-0123456789"
    with pytest.raises(ValidationFailed) as bad_secret:
        _define(cast, entra, user.id, client_secret=wrong)
    assert "invalid_client" in str(bad_secret.value) and wrong not in str(bad_secret.value)

    with pytest.raises(ValidationFailed, match="no user with that userId"):
        _define(cast, entra, "00000000-0000-0000-0000-000000000000")
    assert entra.passwords == {}  # a failed save changed no password


def test_the_emulator_certificate_is_verified(
    cast: Any, allow_local: None, dyn_settings: Any, entra: EntraGraphEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from secrets_app.errors import ValidationFailed

    monkeypatch.delenv("REQUESTS_CA_BUNDLE")  # the private CA is no longer trusted
    user = entra.add_user("someone@example.com", "Original-Passw0rd")
    with pytest.raises(ValidationFailed, match="connection failed \\(SSLError\\)"):
        _define(cast, entra, user.id)
