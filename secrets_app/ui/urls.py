"""The htmx web UI. One URL serves a page and its fragments (``page.html#partial`` for htmx)."""

from __future__ import annotations

from django.urls import path

from secrets_app.ui import (
    audit,
    auth,
    folder_actions,
    folder_history,
    groups,
    identities,
    invitations,
    members,
    people,
    project_settings,
    projects,
    rotation_policies,
    secrets,
    sso,
)

app_name = "ui"

urlpatterns = [
    path("", auth.home, name="home"),
    path("login/", auth.login_view, name="login"),
    path("login/verify/", auth.login_totp, name="login_totp"),
    path("login/sso/", sso.sso_start, name="sso_start"),
    path("login/sso/callback/", sso.sso_callback, name="sso_callback"),
    path("login/sso/<slug:org_slug>/", sso.sso_org_start, name="sso_org_start"),
    path("logout/", auth.logout_view, name="logout"),
    # E-mail invitations: the link is swapped for a session entry, then the page without the token
    path("invite/accept/", invitations.invitation_accept_view, name="invitation_accept"),
    path("invite/<str:token>/", invitations.invitation_open, name="invitation_open"),
    path("account/", auth.account, name="account"),
    path("account/password/", auth.password_change_view, name="password_change"),
    path("account/totp/begin/", auth.totp_begin, name="totp_begin"),
    path("account/totp/confirm/", auth.totp_confirm, name="totp_confirm"),
    path("account/totp/disable/", auth.totp_disable, name="totp_disable"),
    path("account/recovery-codes/", auth.recovery_codes_regenerate_view, name="recovery_codes_regenerate"),
    path("account/tokens/", auth.token_create, name="token_create"),
    path("account/tokens/<int:token_id>/revoke/", auth.token_revoke, name="token_revoke"),
    # Projects and the secret workspace
    path("projects/", projects.project_list, name="project_list"),
    path("projects/<slug:slug>/", projects.project_detail, name="project_detail"),
    path("projects/<slug:slug>/folders/", projects.folder_create, name="folder_create"),
    path("projects/<slug:slug>/folders/actions/", folder_actions.folder_actions, name="folder_actions"),
    path("projects/<slug:slug>/folders/rename/", folder_actions.folder_rename, name="folder_rename"),
    path("projects/<slug:slug>/folders/delete/", folder_actions.folder_delete, name="folder_delete"),
    path("projects/<slug:slug>/imports/", projects.import_create, name="import_create"),
    path("projects/<slug:slug>/imports/<int:import_id>/", projects.import_delete, name="import_delete"),
    path("projects/<slug:slug>/tags/", projects.tag_create, name="tag_create"),
    path("projects/<slug:slug>/tags/<slug:tag>/", projects.tag_delete, name="tag_delete"),
    path("projects/<slug:slug>/history/", folder_history.folder_history, name="folder_history"),
    path(
        "projects/<slug:slug>/history/rollback/confirm/",
        folder_history.folder_rollback_confirm,
        name="folder_rollback_confirm",
    ),
    path("projects/<slug:slug>/history/rollback/", folder_history.folder_rollback, name="folder_rollback"),
    path("projects/<slug:slug>/secrets/diff/", secrets.secret_version_diff, name="secret_version_diff"),
    path("projects/<slug:slug>/secrets/", secrets.secret_create, name="secret_create"),
    path("projects/<slug:slug>/secrets/new/", secrets.secret_new, name="secret_new"),
    path("projects/<slug:slug>/secrets/item/", secrets.secret_item, name="secret_item"),
    path("projects/<slug:slug>/secrets/value/", secrets.secret_reveal, name="secret_reveal"),
    path("projects/<slug:slug>/secrets/masked/", secrets.secret_masked, name="secret_masked"),
    path("projects/<slug:slug>/secrets/rollback/", secrets.secret_rollback, name="secret_rollback"),
    path(
        "projects/<slug:slug>/secrets/rotation-policy/",
        rotation_policies.secret_rotation_policy,
        name="secret_rotation_policy",
    ),
    path("projects/<slug:slug>/secrets-due/", rotation_policies.secrets_due_page, name="secrets_due"),
    # Project settings: the project's name, its environments, deleting it
    path("projects/<slug:slug>/settings/", project_settings.settings_page, name="project_settings"),
    path("projects/<slug:slug>/settings/delete/", project_settings.project_delete, name="project_delete"),
    path(
        "projects/<slug:slug>/settings/environments/",
        project_settings.environment_add,
        name="environment_add",
    ),
    path(
        "projects/<slug:slug>/settings/environments/<slug:environment>/rename/",
        project_settings.environment_rename,
        name="environment_rename",
    ),
    path(
        "projects/<slug:slug>/settings/environments/<slug:environment>/move/",
        project_settings.environment_move,
        name="environment_move",
    ),
    path(
        "projects/<slug:slug>/settings/environments/<slug:environment>/delete/",
        project_settings.environment_delete,
        name="environment_delete",
    ),
    # Members and roles
    path("projects/<slug:slug>/members/", members.member_page, name="members"),
    path("projects/<slug:slug>/members/<int:membership_id>/", members.member_item, name="member_item"),
    path("projects/<slug:slug>/groups/", groups.project_group_add_view, name="project_group_add"),
    path("projects/<slug:slug>/groups/<slug:group>/", groups.project_group_item_view, name="project_group_item"),
    path("projects/<slug:slug>/roles/", members.role_create, name="role_create"),
    path("projects/<slug:slug>/roles/rule-row/", members.role_rule_row, name="role_rule_row"),
    path("projects/<slug:slug>/roles/<slug:role>/", members.role_delete, name="role_delete"),
    # Organization people
    path("org/<slug:org_slug>/people/", people.people_page, name="people"),
    path("org/<slug:org_slug>/people/<int:user_id>/role/", people.person_role, name="person_role"),
    path("org/<slug:org_slug>/people/<int:user_id>/unlock/", people.person_unlock_view, name="person_unlock"),
    path(
        "org/<slug:org_slug>/people/<int:user_id>/deactivate/",
        people.person_deactivate_view,
        name="person_deactivate",
    ),
    path("org/<slug:org_slug>/people/invitations/", invitations.invitation_create_view, name="invitation_create"),
    path(
        "org/<slug:org_slug>/people/invitations/<uuid:invitation_id>/resend/",
        invitations.invitation_resend_view,
        name="invitation_resend",
    ),
    path(
        "org/<slug:org_slug>/people/invitations/<uuid:invitation_id>/revoke/",
        invitations.invitation_revoke_view,
        name="invitation_revoke",
    ),
    path("org/<slug:org_slug>/sso/", sso.org_sso_page, name="org_sso"),
    path("org/<slug:org_slug>/audit/", audit.org_audit_log, name="org_audit"),
    path("org/<slug:org_slug>/audit/retention/", audit.org_audit_retention, name="org_audit_retention"),
    path("org/<slug:org_slug>/audit/export/", audit.org_audit_export, name="org_audit_export"),
    path("org/<slug:org_slug>/audit/<int:event_id>/", audit.org_audit_event, name="org_audit_event"),
    path("org/<slug:org_slug>/people/<int:user_id>/access/", groups.person_access_page, name="person_access"),
    path("org/<slug:org_slug>/groups/", groups.groups_page, name="groups"),
    path("org/<slug:org_slug>/groups/<slug:group>/", groups.group_page, name="group"),
    path("org/<slug:org_slug>/groups/<slug:group>/edit/", groups.group_update_view, name="group_update"),
    path("org/<slug:org_slug>/groups/<slug:group>/delete/", groups.group_delete_view, name="group_delete"),
    path("org/<slug:org_slug>/groups/<slug:group>/members/", groups.group_member_add_view, name="group_member_add"),
    path(
        "org/<slug:org_slug>/groups/<slug:group>/members/<int:user_id>/remove/",
        groups.group_member_remove_view,
        name="group_member_remove",
    ),
    # Machine identities
    path("org/<slug:org_slug>/identities/", identities.identities_page, name="identities"),
    path("org/<slug:org_slug>/identities/<uuid:identity_id>/", identities.identity_page, name="identity"),
    path(
        "org/<slug:org_slug>/identities/<uuid:identity_id>/projects/",
        identities.identity_membership_add_view,
        name="identity_membership_add",
    ),
    path(
        "org/<slug:org_slug>/identities/<uuid:identity_id>/projects/<slug:project>/remove/",
        identities.identity_membership_remove_view,
        name="identity_membership_remove",
    ),
    path(
        "org/<slug:org_slug>/identities/<uuid:identity_id>/universal-auth/",
        identities.identity_universal_view,
        name="identity_universal",
    ),
    path(
        "org/<slug:org_slug>/identities/<uuid:identity_id>/client-secrets/",
        identities.identity_client_secret_create_view,
        name="identity_client_secret_create",
    ),
    path(
        "org/<slug:org_slug>/identities/<uuid:identity_id>/client-secrets/<int:secret_id>/revoke/",
        identities.identity_client_secret_revoke_view,
        name="identity_client_secret_revoke",
    ),
    path(
        "org/<slug:org_slug>/identities/<uuid:identity_id>/tokens/revoke/",
        identities.identity_tokens_revoke_view,
        name="identity_tokens_revoke",
    ),
    path(
        "org/<slug:org_slug>/identities/<uuid:identity_id>/delete/",
        identities.identity_delete_view,
        name="identity_delete",
    ),
    path(
        "org/<slug:org_slug>/identities/<uuid:identity_id>/jwt-auth/",
        identities.identity_jwt_auth_view,
        name="identity_jwt_auth",
    ),
    path(
        "org/<slug:org_slug>/identities/<uuid:identity_id>/oidc-auth/",
        identities.identity_oidc_auth_view,
        name="identity_oidc_auth",
    ),
    path(
        "org/<slug:org_slug>/identities/<uuid:identity_id>/kubernetes-auth/",
        identities.identity_kubernetes_auth_view,
        name="identity_kubernetes_auth",
    ),
    path(
        "org/<slug:org_slug>/identities/<uuid:identity_id>/<str:method>-auth/remove/",
        identities.identity_auth_method_remove_view,
        name="identity_auth_method_remove",
    ),
    # Audit log
    path("projects/<slug:slug>/audit/", audit.audit_log, name="audit"),
    path("projects/<slug:slug>/audit/export/", audit.audit_export, name="audit_export"),
    path("projects/<slug:slug>/audit/<int:event_id>/", audit.audit_event, name="audit_event"),
]
