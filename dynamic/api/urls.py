"""Routes (config/urls.py): ``/api/v1/projects/<project>/dynamic-secrets/…``,
``/api/v1/projects/<project>/leases/…``, ``/api/v1/organizations/<organization>/dynamic-secret-targets/``,
``/api/v1/organizations/<organization>/ado-run-hooks/…`` and ``/api/v1/hooks/azure-devops/<hook>/run-state``."""

from __future__ import annotations

from django.urls import path

from dynamic.api import ado_views, views

dynamic_secret_urlpatterns = [
    path("", views.DynamicSecretListApi.as_view(), name="dynamic-secret-list"),
    path("<str:secret>/", views.DynamicSecretDetailApi.as_view(), name="dynamic-secret-detail"),
    path("<str:secret>/leases/", views.DynamicSecretLeaseListApi.as_view(), name="dynamic-secret-leases"),
]

lease_urlpatterns = [
    path("", views.LeaseListApi.as_view(), name="lease-list"),
    path("<str:lease>/", views.LeaseDetailApi.as_view(), name="lease-detail"),
    path("<str:lease>/renew/", views.LeaseRenewApi.as_view(), name="lease-renew"),
    path("<str:lease>/revoke/", views.LeaseRevokeApi.as_view(), name="lease-revoke"),
    path("<str:lease>/force-revoke/", views.LeaseForceRevokeApi.as_view(), name="lease-force-revoke"),
]

target_urlpatterns = [
    path("", views.TargetAllowlistApi.as_view(), name="dynamic-secret-targets"),
]

ado_run_hook_urlpatterns = [
    path("", ado_views.AdoRunHookListApi.as_view(), name="ado-run-hooks"),
    path("<str:hook>/", ado_views.AdoRunHookDetailApi.as_view(), name="ado-run-hook-detail"),
]

ado_hook_receiver_urlpatterns = [
    path("<str:hook>/run-state", ado_views.AdoRunStateHookApi.as_view(), name="ado-run-state-hook"),
]
