"""SCIM's JSON shapes (RFC 7643 resources, RFC 7644 messages) and the parsing of what the directory
sends: filters, PATCH operations, Entra's string booleans."""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest, JsonResponse

from secrets_app.models import Group, ScimPerson
from secrets_app.services.scim import PersonFields

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CONTENT_TYPE = "application/scim+json"
MAX_RESULTS = 200


class ScimError(Exception):
    """Answered as SCIM's error shape: ``status`` as a string, ``scimType`` for 400/409."""

    def __init__(self, status: int, detail: str, scim_type: str = "") -> None:
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def scim_response(body: dict[str, Any] | None, status: int = 200, location: str = "") -> JsonResponse:
    response = JsonResponse(body or {}, status=status, content_type=CONTENT_TYPE)
    if location:
        response["Location"] = location
    return response


def error_response(error: ScimError) -> JsonResponse:
    body: dict[str, Any] = {"schemas": [ERROR], "status": str(error.status), "detail": error.detail}
    if error.scim_type:
        body["scimType"] = error.scim_type
    return scim_response(body, error.status)


def list_response(resources: list[dict[str, Any]], total: int, start_index: int) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def _timestamp(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z")


def user_resource(request: HttpRequest, person: ScimPerson) -> dict[str, Any]:
    user = person.user
    location = request.build_absolute_uri(f"/scim/v2/Users/{person.public_id}")
    display = " ".join(part for part in (user.first_name, user.last_name) if part) or user.username
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "id": str(person.public_id),
        "userName": user.username,
        "name": {"givenName": user.first_name, "familyName": user.last_name, "formatted": display},
        "displayName": display,
        "emails": [{"value": user.email, "type": "work", "primary": True}],
        "active": bool(user.is_active),
        "meta": {
            "resourceType": "User",
            "created": _timestamp(person.created_at),
            "lastModified": _timestamp(person.updated_at),
            "location": location,
        },
    }
    if person.external_id:
        body["externalId"] = person.external_id
    return body


def group_resource(request: HttpRequest, group: Group, members: list[tuple[str, str]] | None) -> dict[str, Any]:
    """*members* None: left out (``excludedAttributes=members``, which Entra asks for)."""
    body: dict[str, Any] = {
        "schemas": [GROUP_SCHEMA],
        "id": str(group.public_id),
        "displayName": group.name,
        "meta": {
            "resourceType": "Group",
            "created": _timestamp(group.created_at),
            "lastModified": _timestamp(group.created_at),
            "location": request.build_absolute_uri(f"/scim/v2/Groups/{group.public_id}"),
        },
    }
    if group.external_id and group.external_id != str(group.public_id):
        body["externalId"] = group.external_id
    if members is not None:
        body["members"] = [
            {"value": value, "display": display, "$ref": request.build_absolute_uri(f"/scim/v2/Users/{value}")}
            for value, display in members
        ]
    return body


_FILTER = re.compile(r'^\s*([A-Za-z.]+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)


def parse_filter(text: str | None, allowed: tuple[str, ...]) -> tuple[str, str] | None:
    """``attribute eq "value"`` -> (attribute as in *allowed*, value); None without a filter."""
    if text is None or not text.strip():
        return None
    match = _FILTER.match(text)
    if match is None:
        raise ScimError(400, "Only filters of the form 'attribute eq \"value\"' are supported", "invalidFilter")
    by_lower = {name.lower(): name for name in allowed}
    attribute = by_lower.get(match.group(1).lower())
    if attribute is None:
        raise ScimError(400, f"Filtering on {match.group(1)!r} is not supported", "invalidFilter")
    return attribute, re.sub(r"\\(.)", r"\1", match.group(2))


def boolean(value: Any, name: str) -> bool:
    """SCIM booleans, including Entra's strings ("True"/"False")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ScimError(400, f"{name} must be a boolean", "invalidValue")


def text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ScimError(400, f"{name} must be a string", "invalidValue")
    return value


def person_fields_from_resource(body: dict[str, Any]) -> PersonFields:
    """POST/PUT User body -> what we keep. userName is required (RFC 7643 section 4.1)."""
    user_name = body.get("userName")
    if not isinstance(user_name, str) or not user_name.strip():
        raise ScimError(400, "userName is required", "invalidValue")
    name = body.get("name") or {}
    if not isinstance(name, dict):
        raise ScimError(400, "name must be an object", "invalidValue")
    return PersonFields(
        user_name=user_name,
        external_id=text(body.get("externalId"), "externalId"),
        given_name=text(name.get("givenName"), "name.givenName"),
        family_name=text(name.get("familyName"), "name.familyName"),
        active=boolean(body.get("active", True), "active"),
    )


def operations(body: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """PATCH body -> [(op lowercased, path as sent or "", value)]. Entra capitalises ops ("Replace")."""
    ops = body.get("Operations")
    if not isinstance(ops, list) or not ops:
        raise ScimError(400, "Operations must be a non-empty list", "invalidSyntax")
    parsed = []
    for op in ops:
        if not isinstance(op, dict) or not isinstance(op.get("op"), str):
            raise ScimError(400, "Each operation needs an 'op'", "invalidSyntax")
        kind = op["op"].strip().lower()
        if kind not in ("add", "replace", "remove"):
            raise ScimError(400, f"Unknown operation {op['op']!r}", "invalidSyntax")
        path = op.get("path") or ""
        if not isinstance(path, str):
            raise ScimError(400, "path must be a string", "invalidPath")
        parsed.append((kind, path.strip(), op.get("value")))
    return parsed


# User attributes a PATCH may set, by lowercased path; others Entra sends (title, addresses, ...) we
# do not keep and ignore, as RFC 7644 allows for attributes a provider does not support.
_USER_PATHS = {
    "active": "active",
    "username": "user_name",
    "externalid": "external_id",
    "name.givenname": "given_name",
    "name.familyname": "family_name",
}


def person_fields_patched(current: PersonFields, ops: list[tuple[str, str, Any]]) -> PersonFields:
    fields = PersonFields(**vars(current))

    def assign(path: str, value: Any) -> None:
        attribute = _USER_PATHS.get(path.lower().removeprefix(USER_SCHEMA.lower() + ":"))
        if attribute is None:
            return
        if attribute == "active":
            fields.active = boolean(value, "active")
        else:
            setattr(fields, attribute, text(value, path))

    for kind, path, value in ops:
        if kind == "remove":
            if path.lower() in ("externalid", "name.givenname", "name.familyname"):
                assign(path, "")
            elif path.lower() in ("username", "active"):
                raise ScimError(400, f"{path} cannot be removed", "mutability")
            continue
        if path:
            assign(path, value)
        elif isinstance(value, dict):
            for key, item in value.items():
                if key == "name" and isinstance(item, dict):
                    for sub, sub_value in item.items():
                        assign(f"name.{sub}", sub_value)
                else:
                    assign(key, item)
        else:
            raise ScimError(400, "An operation without a path needs an object value", "invalidValue")
    return fields


def member_values(value: Any) -> list[str]:
    """``[{"value": "<user id>"}, ...]`` (or one such object) -> ids."""
    items = value if isinstance(value, list) else [value]
    ids = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            raise ScimError(400, "members must be objects with a string 'value'", "invalidValue")
        ids.append(item["value"])
    return ids


_MEMBER_FILTER = re.compile(r'^members\[\s*value\s+eq\s+"([^"]*)"\s*\]$', re.IGNORECASE)


def member_filter_path(path: str) -> str | None:
    """``members[value eq "id"]`` -> id; None for any other path."""
    match = _MEMBER_FILTER.match(path)
    return match.group(1) if match else None
