"""SCIM test helpers: an organization's SCIM token and a client that speaks to /scim/v2/ with it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

SCIM = "/scim/v2"
SCIM_JSON = "application/scim+json"


class ScimClient:
    """What a directory's provisioning service does: JSON over HTTP with a bearer token."""

    def __init__(self, token: str | None) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _send(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body) if body is not None else None
        kwargs: dict[str, Any] = {"headers": self.headers}
        if data is not None:
            kwargs.update(data=data, content_type=SCIM_JSON)
        return getattr(self.client, method)(SCIM + path, **kwargs)

    def get(self, path: str) -> Any:
        return self._send("get", path)

    def post(self, path: str, body: Any) -> Any:
        return self._send("post", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self._send("put", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self._send("patch", path, body)

    def delete(self, path: str) -> Any:
        return self._send("delete", path)


@pytest.fixture
def org_admin(cast: Any) -> Any:
    """alice, made an admin of acme-org (the cast has her as a project owner only)."""
    from secrets_app.models import OrganizationMembership, OrgRole

    OrganizationMembership.objects.filter(organization=cast.organization, user=cast.alice).update(role=OrgRole.ADMIN)
    return cast.alice


@pytest.fixture
def scim_token(cast: Any, org_admin: Any) -> str:
    from secrets_app.principals import Principal
    from secrets_app.services.scim_tokens import scim_token_create

    return scim_token_create(principal=Principal.for_user(org_admin), organization=cast.organization, name="entra")[1]


@pytest.fixture
def scim(scim_token: str) -> ScimClient:
    return ScimClient(scim_token)


def scim_error(response: Any, status: int) -> dict[str, Any]:
    """The SCIM error body (RFC 7644 section 3.12), after checking its shape."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(SCIM_JSON)
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(status)
    assert isinstance(body["detail"], str) and body["detail"]
    return body
