"""SCIM views: authenticate the organization's bearer token, parse, call a service or selector,
answer SCIM's shapes. Errors always come back as SCIM errors (``status``, ``scimType``)."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from secrets_app.errors import Conflict, DomainError, NotFound, ValidationFailed
from secrets_app.models import Group, ScimPerson, ScimToken
from secrets_app.scim import discovery
from secrets_app.scim.protocol import (
    MAX_RESULTS,
    ScimError,
    error_response,
    group_resource,
    list_response,
    member_filter_path,
    member_values,
    operations,
    parse_filter,
    person_fields_from_resource,
    person_fields_patched,
    scim_response,
    text,
    user_resource,
)
from secrets_app.selectors.scim import (
    scim_group_get,
    scim_group_member_ids,
    scim_groups,
    scim_members_for_filter,
    scim_people_by_external_id,
    scim_person_get,
)
from secrets_app.services.scim import (
    PersonFields,
    scim_group_create,
    scim_group_delete,
    scim_group_members_change,
    scim_group_rename,
    scim_people_link,
    scim_user_create,
    scim_user_delete,
    scim_user_update,
)
from secrets_app.services.scim_tokens import scim_token_authenticate


@method_decorator(csrf_exempt, name="dispatch")
class ScimView(View):
    """Base: bearer token -> ``self.token`` (its organization is the only one reachable)."""

    http_method_names = ["get", "post", "put", "patch", "delete"]
    token: ScimToken

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response: HttpResponseBase
        try:
            header = request.headers.get("Authorization", "")
            scheme, _, raw = header.partition(" ")
            token = scim_token_authenticate(raw_token=raw.strip()) if scheme.lower() == "bearer" else None
            if token is None:
                raise ScimError(401, "A valid SCIM bearer token is required")
            self.token = token
            return super().dispatch(request, *args, **kwargs)
        except ScimError as error:
            response = error_response(error)
        except ValidationFailed as error:
            response = error_response(ScimError(400, _detail(error), "invalidValue"))
        except Conflict as error:
            response = error_response(ScimError(409, _detail(error), "uniqueness"))
        except NotFound as error:
            response = error_response(ScimError(404, str(error)))
        except DomainError as error:
            response = error_response(ScimError(error.status, str(error)))
        if response.status_code == 401:
            response["WWW-Authenticate"] = 'Bearer realm="scim"'
        return response

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        raise ScimError(405, f"{request.method} is not supported here")

    def body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise ScimError(400, "The body is not valid JSON", "invalidSyntax") from None
        if not isinstance(body, dict):
            raise ScimError(400, "The body must be a JSON object", "invalidSyntax")
        return body

    def page(self) -> tuple[int, int]:
        """(startIndex 1-based, count) from the query string, as RFC 7644 section 3.4.2.4."""
        try:
            start = max(1, int(self.request.GET.get("startIndex", "1")))
            count = min(MAX_RESULTS, max(0, int(self.request.GET.get("count", str(MAX_RESULTS)))))
        except ValueError:
            raise ScimError(400, "startIndex and count must be integers", "invalidValue") from None
        return start, count


def _detail(error: DomainError) -> str:
    fields = getattr(error, "fields", None) or {}
    named = "; ".join(f"{name}: {', '.join(messages)}" for name, messages in fields.items())
    return named or str(error)


class ServiceProviderConfigView(ScimView):
    def get(self, request: HttpRequest) -> HttpResponse:
        return scim_response(discovery.service_provider_config(request))


class ResourceTypesView(ScimView):
    def get(self, request: HttpRequest) -> HttpResponse:
        resources = discovery.resource_types(request)
        return scim_response(list_response(resources, len(resources), 1))


class SchemasView(ScimView):
    def get(self, request: HttpRequest) -> HttpResponse:
        resources = discovery.schemas(request)
        return scim_response(list_response(resources, len(resources), 1))


def _current_fields(person: ScimPerson) -> PersonFields:
    user = person.user
    return PersonFields(
        user_name=user.username,
        external_id=person.external_id,
        given_name=user.first_name,
        family_name=user.last_name,
        active=bool(user.is_active),
    )


class UserListView(ScimView):
    def get(self, request: HttpRequest) -> HttpResponse:
        start, count = self.page()
        match = parse_filter(request.GET.get("filter"), ("userName", "externalId"))
        if match is not None and match[0] == "externalId":
            people = list(scim_people_by_external_id(token=self.token, external_id=match[1]))
        else:
            members = scim_members_for_filter(token=self.token, user_name=match[1] if match else None)
            users = [membership.user for membership in members]
            linked = scim_people_link(token=self.token, users=users)
            people = [linked[user.pk] for user in users if user.pk in linked]
        window = people[start - 1 : start - 1 + count]
        return scim_response(list_response([user_resource(request, p) for p in window], len(people), start))

    def post(self, request: HttpRequest) -> HttpResponse:
        person = scim_user_create(token=self.token, fields=person_fields_from_resource(self.body()))
        body = user_resource(request, person)
        return scim_response(body, 201, location=body["meta"]["location"])


class UserDetailView(ScimView):
    def get(self, request: HttpRequest, id: str) -> HttpResponse:
        return scim_response(user_resource(request, scim_person_get(token=self.token, public_id=id)))

    def put(self, request: HttpRequest, id: str) -> HttpResponse:
        person = scim_person_get(token=self.token, public_id=id)
        fields = person_fields_from_resource(self.body())
        person = scim_user_update(token=self.token, person=person, fields=fields)
        return scim_response(user_resource(request, person))

    def patch(self, request: HttpRequest, id: str) -> HttpResponse:
        person = scim_person_get(token=self.token, public_id=id)
        fields = person_fields_patched(_current_fields(person), operations(self.body()))
        person = scim_user_update(token=self.token, person=person, fields=fields)
        return scim_response(user_resource(request, person))

    def delete(self, request: HttpRequest, id: str) -> HttpResponse:
        scim_user_delete(token=self.token, person=scim_person_get(token=self.token, public_id=id))
        return HttpResponse(status=204)


def _members_wanted(request: HttpRequest) -> bool:
    excluded = request.GET.get("excludedAttributes", "")
    return "members" not in {part.strip().lower() for part in excluded.split(",")}


def _group_body(request: HttpRequest, group: Group) -> dict[str, Any]:
    members = scim_group_member_ids(group=group) if _members_wanted(request) else None
    return group_resource(request, group, members)


class GroupListView(ScimView):
    def get(self, request: HttpRequest) -> HttpResponse:
        start, count = self.page()
        match = parse_filter(request.GET.get("filter"), ("displayName", "externalId"))
        groups = list(
            scim_groups(
                token=self.token,
                display_name=match[1] if match and match[0] == "displayName" else None,
                external_id=match[1] if match and match[0] == "externalId" else None,
            )
        )
        window = groups[start - 1 : start - 1 + count]
        return scim_response(list_response([_group_body(request, g) for g in window], len(groups), start))

    def post(self, request: HttpRequest) -> HttpResponse:
        body = self.body()
        group = scim_group_create(
            token=self.token,
            display_name=text(body.get("displayName"), "displayName"),
            external_id=text(body.get("externalId"), "externalId"),
            member_ids=member_values(body.get("members") or []),
        )
        resource = _group_body(request, group)
        return scim_response(resource, 201, location=resource["meta"]["location"])


class GroupDetailView(ScimView):
    def get(self, request: HttpRequest, id: str) -> HttpResponse:
        return scim_response(_group_body(request, scim_group_get(token=self.token, public_id=id)))

    def put(self, request: HttpRequest, id: str) -> HttpResponse:
        group = scim_group_get(token=self.token, public_id=id)
        body = self.body()
        group = scim_group_rename(
            token=self.token,
            group=group,
            display_name=text(body.get("displayName"), "displayName"),
            external_id=text(body.get("externalId"), "externalId") or None,
        )
        scim_group_members_change(
            token=self.token, group=group, add=member_values(body.get("members") or []), replace=True
        )
        return scim_response(_group_body(request, group))

    def patch(self, request: HttpRequest, id: str) -> HttpResponse:
        group = scim_group_get(token=self.token, public_id=id)
        for kind, path, value in operations(self.body()):
            removed_id = member_filter_path(path)
            lowered = path.lower()
            if removed_id is not None and kind == "remove":
                scim_group_members_change(token=self.token, group=group, remove=[removed_id])
            elif lowered == "members":
                if kind == "add":
                    scim_group_members_change(token=self.token, group=group, add=member_values(value))
                elif kind == "remove" and value is None:
                    scim_group_members_change(token=self.token, group=group, add=[], replace=True)
                elif kind == "remove":
                    scim_group_members_change(token=self.token, group=group, remove=member_values(value))
                else:
                    scim_group_members_change(token=self.token, group=group, add=member_values(value), replace=True)
            elif lowered in ("displayname", "externalid") and kind != "remove":
                name = text(value, path) if lowered == "displayname" else group.name
                external = text(value, path) if lowered == "externalid" else None
                scim_group_rename(token=self.token, group=group, display_name=name, external_id=external)
            elif not path and kind != "remove" and isinstance(value, dict):
                scim_group_rename(
                    token=self.token,
                    group=group,
                    display_name=text(value.get("displayName", group.name), "displayName"),
                    external_id=text(value.get("externalId"), "externalId") or None,
                )
                if "members" in value:
                    scim_group_members_change(token=self.token, group=group, add=member_values(value["members"]))
            else:
                raise ScimError(400, f"Unsupported path {path!r} for {kind}", "invalidPath")
        group.refresh_from_db()
        return scim_response(_group_body(request, group))

    def delete(self, request: HttpRequest, id: str) -> HttpResponse:
        scim_group_delete(token=self.token, group=scim_group_get(token=self.token, public_id=id))
        return HttpResponse(status=204)
