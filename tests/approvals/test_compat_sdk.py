"""The official Python SDK against a protected environment: our compat adapter answers Infisical's
HTTP 200 ``{"approval": …}``; the SDK itself then fails reading ``data["secret"]`` (a KeyError in
its own code, not a 5xx from us). Documented in docs/compat.md."""

from __future__ import annotations

import json
import traceback
from typing import Any

import pytest

from tests.compat.live import live  # noqa: F401 (fixture)

infisical_sdk = pytest.importorskip("infisical_sdk")

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_protected_write_through_the_sdk_opens_a_change_request(live: Any) -> None:  # noqa: F811
    import requests

    from approvals.models import ChangeRequest
    from approvals.services.policies import MemberRef, approval_policy_create

    site_url, cast, machine = live
    policy = approval_policy_create(
        scope=cast.scope(cast.alice),
        name="prod-guard",
        environments=["prod"],
        approvers=[MemberRef(kind="user", ref=cast.bob.email)],
    )
    project_id = str(cast.project.public_id)
    with infisical_sdk.InfisicalSDKClient(host=site_url, cache_ttl=None) as client:
        client.auth.universal_auth.login(client_id=machine.client_id, client_secret=machine.client_secret)
        with pytest.raises(KeyError) as raised:
            client.secrets.update_secret_by_name(
                current_secret_name="DATABASE_URL",
                project_id=project_id,
                secret_path="/backend/api",
                environment_slug="prod",
                secret_value="postgres://new@db.prod/app",
            )
        token = client.auth.universal_auth.login(
            client_id=machine.client_id, client_secret=machine.client_secret
        ).accessToken

    # The SDK's own parser raised it (our answer was a 200 it does not understand).
    assert raised.value.args == ("secret",)
    assert "infisical_sdk" in "".join(traceback.format_tb(raised.value.__traceback__))
    request = ChangeRequest.objects.get()
    assert request.committer_identity_id == machine.identity.pk and request.policy_id == policy.pk

    raw = requests.patch(
        f"{site_url}/api/v3/secrets/raw/DATABASE_URL",
        json={"workspaceId": project_id, "environment": "prod", "secretPath": "/backend/api", "secretValue": "v2"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert raw.status_code == 200
    approval = raw.json()["approval"]
    assert set(approval) == {
        "id", "policyId", "hasMerged", "status", "conflicts", "slug", "folderId", "createdAt", "updatedAt",
        "isReplicated", "committerUserId", "statusChangedByUserId", "bypassReason",
    }  # fmt: skip
    assert (approval["status"], approval["hasMerged"], approval["policyId"]) == ("open", False, str(policy.public_id))
    assert "v2" not in json.dumps(approval) and ChangeRequest.objects.count() == 2
