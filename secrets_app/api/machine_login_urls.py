"""Routes for JWT / OIDC / Kubernetes machine login and those auth methods' configuration, included
under ``/api/v1/`` by ``secrets_app/api/urls.py``. Login routes answer with or without a trailing
slash (Infisical's clients send both)."""

from __future__ import annotations

from django.urls import path, re_path

from secrets_app.api.views import machine_login

urlpatterns = [
    re_path(r"^auth/jwt-auth/login/?$", machine_login.JwtAuthLoginApi.as_view(), name="auth-jwt-login"),
    re_path(r"^auth/oidc-auth/login/?$", machine_login.OidcAuthLoginApi.as_view(), name="auth-oidc-login"),
    re_path(
        r"^auth/kubernetes-auth/login/?$", machine_login.KubernetesAuthLoginApi.as_view(), name="auth-kubernetes-login"
    ),
    path("identities/<str:identity>/jwt-auth/", machine_login.JwtAuthConfigApi.as_view(), name="identity-jwt-auth"),
    path("identities/<str:identity>/oidc-auth/", machine_login.OidcAuthConfigApi.as_view(), name="identity-oidc-auth"),
    path(
        "identities/<str:identity>/kubernetes-auth/",
        machine_login.KubernetesAuthConfigApi.as_view(),
        name="identity-kubernetes-auth",
    ),
]
