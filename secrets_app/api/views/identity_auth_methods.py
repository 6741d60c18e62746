"""Configuration of an identity's JWT, OIDC and Kubernetes auth methods (org admins only; stored
secrets are write-only): ``/api/v1/identities/<identity>/{jwt-auth,oidc-auth,kubernetes-auth}/``.

Logging in with them is elsewhere: ``secrets_app/identities/login_views.py``.
"""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from secrets_app.api.authentication import IsPerson
from secrets_app.api.base import ApiView
from secrets_app.api.schema import errors
from secrets_app.errors import NotFound
from secrets_app.identities.jwt_auth import jwt_auth_configure, jwt_auth_remove
from secrets_app.identities.kubernetes_auth import (
    kubernetes_auth_configure,
    kubernetes_auth_remove,
)
from secrets_app.identities.login_common import identity_admin_check
from secrets_app.identities.oidc_auth import oidc_auth_configure, oidc_auth_remove
from secrets_app.models import AuthMethodKind, JwtAuth, KubernetesAuth, MachineIdentity
from secrets_app.principals import Principal

IDENTITY = OpenApiParameter("identity", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Identity id")
CONFIG_TAGS = ["identities"]


class TrustedIpsField(serializers.ListField):
    child = serializers.JSONField()


class TokenSettingsRequest(serializers.Serializer):
    accessTokenTTL = serializers.IntegerField(required=False, default=3600)  # noqa: N815
    accessTokenMaxTTL = serializers.IntegerField(required=False, default=86400)  # noqa: N815
    accessTokenNumUsesLimit = serializers.IntegerField(required=False, default=0)  # noqa: N815
    accessTokenTrustedIps = TrustedIpsField(required=False, default=list)  # noqa: N815


class BoundRequest(TokenSettingsRequest):
    boundIssuer = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")  # noqa: N815
    boundAudiences = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")  # noqa: N815
    boundSubject = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")  # noqa: N815
    boundClaims = serializers.DictField(child=serializers.CharField(), required=False, default=dict)  # noqa: N815


class JwtAuthRequest(BoundRequest):
    configurationType = serializers.ChoiceField(choices=["jwks", "static"], default="jwks")  # noqa: N815
    jwksUrl = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")  # noqa: N815
    jwksCaCert = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)  # noqa: N815
    publicKeys = serializers.ListField(child=serializers.CharField(trim_whitespace=False), required=False, default=list)  # noqa: N815


class OidcAuthRequest(BoundRequest):
    oidcDiscoveryUrl = serializers.CharField(max_length=500)  # noqa: N815
    caCert = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)  # noqa: N815


class KubernetesAuthRequest(TokenSettingsRequest):
    kubernetesHost = serializers.CharField(max_length=500)  # noqa: N815
    # Absent: keep what is stored; "" clears it; text replaces it. Never returned.
    caCert = serializers.CharField(required=False, allow_blank=True, allow_null=True, trim_whitespace=False)  # noqa: N815
    tokenReviewerJwt = serializers.CharField(required=False, allow_blank=True, allow_null=True)  # noqa: N815
    allowedNamespaces = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")  # noqa: N815
    allowedNames = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")  # noqa: N815
    allowedAudience = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")  # noqa: N815


def _token_settings(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "access_token_ttl": data["accessTokenTTL"],
        "access_token_max_ttl": data["accessTokenMaxTTL"],
        "access_token_num_uses_limit": data["accessTokenNumUsesLimit"],
        "access_token_trusted_ips": data["accessTokenTrustedIps"],
    }


def _bound(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "bound_issuer": data["boundIssuer"],
        "bound_audiences": data["boundAudiences"],
        "bound_subject": data["boundSubject"],
        "bound_claims": data["boundClaims"],
    }


def _token_settings_out(config: Any) -> dict[str, Any]:
    return {
        "accessTokenTTL": config.access_token_ttl,
        "accessTokenMaxTTL": config.access_token_max_ttl,
        "accessTokenNumUsesLimit": config.access_token_num_uses_limit,
        "accessTokenTrustedIps": list(config.access_token_trusted_ips or []),
        "createdAt": config.created_at.isoformat() if config.created_at else None,
        "updatedAt": config.updated_at.isoformat() if config.updated_at else None,
    }


def jwt_auth_out(config: JwtAuth) -> dict[str, Any]:
    body = {
        "identityId": str(config.identity.public_id),
        "boundIssuer": config.bound_issuer,
        "boundAudiences": config.bound_audiences,
        "boundSubject": config.bound_subject,
        "boundClaims": dict(config.bound_claims or {}),
        **_token_settings_out(config),
    }
    if config.kind == AuthMethodKind.OIDC:
        return {"oidcDiscoveryUrl": config.oidc_discovery_url, "caCert": config.jwks_ca_cert, **body}
    return {
        "configurationType": config.config_type,
        "jwksUrl": config.jwks_url,
        "jwksCaCert": config.jwks_ca_cert,
        "publicKeys": list(config.public_keys or []),
        **body,
    }


def kubernetes_auth_out(config: KubernetesAuth) -> dict[str, Any]:
    return {
        "identityId": str(config.identity.public_id),
        "kubernetesHost": config.kubernetes_host,
        "caCertConfigured": bool(config.ca_cert_ciphertext),
        "tokenReviewerJwtConfigured": bool(config.token_reviewer_jwt_ciphertext),
        "allowedNamespaces": config.allowed_namespaces,
        "allowedNames": config.allowed_names,
        "allowedAudience": config.allowed_audience,
        **_token_settings_out(config),
    }


class _ConfigApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]

    def identity_for_admin(self, identity: str) -> MachineIdentity:
        try:
            public_id = uuid.UUID(str(identity))
        except ValueError:
            raise NotFound("Identity not found") from None
        found = MachineIdentity.objects.filter(public_id=public_id).first()
        if found is None:
            raise NotFound("Identity not found")
        identity_admin_check(self.principal, found)
        return found


CONFIG_ERRORS = errors(400, 403, 404)


def _config_schema(kind: str, request: Any) -> Any:
    response = inline_serializer(f"{kind.title().replace('-', '')}Config", {"identityId": serializers.UUIDField()})
    return {
        "get": extend_schema(
            operation_id=f"identity_{kind.replace('-', '_')}_get", responses={200: response, **errors(403, 404)}
        ),
        "put": extend_schema(
            operation_id=f"identity_{kind.replace('-', '_')}_put",
            request=request,
            responses={200: response, **CONFIG_ERRORS},
        ),
        "delete": extend_schema(
            operation_id=f"identity_{kind.replace('-', '_')}_delete", responses={204: None, **errors(403, 404)}
        ),
    }


def _jwt_config_view(kind: str, request_class: type[serializers.Serializer]) -> type[_ConfigApi]:
    schema = _config_schema(kind, request_class)

    class JwtLikeConfigApi(_ConfigApi):
        @schema["get"]
        def get(self, request: Request, identity: str) -> Response:
            found = self.identity_for_admin(identity)
            config = JwtAuth.objects.select_related("identity").filter(identity=found, kind=kind).first()
            if config is None:
                raise NotFound(f"Identity has no {kind} configured")
            return Response(jwt_auth_out(config))

        @schema["put"]
        def put(self, request: Request, identity: str) -> Response:
            found = self.identity_for_admin(identity)
            data = self.parse(request_class, request.data)
            config = _save_jwt_like(kind, self.principal, found, data)
            return Response(jwt_auth_out(config))

        @schema["delete"]
        def delete(self, request: Request, identity: str) -> Response:
            found = self.identity_for_admin(identity)
            remove = jwt_auth_remove if kind == AuthMethodKind.JWT else oidc_auth_remove
            remove(principal=self.principal, identity=found)
            return Response(status=status.HTTP_204_NO_CONTENT)

    JwtLikeConfigApi.__name__ = JwtLikeConfigApi.__qualname__ = f"{kind.title().replace('-', '')}ConfigApi"
    return extend_schema(tags=CONFIG_TAGS, parameters=[IDENTITY])(JwtLikeConfigApi)


def _save_jwt_like(kind: str, principal: Principal, identity: MachineIdentity, data: dict[str, Any]) -> JwtAuth:
    if kind == AuthMethodKind.OIDC:
        return oidc_auth_configure(
            principal=principal,
            identity=identity,
            oidc_discovery_url=data["oidcDiscoveryUrl"],
            ca_cert=data["caCert"],
            **_bound(data),
            **_token_settings(data),
        )
    return jwt_auth_configure(
        principal=principal,
        identity=identity,
        config_type=data["configurationType"],
        jwks_url=data["jwksUrl"],
        jwks_ca_cert=data["jwksCaCert"],
        public_keys=data["publicKeys"],
        **_bound(data),
        **_token_settings(data),
    )


JwtAuthConfigApi = _jwt_config_view(AuthMethodKind.JWT, JwtAuthRequest)
OidcAuthConfigApi = _jwt_config_view(AuthMethodKind.OIDC, OidcAuthRequest)
_k8s_schema = _config_schema(AuthMethodKind.KUBERNETES, KubernetesAuthRequest)


@extend_schema(tags=CONFIG_TAGS, parameters=[IDENTITY])
class KubernetesAuthConfigApi(_ConfigApi):
    @_k8s_schema["get"]
    def get(self, request: Request, identity: str) -> Response:
        found = self.identity_for_admin(identity)
        config = KubernetesAuth.objects.select_related("identity").filter(identity=found).first()
        if config is None:
            raise NotFound("Identity has no kubernetes-auth configured")
        return Response(kubernetes_auth_out(config))

    @_k8s_schema["put"]
    def put(self, request: Request, identity: str) -> Response:
        found = self.identity_for_admin(identity)
        data = self.parse(KubernetesAuthRequest, request.data)
        config = kubernetes_auth_configure(
            principal=self.principal,
            identity=found,
            kubernetes_host=data["kubernetesHost"],
            ca_cert=data.get("caCert"),
            token_reviewer_jwt=data.get("tokenReviewerJwt"),
            allowed_namespaces=data["allowedNamespaces"],
            allowed_names=data["allowedNames"],
            allowed_audience=data["allowedAudience"],
            **_token_settings(data),
        )
        return Response(kubernetes_auth_out(config))

    @_k8s_schema["delete"]
    def delete(self, request: Request, identity: str) -> Response:
        found = self.identity_for_admin(identity)
        kubernetes_auth_remove(principal=self.principal, identity=found)
        return Response(status=status.HTTP_204_NO_CONTENT)
