"""The native machine login routes (every method, token renew and revoke), included into
``v1_routes`` of ``secrets_app/api/urls.py`` (so the route/schema tests see them). Their views, and
the Infisical-compatible routes' views, are in ``secrets_app/identities/login_views.py``. No
trailing slash, as Infisical's clients call them (the adapter accepts both)."""

from __future__ import annotations

from django.urls import path

from secrets_app.identities import login_views

urlpatterns = [
    path("auth/universal-auth/login", login_views.UniversalAuthLoginApi.as_view(), name="auth-universal-login"),
    path("auth/jwt-auth/login", login_views.JwtAuthLoginApi.as_view(), name="auth-jwt-login"),
    path("auth/oidc-auth/login", login_views.OidcAuthLoginApi.as_view(), name="auth-oidc-login"),
    path("auth/kubernetes-auth/login", login_views.KubernetesAuthLoginApi.as_view(), name="auth-kubernetes-login"),
    path("auth/token/renew", login_views.TokenRenewApi.as_view(), name="auth-token-renew"),
    path("auth/token/revoke", login_views.TokenRevokeApi.as_view(), name="auth-token-revoke"),
]
