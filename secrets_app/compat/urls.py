"""Routes of the Infisical-compatible adapter (a client's site URL is ``http://HOST/compat/infisical``).

Every route accepts an optional trailing slash (Infisical runs with ``ignoreTrailingSlash``)."""

from __future__ import annotations

from typing import Any

from django.urls import re_path

from secrets_app.compat.views_resources import (
    FolderItemView,
    FolderListView,
    ImportItemView,
    ImportListView,
    ProjectView,
    TagBySlugView,
    TagListView,
)
from secrets_app.compat.views_secrets import SecretBatchView, SecretItemView, SecretListView
from secrets_app.identities import login_views

NAME = r"(?P<name>[^/]+)"
REF = r"(?P<ref>[^/]+)"


def route(pattern: str, view, name: str):  # type: ignore[no-untyped-def]
    return re_path(rf"^{pattern}/?$", view, name=f"compat-{name}")


def login(method: login_views.LoginMethod) -> Any:
    """The adapter's login view for *method*."""
    return login_views.CompatLoginView.as_view(method=method)


urlpatterns = [
    # machine login: secrets_app/identities/login_views.py (with the native routes' views)
    route(r"api/v1/auth/universal-auth/login", login(login_views.UNIVERSAL), "universal-login"),
    route(r"api/v1/auth/jwt-auth/login", login(login_views.JWT), "jwt-login"),
    route(r"api/v1/auth/oidc-auth/login", login(login_views.OIDC), "oidc-login"),
    route(r"api/v1/auth/kubernetes-auth/login", login(login_views.KUBERNETES), "kubernetes-login"),
    route(r"api/v1/auth/token/renew", login_views.CompatTokenRenewView.as_view(), "token-renew"),
    route(r"api/v1/auth/token/revoke", login_views.CompatTokenRevokeView.as_view(), "token-revoke"),
    # secrets: v3 raw and v4 (the static batch routes before the named ones)
    route(r"api/v3/secrets/raw", SecretListView.as_view(), "v3-secrets"),
    route(r"api/v3/secrets/batch/raw", SecretBatchView.as_view(), "v3-secrets-batch"),
    route(rf"api/v3/secrets/raw/{NAME}", SecretItemView.as_view(), "v3-secret"),
    route(r"api/v4/secrets", SecretListView.as_view(), "v4-secrets"),
    route(r"api/v4/secrets/batch", SecretBatchView.as_view(), "v4-secrets-batch"),
    route(rf"api/v4/secrets/{NAME}", SecretItemView.as_view(), "v4-secret"),
    # folders and imports
    route(r"api/v1/folders", FolderListView.as_view(), "v1-folders"),
    route(rf"api/v1/folders/{REF}", FolderItemView.as_view(http_method_names=["patch", "delete"]), "v1-folder"),
    route(r"api/v2/folders", FolderListView.as_view(), "v2-folders"),
    route(rf"api/v2/folders/{REF}", FolderItemView.as_view(), "v2-folder"),
    route(r"api/v2/secret-imports", ImportListView.as_view(), "v2-imports"),
    route(rf"api/v2/secret-imports/{REF}", ImportItemView.as_view(), "v2-import"),
    # projects and tags
    route(rf"api/v2/workspace/{REF}", ProjectView.as_view(), "v2-workspace"),
    route(rf"api/v1/projects/slug/{REF}", ProjectView.as_view(), "v1-project-slug"),
    route(rf"api/v1/workspace/{REF}", ProjectView.as_view(wrap=True), "v1-workspace"),
    route(r"api/v1/projects/(?P<project>[^/]+)/tags", TagListView.as_view(), "tags"),
    route(r"api/v1/projects/(?P<project>[^/]+)/tags/slug/(?P<slug>[^/]+)", TagBySlugView.as_view(), "tag-by-slug"),
]
