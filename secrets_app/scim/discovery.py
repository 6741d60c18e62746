"""SCIM discovery resources (RFC 7644 section 4): what this endpoint supports, honestly."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from secrets_app.scim.protocol import GROUP_SCHEMA, MAX_RESULTS, USER_SCHEMA

_CORE = "urn:ietf:params:scim:schemas:core:2.0"


def service_provider_config(request: HttpRequest) -> dict[str, Any]:
    return {
        "schemas": [f"{_CORE}:ServiceProviderConfig"],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "An organization's SCIM token, created by an org admin on the People page",
                "primary": True,
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": request.build_absolute_uri()},
    }


def resource_types(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {
            "schemas": [f"{_CORE}:ResourceType"],
            "id": name,
            "name": name,
            "endpoint": f"/{name}s",
            "schema": schema,
            "meta": {
                "resourceType": "ResourceType",
                "location": request.build_absolute_uri(f"/scim/v2/ResourceTypes/{name}"),
            },
        }
        for name, schema in (("User", USER_SCHEMA), ("Group", GROUP_SCHEMA))
    ]


def _attribute(name: str, kind: str = "string", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "multiValued": False,
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
        **extra,
    }


def schemas(request: HttpRequest) -> list[dict[str, Any]]:
    user = {
        "id": USER_SCHEMA,
        "name": "User",
        "description": "A person in the organization",
        "attributes": [
            _attribute("userName", required=True, uniqueness="server"),
            _attribute(
                "name",
                "complex",
                subAttributes=[_attribute("givenName"), _attribute("familyName"), _attribute("formatted")],
            ),
            _attribute("displayName", mutability="readOnly"),
            _attribute("active", "boolean"),
            _attribute("externalId", caseExact=True),
            _attribute("emails", "complex", multiValued=True, mutability="readOnly"),
        ],
    }
    group = {
        "id": GROUP_SCHEMA,
        "name": "Group",
        "description": "An organization group provisioned by the directory",
        "attributes": [
            _attribute("displayName", required=True),
            _attribute("externalId", caseExact=True),
            _attribute("members", "complex", multiValued=True, subAttributes=[_attribute("value")]),
        ],
    }
    return [
        {
            **schema,
            "schemas": [f"{_CORE}:Schema"],
            "meta": {
                "resourceType": "Schema",
                "location": request.build_absolute_uri(f"/scim/v2/Schemas/{schema['id']}"),
            },
        }
        for schema in (user, group)
    ]
