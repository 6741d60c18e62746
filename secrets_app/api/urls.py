"""Routes of the native API, included at ``/api/`` by config/urls.py.

``{project}`` is a project slug or its public id (UUID). Secret keys travel URL-encoded in the
path; environment, folder path and flags travel in the query string (reads, PATCH, DELETE) or in
the JSON body (POST).
"""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from secrets_app.api import schema  # noqa: F401  (registers the bearer-token scheme)
from secrets_app.api.views import (
    access,
    audit_export,
    audit_settings,
    groups,
    identities,
    identity_auth_methods,
    invitations,
    people,
    projects,
    rotation_policies,
    scim_tokens,
    secrets,
    sso,
    tree,
)

project_routes = [
    path("", projects.ProjectDetailApi.as_view(), name="project-detail"),
    path("environments/", projects.EnvironmentListApi.as_view(), name="environment-list"),
    # Literal routes come first; they keep serving an environment/secret that happens to bear their name.
    path(
        "environments/reorder/",
        projects.EnvironmentReorderApi.as_view(),
        {"environment": "reorder"},
        name="environment-reorder",
    ),
    path("environments/<str:environment>/", projects.EnvironmentDetailApi.as_view(), name="environment-detail"),
    path("folders/", tree.FolderApi.as_view(), name="folder"),
    path("secrets/", secrets.SecretListApi.as_view(), name="secret-list"),
    path("secrets/bulk/", secrets.SecretBulkApi.as_view(), {"key": "bulk"}, name="secret-bulk"),
    path("secrets/<str:key>/", secrets.SecretDetailApi.as_view(), name="secret-detail"),
    path("secrets/<str:key>/versions/", secrets.SecretVersionListApi.as_view(), name="secret-versions"),
    path("secrets/<str:key>/rollback/", secrets.SecretRollbackApi.as_view(), name="secret-rollback"),
    path(
        "secrets/<str:key>/rotation-policy/",
        rotation_policies.SecretRotationPolicyApi.as_view(),
        name="secret-rotation-policy",
    ),
    path("secrets-due/", rotation_policies.SecretsDueApi.as_view(), name="secrets-due"),
    path("commits/", secrets.CommitListApi.as_view(), name="commit-list"),
    path("commits/<int:id>/rollback/", secrets.CommitRollbackApi.as_view(), name="commit-rollback"),
    path("imports/", tree.ImportListApi.as_view(), name="import-list"),
    path("imports/reorder/", tree.ImportReorderApi.as_view(), name="import-reorder"),
    path("imports/<int:id>/", tree.ImportDetailApi.as_view(), name="import-detail"),
    path("tags/", tree.TagListApi.as_view(), name="tag-list"),
    path("tags/<str:slug>/", tree.TagDetailApi.as_view(), name="tag-detail"),
    path("members/", access.MemberListApi.as_view(), name="member-list"),
    path("members/<int:id>/", access.MemberDetailApi.as_view(), name="member-detail"),
    path("roles/", access.RoleListApi.as_view(), name="role-list"),
    path("roles/<str:slug>/", access.RoleDetailApi.as_view(), name="role-detail"),
    path("identities/", identities.ProjectIdentityListApi.as_view(), name="project-identity-list"),
    path(
        "identities/<str:identity_id>/",
        identities.ProjectIdentityDetailApi.as_view(),
        name="project-identity-detail",
    ),
    path("groups/", groups.ProjectGroupListApi.as_view(), name="project-group-list"),
    path("groups/<str:group>/", groups.ProjectGroupDetailApi.as_view(), name="project-group-detail"),
]

identity_routes = [
    path("", identities.IdentityDetailApi.as_view(), name="identity-detail"),
    path("universal-auth/", identities.UniversalAuthApi.as_view(), name="identity-universal-auth"),
    path(
        "universal-auth/client-secrets/",
        identities.ClientSecretListApi.as_view(),
        name="identity-client-secret-list",
    ),
    path(
        "universal-auth/client-secrets/<int:secret_id>/revoke/",
        identities.ClientSecretRevokeApi.as_view(),
        name="identity-client-secret-revoke",
    ),
    path("tokens/revoke/", identities.IdentityTokensRevokeApi.as_view(), name="identity-tokens-revoke"),
    path("jwt-auth/", identity_auth_methods.JwtAuthConfigApi.as_view(), name="identity-jwt-auth"),
    path("oidc-auth/", identity_auth_methods.OidcAuthConfigApi.as_view(), name="identity-oidc-auth"),
    path("kubernetes-auth/", identity_auth_methods.KubernetesAuthConfigApi.as_view(), name="identity-kubernetes-auth"),
]

v1_routes = [
    path("projects/", projects.ProjectListApi.as_view(), name="project-list"),
    path("projects/<str:project>/", include(project_routes)),
    path("audit-events/", access.AuditEventListApi.as_view(), name="audit-event-list"),
    path("audit-events/export/", audit_export.AuditEventExportApi.as_view(), name="audit-event-export"),
    path(
        "organizations/<str:organization>/audit-events/",
        audit_export.OrganizationAuditEventListApi.as_view(),
        name="organization-audit-event-list",
    ),
    path(
        "organizations/<str:organization>/audit-events/export/",
        audit_export.OrganizationAuditEventExportApi.as_view(),
        name="organization-audit-event-export",
    ),
    path(
        "organizations/<str:organization>/audit-settings/",
        audit_settings.AuditSettingsApi.as_view(),
        name="organization-audit-settings",
    ),
    path("tokens/", access.TokenListApi.as_view(), name="token-list"),
    path("tokens/<int:id>/", access.TokenDetailApi.as_view(), name="token-detail"),
    path("me/", access.MeApi.as_view(), name="me"),
    path("me/password/", people.PasswordChangeApi.as_view(), name="me-password"),
    path("organizations/<str:organization>/people/", people.PersonListApi.as_view(), name="person-list"),
    path("organizations/<str:organization>/people/<int:id>/", people.PersonDetailApi.as_view(), name="person-detail"),
    path(
        "organizations/<str:organization>/people/<int:id>/deactivate/",
        people.PersonDeactivateApi.as_view(),
        name="person-deactivate",
    ),
    path(
        "organizations/<str:organization>/people/<int:id>/unlock/",
        people.PersonUnlockApi.as_view(),
        name="person-unlock",
    ),
    path(
        "organizations/<str:organization>/invitations/",
        invitations.InvitationListApi.as_view(),
        name="invitation-list",
    ),
    path(
        "organizations/<str:organization>/invitations/<uuid:invitation>/",
        invitations.InvitationDetailApi.as_view(),
        name="invitation-detail",
    ),
    path(
        "organizations/<str:organization>/invitations/<uuid:invitation>/resend/",
        invitations.InvitationResendApi.as_view(),
        name="invitation-resend",
    ),
    path("organizations/<str:organization>/sso/", sso.SsoConfigApi.as_view(), name="sso-config"),
    path("organizations/<str:organization>/identities/", identities.IdentityListApi.as_view(), name="identity-list"),
    path(
        "organizations/<str:organization>/scim-tokens/", scim_tokens.ScimTokenListApi.as_view(), name="scim-token-list"
    ),
    path(
        "organizations/<str:organization>/scim-tokens/<int:id>/",
        scim_tokens.ScimTokenDetailApi.as_view(),
        name="scim-token-detail",
    ),
    path("organizations/<str:organization>/groups/", groups.GroupListApi.as_view(), name="group-list"),
    path("organizations/<str:organization>/groups/<str:group>/", groups.GroupDetailApi.as_view(), name="group-detail"),
    path(
        "organizations/<str:organization>/groups/<str:group>/members/",
        groups.GroupMemberListApi.as_view(),
        name="group-member-list",
    ),
    path(
        "organizations/<str:organization>/groups/<str:group>/members/<int:user_id>/",
        groups.GroupMemberDetailApi.as_view(),
        name="group-member-detail",
    ),
    path("identities/<str:identity>/", include(identity_routes)),
    path("", include("secrets_app.api.machine_login_urls")),  # machine login, token renew and revoke
]

app_name = "api"
urlpatterns = [
    path("v1/", include(v1_routes)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]
