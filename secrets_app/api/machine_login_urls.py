"""Routes for JWT / OIDC / Kubernetes machine login and those auth methods' configuration, included
into ``v1_routes`` of ``secrets_app/api/urls.py`` (so the route/schema tests see them). Login
routes have no trailing slash, like the universal-auth one (the Infisical adapter accepts both)."""

from __future__ import annotations

from django.urls import path

from secrets_app.api.views import machine_login

urlpatterns = [
    path("auth/jwt-auth/login", machine_login.JwtAuthLoginApi.as_view(), name="auth-jwt-login"),
    path("auth/oidc-auth/login", machine_login.OidcAuthLoginApi.as_view(), name="auth-oidc-login"),
    path("auth/kubernetes-auth/login", machine_login.KubernetesAuthLoginApi.as_view(), name="auth-kubernetes-login"),
    path("identities/<str:identity>/jwt-auth/", machine_login.JwtAuthConfigApi.as_view(), name="identity-jwt-auth"),
    path("identities/<str:identity>/oidc-auth/", machine_login.OidcAuthConfigApi.as_view(), name="identity-oidc-auth"),
    path(
        "identities/<str:identity>/kubernetes-auth/",
        machine_login.KubernetesAuthConfigApi.as_view(),
        name="identity-kubernetes-auth",
    ),
]
