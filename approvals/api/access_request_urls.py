"""Routes: ``/api/v1/projects/<project>/access-requests/…`` and ``/api/v1/me/access-grants/``
(included by config/urls.py)."""

from __future__ import annotations

from django.urls import path

from approvals.api import access_requests as views

access_request_urlpatterns = [
    path("", views.AccessRequestListApi.as_view(), name="access-request-list"),
    path("<str:request_id>/", views.AccessRequestDetailApi.as_view(), name="access-request-detail"),
    path("<str:request_id>/review/", views.AccessRequestReviewApi.as_view(), name="access-request-review"),
    path(
        "<str:request_id>/break-glass/", views.AccessRequestBreakGlassApi.as_view(), name="access-request-break-glass"
    ),
    path("<str:request_id>/cancel/", views.AccessRequestCancelApi.as_view(), name="access-request-cancel"),
    path("<str:request_id>/revoke/", views.AccessRequestRevokeApi.as_view(), name="access-request-revoke"),
]

my_access_grant_urlpatterns = [
    path("", views.MyAccessGrantListApi.as_view(), name="my-access-grants"),
]
