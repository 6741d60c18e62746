"""``/api/v1/dynamic-secrets`` and ``/api/v1/dynamic-secrets/leases`` as Infisical serves them (reference
§1.1), onto ``dynamic.services`` and ``dynamic.selectors``. Thin: parse, call, shape.

Infisical's words where a client can see them: a TTL that does not parse or lies outside one minute
to ten years is a 422 ValidationFailure; a TTL over ``maxTTL`` is a 400 "TTL cannot be larger than max
TTL" (on create) or "The requested renewal would exceed the maximum allowed lease duration" (renew).
A revoked lease is gone (404), as Infisical deletes the row. DELETE takes a JSON body (``isForced``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.http import HttpRequest, HttpResponse

from dynamic.compat.responses import (
    FAILED_TO_DELETE,
    ProviderInputs,
    client_of,
    dynamic_secret_shape,
    lease_secret_shape,
    lease_shape,
    provider_of,
)
from dynamic.models import DynamicSecret, Lease, LeaseStatus
from dynamic.selectors import dynamic_secret_get, dynamic_secret_list, lease_get, lease_list
from dynamic.services.ado_runs import run_binding_resolve
from dynamic.services.common import parse_ttl
from dynamic.services.definitions import Definition, dynamic_secret_create, dynamic_secret_delete, dynamic_secret_update
from dynamic.services.leases import lease_create, lease_force_revoke, lease_renew, lease_revoke
from secrets_app.compat.http import CompatError, CompatView, Params, etag_response, issue
from secrets_app.errors import ValidationFailed
from secrets_app.paths import canonical_path
from secrets_app.principals import Principal
from secrets_app.selectors.access import ProjectScope, project_scope

PROJECT_PARAMS = ("projectSlug", "projectId", "workspaceSlug", "workspaceId")


@contextmanager
def infisical_words() -> Iterator[None]:
    """A service's 400 in Infisical's words: the message alone, without our field prefix."""
    try:
        yield
    except ValidationFailed as exc:
        messages = [message for field_messages in exc.fields.values() for message in field_messages]
        raise CompatError(400, messages[0] if messages else exc.message) from None


class Place:
    """``projectSlug``, ``environmentSlug`` and ``path`` (default ``/``), from the query (GET) or
    the JSON body (others); a missing one is a 422 like Infisical's."""

    def __init__(self, principal: Principal, params: Params) -> None:
        project = params.string(*PROJECT_PARAMS, required=True)
        self.environment = params.string("environmentSlug", required=True) or ""
        raw_path = params.string("path", default="/") or "/"
        params.check()
        with infisical_words():
            self.path = canonical_path(raw_path)
        self.scope: ProjectScope = project_scope(principal, project or "")


def ttl_param(params: Params, name: str, *, required: bool = False) -> Any:
    """The raw TTL (the services parse it again), after Infisical's 422 checks of its form and bounds."""
    value = params.data.get(name)
    if value is None or value == "":
        if required:
            params.issues.append(issue(name, "Required", "invalid_type"))
        return None
    try:
        parse_ttl(value, field=name)
    except ValidationFailed as exc:
        params.issues.append(issue(name, exc.fields[name][0]))
    return value


def _not_found_lease(lease_id: str) -> CompatError:
    return CompatError(404, f"Dynamic secret lease with ID {lease_id} not found", error="NotFound")


def find_lease(place: Place, lease_id: str) -> Lease:
    """A lease of the project at (environment, path) that has not ended; 404 otherwise (Infisical
    deletes a revoked lease's row). 403, audited, without the lease right there."""
    with infisical_words():
        lease = lease_get(place.scope, lease_id)
    if lease.status == LeaseStatus.REVOKED or (lease.environment_slug, lease.path) != (place.environment, place.path):
        raise _not_found_lease(lease_id)
    return lease


def _definition(inputs: ProviderInputs | None, data: dict[str, Any]) -> Definition:
    max_ttl = data.get("maxTTL")
    return Definition(
        config=(inputs.config or None) if inputs is not None else None,
        credentials=(inputs.credentials or None) if inputs is not None else None,
        default_ttl=data.get("defaultTTL"),
        max_ttl=0 if "maxTTL" in data and max_ttl is None else max_ttl,  # null: no cap
        username_template=data.get("usernameTemplate") if "usernameTemplate" in data else None,
        password_requirements=inputs.password_requirements if inputs is not None else None,
        statements=(inputs.statements or None) if inputs is not None else None,
    )


class DynamicSecretListView(CompatView):
    """GET (list a folder's) / POST (create) /api/v1/dynamic-secrets."""

    def get(self, request: HttpRequest, principal: Principal, params: Params) -> dict[str, Any]:
        place = Place(principal, params)
        with infisical_words():
            secrets = dynamic_secret_list(place.scope, environment=place.environment, path=place.path)
        return {"dynamicSecrets": [dynamic_secret_shape(secret) for secret in secrets]}

    def post(self, request: HttpRequest, principal: Principal, params: Params) -> dict[str, Any]:
        name = params.string("name", required=True) or ""
        ttl_param(params, "defaultTTL", required=True)
        ttl_param(params, "maxTTL")
        template = params.data.get("usernameTemplate")
        if template is not None and not isinstance(template, str):
            params.issues.append(issue("usernameTemplate", "Expected string", "invalid_type"))
        place = Place(principal, params)  # checks the issues so far
        provider, raw_inputs = provider_of(params.data.get("provider"))
        inputs = ProviderInputs(raw_inputs, provider=provider)
        data: dict[str, Any] = {
            key: params.data[key] for key in ("defaultTTL", "maxTTL", "usernameTemplate") if key in params.data
        }
        with infisical_words():
            secret = dynamic_secret_create(
                scope=place.scope,
                environment=place.environment,
                path=place.path,
                name=name,
                provider=provider,
                definition=_definition(inputs, data),
            )
        return {"dynamicSecret": dynamic_secret_shape(secret, with_inputs=True)}


class DynamicSecretItemView(CompatView):
    """GET / PATCH / DELETE /api/v1/dynamic-secrets/{name}."""

    def _secret(self, place: Place, name: str) -> DynamicSecret:
        with infisical_words():
            return dynamic_secret_get(place.scope, environment=place.environment, path=place.path, name=name)

    def get(self, request: HttpRequest, principal: Principal, params: Params, name: str) -> dict[str, Any]:
        place = Place(principal, params)
        return {"dynamicSecret": dynamic_secret_shape(self._secret(place, name), with_inputs=True)}

    def patch(self, request: HttpRequest, principal: Principal, params: Params, name: str) -> dict[str, Any]:
        data = params.data.get("data")
        if not isinstance(data, dict):
            params.issues.append(issue("data", "Required", "invalid_type"))
            data = {}
        changes = Params(data, source="body")
        ttl_param(changes, "defaultTTL")
        ttl_param(changes, "maxTTL")
        params.issues += [{**item, "path": ["data", *item["path"]]} for item in changes.issues]
        place = Place(principal, params)
        secret = self._secret(place, name.lower())
        inputs = None
        if isinstance(data.get("inputs"), dict):
            client = data["inputs"].get("client")
            if client not in (None, client_of(secret.provider)):
                raise CompatError(400, "inputs.client: the database client of a dynamic secret cannot be changed")
            inputs = ProviderInputs(data["inputs"], provider=secret.provider)
        new_name = data.get("newName") if isinstance(data.get("newName"), str) else None
        with infisical_words():
            updated = dynamic_secret_update(
                scope=place.scope, secret=secret, definition=_definition(inputs, data), new_name=new_name
            )
        return {"dynamicSecret": dynamic_secret_shape(DynamicSecret.objects.get(pk=updated.pk), with_inputs=True)}

    def delete(self, request: HttpRequest, principal: Principal, params: Params, name: str) -> dict[str, Any]:
        forced = params.boolean("isForced", default=False)
        place = Place(principal, params)
        secret = self._secret(place, name.lower())
        shape = dynamic_secret_shape(secret, with_inputs=True)
        with infisical_words():
            outcome = dynamic_secret_delete(scope=place.scope, secret=secret, force=forced)
        if not outcome.deleted:
            # Infisical answers 200 with the secret in a failed state; the failed leases retry here.
            shape["status"] = FAILED_TO_DELETE
            shape["statusDetails"] = (
                f"{outcome.failed} lease(s) could not be revoked and are retried; delete again later or with isForced"
            )
        return {"dynamicSecret": shape}


class DynamicSecretLeaseListView(CompatView):
    """GET /api/v1/dynamic-secrets/{name}/leases: the leases that have not ended."""

    def get(self, request: HttpRequest, principal: Principal, params: Params, name: str) -> dict[str, Any]:
        place = Place(principal, params)
        with infisical_words():
            secret = dynamic_secret_get(place.scope, environment=place.environment, path=place.path, name=name)
            leases = lease_list(place.scope, secret=secret, status="live")
        return {"leases": [lease_shape(lease) for lease in leases]}


class LeaseCreateView(CompatView):
    """POST /api/v1/dynamic-secrets/leases → ``{lease, dynamicSecret, data}``; the credentials in
    ``data`` are in this answer only (``Cache-Control: no-store``). An access token issued for an
    Azure DevOps pipeline token's run binds the lease to that run, as on the native route (Infisical's
    SDKs send no run fields, so there is no explicit ``adoRun`` here)."""

    def post(self, request: HttpRequest, principal: Principal, params: Params) -> HttpResponse:
        name = params.string("dynamicSecretName", required=True) or ""
        ttl = ttl_param(params, "ttl")
        place = Place(principal, params)
        with infisical_words():
            secret = dynamic_secret_get(place.scope, environment=place.environment, path=place.path, name=name.lower())
            run = run_binding_resolve(
                organization_id=place.scope.project.organization_id,
                token=getattr(request, "auth", None),
                ado_run=None,
                access_token=None,
            )
            issued = lease_create(scope=place.scope, secret=secret, ttl=ttl, run=run)
        body = {"lease": lease_shape(issued.lease), "dynamicSecret": dynamic_secret_shape(secret), "data": issued.data}
        response = etag_response(request, body)
        response["Cache-Control"] = "no-store"
        return response


class LeaseItemView(CompatView):
    """GET / DELETE (JSON body, ``isForced``) /api/v1/dynamic-secrets/leases/{leaseId}."""

    def get(self, request: HttpRequest, principal: Principal, params: Params, lease_id: str) -> dict[str, Any]:
        lease = find_lease(Place(principal, params), lease_id)
        return {"lease": {**lease_shape(lease), "dynamicSecret": lease_secret_shape(lease)}}

    def delete(self, request: HttpRequest, principal: Principal, params: Params, lease_id: str) -> dict[str, Any]:
        forced = params.boolean("isForced", default=False)
        place = Place(principal, params)
        lease = find_lease(place, lease_id)
        with infisical_words():
            if forced:  # an admin's decision here (dynamic_secrets.manage), audited as lease.force_revoked
                ended = lease_force_revoke(scope=place.scope, lease=lease)
            else:
                ended = lease_revoke(scope=place.scope, lease=lease)
        return {"lease": lease_shape(ended)}


class LeaseRenewView(CompatView):
    """POST /api/v1/dynamic-secrets/leases/{leaseId}/renew → ``{lease}``."""

    def post(self, request: HttpRequest, principal: Principal, params: Params, lease_id: str) -> dict[str, Any]:
        ttl = ttl_param(params, "ttl")
        place = Place(principal, params)
        lease = find_lease(place, lease_id)
        with infisical_words():
            renewed = lease_renew(scope=place.scope, lease=lease, ttl=ttl)
        return {"lease": lease_shape(renewed)}
