"""Routes (config/urls.py): ``/api/v1/projects/<project>/dynamic-secrets/…``,
``/api/v1/projects/<project>/leases/…`` and ``/api/v1/organizations/<organization>/dynamic-secret-targets/``."""

from __future__ import annotations

from django.urls import path

from dynamic.api import views

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
