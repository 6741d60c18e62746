from __future__ import annotations

from django.urls import include, path

from approvals.api.access_request_urls import access_request_urlpatterns, my_access_grant_urlpatterns
from approvals.api.urls import change_request_urlpatterns, policy_urlpatterns
from audit.streams.api.urls import kind_urlpatterns as audit_stream_kind_urlpatterns
from audit.streams.api.urls import stream_urlpatterns as audit_stream_urlpatterns
from dynamic.api.urls import (
    ado_hook_receiver_urlpatterns,
    ado_run_hook_urlpatterns,
    dynamic_secret_urlpatterns,
    lease_urlpatterns,
    target_urlpatterns,
)
from notifications.api.urls import channel_urlpatterns, delivery_urlpatterns
from rotation.api.urls import rotation_urlpatterns
from syncs.api.urls import connection_urlpatterns, sync_urlpatterns

urlpatterns = [
    path("", include("secrets_app.health_urls")),
    path("", include("observability.urls")),
    path("api/v1/connections/", include((connection_urlpatterns, "syncs-api"), namespace="connections-api")),
    path("api/v1/projects/<str:project>/syncs/", include((sync_urlpatterns, "syncs-api"), namespace="syncs-api")),
    path(
        "api/v1/projects/<str:project>/approval-policies/",
        include((policy_urlpatterns, "approvals-api"), namespace="approval-policies-api"),
    ),
    path(
        "api/v1/projects/<str:project>/change-requests/",
        include((change_request_urlpatterns, "approvals-api"), namespace="change-requests-api"),
    ),
    path(
        "api/v1/notification-channels/",
        include((channel_urlpatterns, "notifications-api"), namespace="notification-channels-api"),
    ),
    path(
        "api/v1/notification-deliveries/",
        include((delivery_urlpatterns, "notifications-api"), namespace="notification-deliveries-api"),
    ),
    path(
        "api/v1/projects/<str:project>/access-requests/",
        include((access_request_urlpatterns, "approvals-api"), namespace="access-requests-api"),
    ),
    path(
        "api/v1/me/access-grants/",
        include((my_access_grant_urlpatterns, "approvals-api"), namespace="my-access-grants-api"),
    ),
    path(
        "api/v1/organizations/<str:organization>/audit-streams/",
        include((audit_stream_urlpatterns, "audit-streams-api"), namespace="audit-streams-api"),
    ),
    path(
        "api/v1/audit-stream-kinds/",
        include((audit_stream_kind_urlpatterns, "audit-streams-api"), namespace="audit-stream-kinds-api"),
    ),
    path(
        "api/v1/projects/<str:project>/dynamic-secrets/",
        include((dynamic_secret_urlpatterns, "dynamic-api"), namespace="dynamic-secrets-api"),
    ),
    path("api/v1/projects/<str:project>/leases/", include((lease_urlpatterns, "dynamic-api"), namespace="leases-api")),
    path(
        "api/v1/projects/<str:project>/rotations/",
        include((rotation_urlpatterns, "rotation-api"), namespace="rotations-api"),
    ),
    path(
        "api/v1/organizations/<str:organization>/dynamic-secret-targets/",
        include((target_urlpatterns, "dynamic-api"), namespace="dynamic-targets-api"),
    ),
    path(
        "api/v1/organizations/<str:organization>/ado-run-hooks/",
        include((ado_run_hook_urlpatterns, "dynamic-api"), namespace="ado-run-hooks-api"),
    ),
    path(
        "api/v1/hooks/azure-devops/",
        include((ado_hook_receiver_urlpatterns, "dynamic-api"), namespace="ado-hooks-api"),
    ),
    path("api/v1/", include("governance.api.urls")),
    path("api/v1/organizations/<str:organization>/estate/", include("estate.api.urls")),
    path("api/", include("secrets_app.api.urls")),
    path("compat/infisical/", include("secrets_app.compat.urls")),
    path("compat/infisical/", include("dynamic.compat.urls")),
    path("compat/infisical/", include("rotation.compat.urls")),
    path("scim/v2/", include("secrets_app.scim.urls")),
    path("", include("governance.ui.urls")),
    path("", include("estate.ui.urls")),
    path("", include("secrets_app.scim.ui_urls")),
    path("", include("syncs.ui.urls")),
    path("", include("notifications.ui.urls")),
    path("", include("audit.streams.ui.urls")),
    path("", include("approvals.ui.urls")),
    path("", include("dynamic.ui.urls")),
    path("", include("rotation.ui.urls")),
    path("", include("secrets_app.ui.urls")),
]

# Unmatched URLs under /api/ answer the API's JSON error shape; elsewhere Django's page.
handler404 = "secrets_app.api.errors.not_found"
