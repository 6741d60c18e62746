"""Dynamic secrets and leases over REST, per project; the target allowlist per organization.
Thin: parse, call one service or selector, serialize. Who may do what is decided by the services
and selectors (``dynamic.services.common``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from dynamic.api.serializers import (
    DynamicSecretCreateRequest,
    DynamicSecretDeletedSerializer,
    DynamicSecretDeleteQuery,
    DynamicSecretListQuery,
    DynamicSecretListSerializer,
    DynamicSecretSerializer,
    DynamicSecretUpdateRequest,
    EmptyRequest,
    LeaseCreateRequest,
    LeaseEnvelopeSerializer,
    LeaseIssuedSerializer,
    LeaseListQuery,
    LeaseListSerializer,
    LeaseRenewRequest,
    TargetAllowlistRequest,
    TargetAllowlistSerializer,
)
from dynamic.models import DynamicSecret
from dynamic.providers.registry import providers_description
from dynamic.selectors import dynamic_secret_by_id, dynamic_secret_list, lease_get, lease_list
from dynamic.services.ado_runs import run_binding_resolve
from dynamic.services.definitions import Definition, dynamic_secret_create, dynamic_secret_delete, dynamic_secret_update
from dynamic.services.lease_idempotency import LeaseAlreadyCreated, lease_idempotency, lease_request_fingerprint
from dynamic.services.leases import lease_create, lease_force_revoke, lease_renew, lease_revoke
from dynamic.services.targets import target_allowlist_get, target_allowlist_set
from secrets_app.api.base import ApiView
from secrets_app.api.schema import PROJECT, errors
from secrets_app.errors import Conflict
from secrets_app.plugins import kinds_described
from secrets_app.services.people import organization_get_for_principal

SECRET_TAGS = ["dynamic secrets"]
LEASE_TAGS = ["leases"]
JSON = "application/json"
SECRET = OpenApiParameter("secret", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Dynamic secret id")
LEASE = OpenApiParameter("lease", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Lease id")
LEASE_IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    pattern=r"^[!-~]{1,255}$",
    description="Makes a retry safe: the same key with the same request takes no second lease and is answered "
    "409 lease_already_created naming the first lease (error.leaseId); with a different request it is refused "
    "(422). Only the lease id is kept (24 hours), never the credentials.",
)
ORGANIZATION = OpenApiParameter(
    "organization", OpenApiTypes.STR, OpenApiParameter.PATH, description="Organization slug"
)


def _definition(data: dict[str, Any]) -> Definition:
    return Definition(
        config=data.get("config"),
        credentials=data.get("credentials"),
        default_ttl=data.get("defaultTTL"),
        max_ttl=(0 if data["maxTTL"] is None else data["maxTTL"]) if "maxTTL" in data else None,
        username_template=data.get("usernameTemplate"),
        password_requirements=data.get("passwordRequirements"),
        statements=data.get("statements"),
    )


class _ProjectApi(ApiView):
    permission_classes = [IsAuthenticated]


# --- dynamic secrets --------------------------------------------------------------------------


class DynamicSecretListApi(_ProjectApi):
    @extend_schema(
        operation_id="dynamic_secrets_list",
        tags=SECRET_TAGS,
        parameters=[PROJECT, DynamicSecretListQuery],
        responses={(200, JSON): DynamicSecretListSerializer, **errors(403, 404)},
        description="The dynamic secrets of one folder (`secrets.read` there). Root credentials are never shown.",
    )
    def get(self, request: Request, project: str) -> Response:
        query = self.query(DynamicSecretListQuery, request)
        secrets = dynamic_secret_list(self.scope(project), environment=query["environment"], path=query["path"])
        return Response(DynamicSecretListSerializer({"dynamicSecrets": secrets}).data)

    @extend_schema(
        operation_id="dynamic_secrets_create",
        tags=SECRET_TAGS,
        parameters=[PROJECT],
        request=DynamicSecretCreateRequest,
        responses={(201, JSON): DynamicSecretSerializer, **errors(400, 403, 404, 409)},
        description=kinds_described(
            "Define a dynamic secret (`dynamic_secrets.manage`). The target must be on the organization's "
            "allowlist; the root credentials are tested live, encrypted and never returned.\n\nProviders and their "
            "fields:\n\n",
            providers_description,
        ),
    )
    def post(self, request: Request, project: str) -> Response:
        data = self.parse(DynamicSecretCreateRequest, request.data)
        secret = dynamic_secret_create(
            scope=self.scope(project),
            environment=data["environment"],
            path=data["path"],
            name=data["name"],
            provider=data["provider"],
            definition=_definition(data),
        )
        return Response(DynamicSecretSerializer(secret).data, status=status.HTTP_201_CREATED)


class DynamicSecretDetailApi(_ProjectApi):
    @extend_schema(
        operation_id="dynamic_secrets_retrieve",
        tags=SECRET_TAGS,
        parameters=[PROJECT, SECRET],
        responses={(200, JSON): DynamicSecretSerializer, **errors(404)},
    )
    def get(self, request: Request, project: str, secret: str) -> Response:
        return Response(DynamicSecretSerializer(dynamic_secret_by_id(self.scope(project), secret)).data)

    @extend_schema(
        operation_id="dynamic_secrets_update",
        tags=SECRET_TAGS,
        parameters=[PROJECT, SECRET],
        request=DynamicSecretUpdateRequest,
        responses={(200, JSON): DynamicSecretSerializer, **errors(400, 403, 404, 409)},
        description="Change a dynamic secret. A credential left out keeps its stored value; a changed connection "
        "is tested live again. Live leases keep the definition they were issued with.",
    )
    def patch(self, request: Request, project: str, secret: str) -> Response:
        data = self.parse(DynamicSecretUpdateRequest, request.data)
        scope = self.scope(project)
        updated = dynamic_secret_update(
            scope=scope,
            secret=dynamic_secret_by_id(scope, secret),
            definition=_definition(data),
            new_name=data.get("name"),
        )
        return Response(DynamicSecretSerializer(DynamicSecret.objects.get(pk=updated.pk)).data)

    @extend_schema(
        operation_id="dynamic_secrets_delete",
        tags=SECRET_TAGS,
        parameters=[PROJECT, SECRET, DynamicSecretDeleteQuery],
        responses={(200, JSON): DynamicSecretDeletedSerializer, **errors(403, 404, 409)},
        description="Revoke every live lease, then delete (409 when a revocation fails: nothing is deleted, the "
        "failed leases retry). `force=true` deletes at once and leaves live leases to their snapshot and expiry.",
    )
    def delete(self, request: Request, project: str, secret: str) -> Response:
        query = self.query(DynamicSecretDeleteQuery, request)
        scope = self.scope(project)
        outcome = dynamic_secret_delete(scope=scope, secret=dynamic_secret_by_id(scope, secret), force=query["force"])
        if not outcome.deleted:
            raise Conflict(
                f"{outcome.failed} lease(s) could not be revoked; they are retried. Delete again later, or with force=true"
            )
        return Response({"deleted": True, "leasesRevoked": outcome.revoked, "leasesLeftInPlace": outcome.left_in_place})


class DynamicSecretLeaseListApi(_ProjectApi):
    # The answer holds a password: never stored for a replay. Idempotency-Key is honoured here by
    # remembering the lease id only (dynamic.services.lease_idempotency).
    idempotency_storable = False
    idempotency_by_view = True

    @extend_schema(
        operation_id="dynamic_secrets_leases_list",
        tags=LEASE_TAGS,
        parameters=[PROJECT, SECRET],
        responses={(200, JSON): LeaseListSerializer, **errors(403, 404)},
        description="The leases of one dynamic secret (`secrets.read_value` at its place).",
    )
    def get(self, request: Request, project: str, secret: str) -> Response:
        scope = self.scope(project)
        return Response(
            LeaseListSerializer({"leases": lease_list(scope, secret=dynamic_secret_by_id(scope, secret))}).data
        )

    @extend_schema(
        operation_id="dynamic_secrets_leases_create",
        tags=LEASE_TAGS,
        parameters=[PROJECT, SECRET, LEASE_IDEMPOTENCY_KEY],
        request=LeaseCreateRequest,
        responses={(201, JSON): LeaseIssuedSerializer, **errors(400, 403, 404, 409, 422, 502)},
        description="Take a lease (`secrets.read_value`): a new database user lives until `expireAt`. The "
        "credentials are in `data`, in this answer only. A TTL above the secret's maxTTL is a 400 "
        '("TTL cannot be larger than max TTL"). A machine identity logged in with an Azure DevOps pipeline '
        "token gets a lease bound to that run; otherwise `adoRun` + `adoAccessToken` bind it (400 when the "
        "build is unknown, not in progress, or the token is refused). A bound lease ends when its run completes. "
        "With `Idempotency-Key`, a retry never takes a second lease: it is answered 409 "
        "`lease_already_created` with the first lease's id in `error.leaseId` (its credentials are not sent again).",
    )
    def post(self, request: Request, project: str, secret: str) -> Response:
        data = self.parse(LeaseCreateRequest, request.data or {})
        access_token = data.pop("adoAccessToken", None) or None
        scope = self.scope(project)
        found = dynamic_secret_by_id(scope, secret)
        try:
            with lease_idempotency(
                principal_key=str(self.principal.key),
                raw_key=request.headers.get(LEASE_IDEMPOTENCY_KEY.name),
                fingerprint=lease_request_fingerprint(path=request.path, fields=data),
            ) as on_written:
                run = run_binding_resolve(
                    organization_id=scope.project.organization_id,
                    token=request.auth,
                    ado_run=data.get("adoRun") or None,
                    access_token=access_token,
                )
                issued = lease_create(scope=scope, secret=found, ttl=data.get("ttl"), run=run, on_written=on_written)
        except LeaseAlreadyCreated as replay:
            answer = self.handle_exception(replay)
            answer.data["error"]["leaseId"] = replay.lease_id
            answer["Idempotent-Replayed"] = "true"
            return answer
        body = LeaseIssuedSerializer({"lease": issued.lease, "dynamicSecret": found, "data": issued.data}).data
        response = Response(body, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


# --- leases -----------------------------------------------------------------------------------


class LeaseListApi(_ProjectApi):
    @extend_schema(
        operation_id="leases_list",
        tags=LEASE_TAGS,
        parameters=[PROJECT, LeaseListQuery],
        responses={(200, JSON): LeaseListSerializer, **errors(404)},
        description="The project's leases at places where you may read values (newest first, at most 1000); "
        "`status=live` for active, revoking, failed and irrevocable ones.",
    )
    def get(self, request: Request, project: str) -> Response:
        query = self.query(LeaseListQuery, request)
        leases = lease_list(
            self.scope(project),
            environment=query.get("environment"),
            path=query.get("path"),
            status=query.get("status"),
        )
        return Response(LeaseListSerializer({"leases": leases}).data)


class LeaseDetailApi(_ProjectApi):
    @extend_schema(
        operation_id="leases_retrieve",
        tags=LEASE_TAGS,
        parameters=[PROJECT, LEASE],
        responses={(200, JSON): LeaseEnvelopeSerializer, **errors(403, 404)},
    )
    def get(self, request: Request, project: str, lease: str) -> Response:
        return Response(LeaseEnvelopeSerializer({"lease": lease_get(self.scope(project), lease)}).data)


class LeaseRenewApi(_ProjectApi):
    @extend_schema(
        operation_id="leases_renew",
        tags=LEASE_TAGS,
        parameters=[PROJECT, LEASE],
        request=LeaseRenewRequest,
        responses={(200, JSON): LeaseEnvelopeSerializer, **errors(400, 403, 404, 409)},
        description="Extend an active lease: the TTL (default: the secret's defaultTTL) is added to the current "
        "expiry, and may not reach past createdAt + maxTTL.",
    )
    def post(self, request: Request, project: str, lease: str) -> Response:
        data = self.parse(LeaseRenewRequest, request.data or {})
        scope = self.scope(project)
        renewed = lease_renew(scope=scope, lease=lease_get(scope, lease), ttl=data.get("ttl"))
        return Response(LeaseEnvelopeSerializer({"lease": renewed}).data)


class LeaseRevokeApi(_ProjectApi):
    @extend_schema(
        operation_id="leases_revoke",
        tags=LEASE_TAGS,
        parameters=[PROJECT, LEASE],
        request={JSON: EmptyRequest},
        responses={(200, JSON): LeaseEnvelopeSerializer, **errors(403, 404, 409)},
        description="Revoke now. When the target refuses, the answer shows `status: failed` with the reason and "
        "the revocation is retried in the background.",
    )
    def post(self, request: Request, project: str, lease: str) -> Response:
        self.parse(EmptyRequest, request.data or {})
        scope = self.scope(project)
        return Response(
            LeaseEnvelopeSerializer({"lease": lease_revoke(scope=scope, lease=lease_get(scope, lease))}).data
        )


class LeaseForceRevokeApi(_ProjectApi):
    @extend_schema(
        operation_id="leases_force_revoke",
        tags=LEASE_TAGS,
        parameters=[PROJECT, LEASE],
        request={JSON: EmptyRequest},
        responses={(200, JSON): LeaseEnvelopeSerializer, **errors(403, 404)},
        description="Admins (`dynamic_secrets.manage`): try once more, then end the lease whatever the target "
        "says (`forced: true`: the database user may still exist). Audited as lease.force_revoked.",
    )
    def post(self, request: Request, project: str, lease: str) -> Response:
        self.parse(EmptyRequest, request.data or {})
        scope = self.scope(project)
        forced = lease_force_revoke(scope=scope, lease=lease_get(scope, lease))
        return Response(LeaseEnvelopeSerializer({"lease": forced}).data)


# --- the organization's target allowlist --------------------------------------------------------


class TargetAllowlistApi(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="dynamic_secret_targets_retrieve",
        tags=SECRET_TAGS,
        parameters=[ORGANIZATION],
        responses={(200, JSON): TargetAllowlistSerializer, **errors(403, 404)},
        description="Where the organization's dynamic secrets may connect (organization admins).",
    )
    def get(self, request: Request, organization: str) -> Response:
        found = organization_get_for_principal(self.principal, organization)
        return Response({"entries": target_allowlist_get(principal=self.principal, organization=found)})

    @extend_schema(
        operation_id="dynamic_secret_targets_update",
        tags=SECRET_TAGS,
        parameters=[ORGANIZATION],
        request=TargetAllowlistRequest,
        responses={(200, JSON): TargetAllowlistSerializer, **errors(400, 403, 404)},
        description="Replace the allowlist (host names, IP addresses, CIDRs; empty: no target allowed). "
        "Link-local addresses and Strongroom's own database and Redis are refused whatever it says.",
    )
    def put(self, request: Request, organization: str) -> Response:
        data = self.parse(TargetAllowlistRequest, request.data)
        found = organization_get_for_principal(self.principal, organization)
        entries = target_allowlist_set(principal=self.principal, organization=found, entries=data["entries"])
        return Response({"entries": entries})
