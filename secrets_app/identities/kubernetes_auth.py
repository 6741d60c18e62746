"""Kubernetes auth: a workload presents its service-account token; the cluster's TokenReview API
says whose it is.

``POST {host}/apis/authentication.k8s.io/v1/tokenreviews`` with ``Authorization: Bearer
<reviewer JWT>`` — or, with no reviewer configured, the presented token itself (Infisical does the
same; that service account then needs ``system:auth-delegator``). TLS trusts the stored CA
certificate, or the system trust store when none is stored (never unverified). The reviewer JWT
and the CA are sealed with the root key and never returned by any interface.

Outcomes: ``status.error`` or not ``status.authenticated`` → 401; a username other than
``system:serviceaccount:<ns>:<name>`` → 401; namespace/name not in the allowed comma lists (empty
= any) → 401; ``allowed_audience`` set and absent from ``status.audiences`` → 401. The API server
refusing the reviewer (401/403), unreachable, a timeout, any other answer → 502 with one generic
text (``login_common.UPSTREAM_FAILED``; the detail is in the audit event). The reviewer may be any
bearer token the API server accepts (a service-account JWT, a static or bootstrap token).
"""

from __future__ import annotations

from typing import Any

import requests
from django.db import transaction

from audit.services import audit_record
from secrets_app import outbound
from secrets_app.crypto.bindings import kubernetes_auth_aad
from secrets_app.errors import ValidationFailed
from secrets_app.identities.access_tokens import IssuedToken
from secrets_app.identities.login_common import (
    HTTP_TIMEOUT_SECONDS,
    LoginRefused,
    identity_admin_check,
    run_login,
    tls_verify,
    token_settings_clean,
    upstream_failed,
    validate_ca_pem,
    validate_outbound_url,
)
from secrets_app.keyring import keyring
from secrets_app.models import AuthMethodKind, KubernetesAuth, MachineIdentity
from secrets_app.principals import Principal

TOKEN_REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"  # noqa: S105 (a URL path)
_SA_PREFIX = "system:serviceaccount:"


def _aad(identity_id: int, field: str) -> bytes:
    return kubernetes_auth_aad(identity_id=identity_id, field=field)


def _open(config: KubernetesAuth, field: str) -> str:
    sealed = getattr(config, f"{field}_ciphertext")
    if not sealed:
        return ""
    return keyring.open_with_root(bytes(sealed), _aad(config.identity_id, field)).decode()


def comma_list(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def token_review(config: KubernetesAuth, raw: str) -> dict[str, Any]:
    """The TokenReview ``status`` for *raw*, or LoginRefused."""
    reviewer = _open(config, "token_reviewer_jwt")
    body: dict[str, Any] = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": raw},
    }
    if config.allowed_audience:
        body["spec"]["audiences"] = [config.allowed_audience]
    url = config.kubernetes_host.rstrip("/") + TOKEN_REVIEW_PATH
    try:
        with outbound.session(bound_to=[url]) as session:
            response = session.post(
                url,
                json=body,
                headers={"Authorization": f"Bearer {reviewer or raw}", "Accept": "application/json"},
                timeout=HTTP_TIMEOUT_SECONDS,
                verify=tls_verify(_open(config, "ca_cert")),
                allow_redirects=False,
            )
    except outbound.OutboundRefused as refusal:
        raise upstream_failed(f"The Kubernetes API server was not contacted: {refusal}") from None
    except requests.Timeout:
        raise upstream_failed("The Kubernetes API server did not answer in time") from None
    except requests.RequestException as exc:
        raise upstream_failed(f"The Kubernetes API server could not be reached ({type(exc).__name__})") from None
    if response.status_code in (401, 403):
        if reviewer:
            raise upstream_failed(
                f"The Kubernetes API server refused the token reviewer (HTTP {response.status_code}): "
                "check the reviewer JWT and that it may create TokenReviews (system:auth-delegator)",
            )
        raise LoginRefused(
            401,
            f"The Kubernetes API server refused this token as reviewer (HTTP {response.status_code}); "
            "without a reviewer JWT the service account needs system:auth-delegator",
        )
    if response.status_code not in (200, 201):
        raise upstream_failed(f"The Kubernetes API server answered HTTP {response.status_code}")
    try:
        status = response.json().get("status") or {}
    except (ValueError, AttributeError):
        raise upstream_failed("The Kubernetes API server did not answer a TokenReview") from None
    if not isinstance(status, dict):
        raise upstream_failed("The Kubernetes API server did not answer a TokenReview")
    if status.get("error"):
        raise LoginRefused(401, f"Kubernetes token review failed: {str(status['error'])[:200]}")
    if status.get("authenticated") is not True:
        raise LoginRefused(401, "Kubernetes token not authenticated")
    return status


def _check(config: KubernetesAuth, raw: str) -> tuple[str, str]:
    status = token_review(config, raw)
    username = str((status.get("user") or {}).get("username") or "")
    parts = username[len(_SA_PREFIX) :].split(":") if username.startswith(_SA_PREFIX) else []
    if len(parts) != 2 or not all(parts):
        raise LoginRefused(401, "Not a service account token")
    namespace, name = parts
    namespaces, names = comma_list(config.allowed_namespaces), comma_list(config.allowed_names)
    if namespaces and namespace not in namespaces:
        raise LoginRefused(401, f"Access denied: namespace {namespace!r} not allowed")
    if names and name not in names:
        raise LoginRefused(401, f"Access denied: service account {name!r} not allowed")
    if config.allowed_audience and config.allowed_audience not in (status.get("audiences") or []):
        raise LoginRefused(401, "Access denied: token audience not allowed")
    return namespace, name


def kubernetes_auth_login(*, identity_id: str, jwt: str, ip: str) -> IssuedToken:
    """Exchange a service-account token for an access token. *identity_id* is the identity's public
    id. Raises LoginRefused (404 not configured, 401 refused, 403 IP, 502/504 API server)."""
    return run_login(
        method=AuthMethodKind.KUBERNETES,
        identity_id=identity_id,
        ip=ip,
        config_for=lambda identity: KubernetesAuth.objects.filter(identity=identity).first(),
        verify=lambda config: _check(config, jwt),
        not_configured="Identity has no Kubernetes auth configured",
    )


# --- configuration ----------------------------------------------------------------------------------


def kubernetes_auth_configure(
    *,
    principal: Principal,
    identity: MachineIdentity,
    kubernetes_host: str,
    ca_cert: str | None = None,
    token_reviewer_jwt: str | None = None,
    allowed_namespaces: str = "",
    allowed_names: str = "",
    allowed_audience: str = "",
    access_token_ttl: int = 3600,
    access_token_max_ttl: int = 86400,
    access_token_num_uses_limit: int = 0,
    access_token_trusted_ips: list[str] | None = None,
) -> KubernetesAuth:
    """Create or replace Kubernetes auth. ``ca_cert`` / ``token_reviewer_jwt``: ``None`` keeps the
    stored value, ``""`` clears it, text replaces it (sealed with the root key)."""
    identity_admin_check(principal, identity)
    host = validate_outbound_url("kubernetesHost", kubernetes_host)
    if ca_cert is not None:
        ca_cert = validate_ca_pem("caCert", ca_cert)
    if token_reviewer_jwt is not None:
        # Any bearer token the API server accepts: a service-account JWT, but also an opaque static
        # or bootstrap token (the TokenReview call is the real check). Only what cannot travel in an
        # Authorization header is refused.
        token_reviewer_jwt = token_reviewer_jwt.strip()
        if (
            token_reviewer_jwt
            and not token_reviewer_jwt.isprintable()
            or any(c.isspace() for c in token_reviewer_jwt or "")
        ):
            raise ValidationFailed("tokenReviewerJwt", "Must be a bearer token without spaces or line breaks")
    settings = token_settings_clean(
        access_token_ttl=access_token_ttl,
        access_token_max_ttl=access_token_max_ttl,
        access_token_num_uses_limit=access_token_num_uses_limit,
        access_token_trusted_ips=access_token_trusted_ips,
    )
    with transaction.atomic():
        config = KubernetesAuth.objects.select_for_update().filter(identity=identity).first()
        created = config is None
        config = config or KubernetesAuth(identity=identity)
        config.kubernetes_host = host
        config.allowed_namespaces = ", ".join(comma_list(allowed_namespaces))
        config.allowed_names = ", ".join(comma_list(allowed_names))
        config.allowed_audience = (allowed_audience or "").strip()
        for name, value in settings.items():
            setattr(config, name, value)
        if ca_cert is not None:
            config.ca_cert_ciphertext = (
                keyring.seal_with_root(ca_cert.encode(), _aad(identity.pk, "ca_cert")) if ca_cert else None
            )
        if token_reviewer_jwt is not None:
            config.token_reviewer_jwt_ciphertext = (
                keyring.seal_with_root(token_reviewer_jwt.encode(), _aad(identity.pk, "token_reviewer_jwt"))
                if token_reviewer_jwt
                else None
            )
        config.save()
        audit_record(
            action="identity.kubernetes_auth_configured",
            actor=principal.audit_actor(),
            organization_id=identity.organization_id,
            resource_type="identity",
            resource_id=str(identity.public_id),
            metadata={
                "created": created,
                "kubernetes_host": host,
                "allowed_namespaces": config.allowed_namespaces,
                "allowed_names": config.allowed_names,
                "allowed_audience": config.allowed_audience,
                "ca_cert": "unchanged" if ca_cert is None else ("set" if ca_cert else "cleared"),
                "token_reviewer_jwt": "unchanged"
                if token_reviewer_jwt is None
                else ("set" if token_reviewer_jwt else "cleared"),
                **settings,
            },
        )
    return config


def kubernetes_auth_remove(*, principal: Principal, identity: MachineIdentity) -> None:
    identity_admin_check(principal, identity)
    with transaction.atomic():
        deleted, _ = KubernetesAuth.objects.filter(identity=identity).delete()
        audit_record(
            action="identity.kubernetes_auth_removed",
            actor=principal.audit_actor(),
            organization_id=identity.organization_id,
            resource_type="identity",
            resource_id=str(identity.public_id),
            metadata={"existed": bool(deleted)},
        )


__all__ = ["LoginRefused", "kubernetes_auth_configure", "kubernetes_auth_login", "kubernetes_auth_remove"]
