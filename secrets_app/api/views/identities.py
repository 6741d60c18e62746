"""Machine identities (org admins), their project memberships, universal auth and client secrets.

Logging in (every method, token renew and revoke) is in ``secrets_app/identities/login_views.py``;
the JWT, OIDC and Kubernetes auth methods are configured in ``identity_auth_methods.py``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from secrets_app.api.authentication import IsPerson
from secrets_app.api.base import ApiView
from secrets_app.api.schema import PROJECT, errors
from secrets_app.api.serializers.identities import (
    UNIVERSAL_REQUEST_FIELDS,
    ClientSecretCreatedSerializer,
    ClientSecretCreateRequest,
    ClientSecretListSerializer,
    ClientSecretSerializer,
    IdentityCreateRequest,
    IdentityDetailSerializer,
    IdentityListSerializer,
    IdentityMemberAddRequest,
    IdentityMemberListSerializer,
    IdentityMemberSerializer,
    IdentityMemberUpdateRequest,
    IdentitySerializer,
    IdentityUpdateRequest,
    RevokeRequest,
    TokensRevokedSerializer,
    UniversalAuthRequest,
    UniversalAuthSerializer,
)
from secrets_app.errors import NotFound
from secrets_app.identities import services
from secrets_app.identities.selectors import (
    client_secret_list,
    identity_get_for_principal,
    identity_list,
    identity_membership_list,
    identity_universal_auth,
)
from secrets_app.models import MachineIdentity
from secrets_app.services.people import organization_get_for_principal

ORGANIZATION = OpenApiParameter(
    "organization", OpenApiTypes.STR, OpenApiParameter.PATH, description="Organization slug"
)
IDENTITY = OpenApiParameter("identity", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Identity id")
IDENTITY_ID = OpenApiParameter("identity_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Identity id")
SECRET_ID = OpenApiParameter("secret_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Client secret id")
TAGS = ["identities"]


class IdentityView(ApiView):
    """People only: an identity never manages identities (nor itself)."""

    permission_classes = [IsAuthenticated, IsPerson]

    def identity(self, identity: str, action: str) -> MachineIdentity:
        return identity_get_for_principal(self.principal, identity, action=action)


@extend_schema(tags=TAGS, parameters=[ORGANIZATION])
class IdentityListApi(IdentityView):
    @extend_schema(operation_id="identities_list", responses={200: IdentityListSerializer, **errors(403, 404)})
    def get(self, request: Request, organization: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        return Response(
            IdentityListSerializer({"identities": identity_list(principal=self.principal, organization=org)}).data
        )

    @extend_schema(
        operation_id="identities_create",
        request=IdentityCreateRequest,
        responses={201: IdentitySerializer, **errors(400, 403, 404, 409)},
        description="Org admins only. Give it a project role, then an auth method.",
    )
    def post(self, request: Request, organization: str) -> Response:
        org = organization_get_for_principal(self.principal, organization)
        data = self.parse(IdentityCreateRequest, request.data)
        identity = services.identity_create(principal=self.principal, organization=org, name=data["name"])
        return Response(IdentitySerializer(identity).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(operation_id="identities_get", responses={200: IdentityDetailSerializer, **errors(403, 404)}),
    patch=extend_schema(
        operation_id="identities_update",
        request=IdentityUpdateRequest,
        responses={200: IdentityDetailSerializer, **errors(400, 403, 404, 409)},
        description="Rename, or deactivate (its tokens stop working on the next request).",
    ),
    delete=extend_schema(operation_id="identities_delete", responses={204: None, **errors(403, 404)}),
)
@extend_schema(tags=TAGS, parameters=[IDENTITY])
class IdentityDetailApi(IdentityView):
    def get(self, request: Request, identity: str) -> Response:
        return Response(IdentityDetailSerializer(self.identity(identity, "identities.read")).data)

    def patch(self, request: Request, identity: str) -> Response:
        target = self.identity(identity, "identities.update")
        data = self.parse(IdentityUpdateRequest, request.data)
        target = services.identity_update(
            principal=self.principal, identity=target, name=data.get("name"), is_active=data.get("isActive")
        )
        return Response(IdentityDetailSerializer(target).data)

    def delete(self, request: Request, identity: str) -> Response:
        services.identity_delete(principal=self.principal, identity=self.identity(identity, "identities.delete"))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _universal_changes(data: dict[str, Any]) -> dict[str, Any]:
    return {UNIVERSAL_REQUEST_FIELDS[name]: value for name, value in data.items()}


@extend_schema_view(
    get=extend_schema(
        operation_id="identities_universal_auth_get", responses={200: UniversalAuthSerializer, **errors(403, 404)}
    ),
    put=extend_schema(
        operation_id="identities_universal_auth_attach",
        request=UniversalAuthRequest,
        responses={200: UniversalAuthSerializer, 201: UniversalAuthSerializer, **errors(400, 403, 404)},
        description="Attach universal auth (201) or replace the given settings (200). TTL ≤ max TTL ≤ the "
        "server's ceiling (30 days by default).",
    ),
    patch=extend_schema(
        operation_id="identities_universal_auth_update",
        request=UniversalAuthRequest,
        responses={200: UniversalAuthSerializer, **errors(400, 403, 404)},
        description="Change some settings. A max TTL below the TTL is refused (400).",
    ),
    delete=extend_schema(
        operation_id="identities_universal_auth_remove",
        responses={204: None, **errors(403, 404)},
        description="Detach universal auth: its client secrets go and every token it issued is revoked.",
    ),
)
@extend_schema(tags=TAGS, parameters=[IDENTITY])
class UniversalAuthApi(IdentityView):
    def get(self, request: Request, identity: str) -> Response:
        config = identity_universal_auth(self.identity(identity, "identities.read"))
        if config is None:
            raise NotFound("This identity has no universal auth")
        return Response(UniversalAuthSerializer(config).data)

    def put(self, request: Request, identity: str) -> Response:
        target = self.identity(identity, "identities.update")
        data = self.parse(UniversalAuthRequest, request.data)
        config, created = services.universal_auth_configure(
            principal=self.principal, identity=target, changes=_universal_changes(data)
        )
        return Response(UniversalAuthSerializer(config).data, status=201 if created else 200)

    def patch(self, request: Request, identity: str) -> Response:
        target = self.identity(identity, "identities.update")
        if identity_universal_auth(target) is None:
            raise NotFound("This identity has no universal auth")
        data = self.parse(UniversalAuthRequest, request.data)
        config, _ = services.universal_auth_configure(
            principal=self.principal, identity=target, changes=_universal_changes(data)
        )
        return Response(UniversalAuthSerializer(config).data)

    def delete(self, request: Request, identity: str) -> Response:
        services.universal_auth_remove(principal=self.principal, identity=self.identity(identity, "identities.update"))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=TAGS, parameters=[IDENTITY])
class ClientSecretListApi(IdentityView):
    # The creation response holds the client secret: never stored for an idempotent replay.
    idempotency_storable = False

    @extend_schema(
        operation_id="identities_client_secrets_list",
        responses={200: ClientSecretListSerializer, **errors(403, 404)},
        description="Prefix, limits and usage of each client secret; never the secret or its hash.",
    )
    def get(self, request: Request, identity: str) -> Response:
        target = self.identity(identity, "identities.read")
        return Response(ClientSecretListSerializer({"clientSecrets": client_secret_list(identity=target)}).data)

    @extend_schema(
        operation_id="identities_client_secrets_create",
        request=ClientSecretCreateRequest,
        responses={201: ClientSecretCreatedSerializer, **errors(400, 403, 404)},
        description="The client secret is in this response only. `Idempotency-Key` is refused here (400).",
    )
    def post(self, request: Request, identity: str) -> Response:
        target = self.identity(identity, "identities.update")
        data = self.parse(ClientSecretCreateRequest, request.data)
        secret, raw = services.client_secret_create(
            principal=self.principal,
            identity=target,
            description=data["description"],
            ttl_seconds=data["ttl"],
            num_uses_limit=data["numUsesLimit"],
            trusted_ips=data["trustedIps"],
        )
        body = {
            "clientSecret": raw,
            "clientId": secret.universal_auth.client_id,
            "clientSecretData": secret,
        }
        return Response(ClientSecretCreatedSerializer(body).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAGS, parameters=[IDENTITY, SECRET_ID])
class ClientSecretRevokeApi(IdentityView):
    @extend_schema(
        operation_id="identities_client_secrets_revoke",
        request=RevokeRequest,
        responses={200: ClientSecretSerializer, **errors(403, 404)},
        description="Revoke the client secret and every access token it issued. Idempotent.",
    )
    def post(self, request: Request, identity: str, secret_id: int) -> Response:
        target = self.identity(identity, "identities.update")
        reason = self.parse(RevokeRequest, request.data)["reason"]
        secret = services.client_secret_revoke(
            principal=self.principal, identity=target, secret_id=secret_id, reason=reason
        )
        return Response(ClientSecretSerializer(secret).data)


@extend_schema(tags=TAGS, parameters=[IDENTITY])
class IdentityTokensRevokeApi(IdentityView):
    @extend_schema(
        operation_id="identities_tokens_revoke",
        request=RevokeRequest,
        responses={200: TokensRevokedSerializer, **errors(403, 404)},
        description="Revoke every live access token of the identity (refused on their next request).",
    )
    def post(self, request: Request, identity: str) -> Response:
        target = self.identity(identity, "identities.update")
        reason = self.parse(RevokeRequest, request.data)["reason"]
        revoked = services.identity_tokens_revoke_all(principal=self.principal, identity=target, reason=reason)
        return Response({"revoked": revoked})


# --- project memberships of identities ----------------------------------------------------------------


@extend_schema(tags=TAGS, parameters=[PROJECT])
class ProjectIdentityListApi(ApiView):
    @extend_schema(
        operation_id="project_identities_list", responses={200: IdentityMemberListSerializer, **errors(403, 404)}
    )
    def get(self, request: Request, project: str) -> Response:
        return Response(
            IdentityMemberListSerializer({"identities": identity_membership_list(self.scope(project))}).data
        )

    @extend_schema(
        operation_id="project_identities_add",
        request=IdentityMemberAddRequest,
        responses={201: IdentityMemberSerializer, **errors(400, 403, 404, 409)},
        description="Give an identity of the project's organization a built-in or custom role. Only admins grant admin.",
    )
    def post(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        data = self.parse(IdentityMemberAddRequest, request.data)
        membership = services.identity_membership_add(scope=scope, identity_id=data["identityId"], role=data["role"])
        return Response(IdentityMemberSerializer(membership).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    patch=extend_schema(
        operation_id="project_identities_update",
        request=IdentityMemberUpdateRequest,
        responses={200: IdentityMemberSerializer, **errors(400, 403, 404)},
    ),
    delete=extend_schema(operation_id="project_identities_remove", responses={204: None, **errors(403, 404)}),
)
@extend_schema(tags=TAGS, parameters=[PROJECT, IDENTITY_ID])
class ProjectIdentityDetailApi(ApiView):
    def patch(self, request: Request, project: str, identity_id: str) -> Response:
        scope = self.scope(project)
        data = self.parse(IdentityMemberUpdateRequest, request.data)
        membership = services.identity_membership_update(scope=scope, identity_id=identity_id, role=data["role"])
        return Response(IdentityMemberSerializer(membership).data)

    def delete(self, request: Request, project: str, identity_id: str) -> Response:
        services.identity_membership_remove(scope=self.scope(project), identity_id=identity_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
