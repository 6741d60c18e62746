"""Routes: ``/api/v1/projects/<project>/approval-policies/…`` and ``…/change-requests/…``
(included by config/urls.py, like the syncs app's)."""

from __future__ import annotations

from django.urls import path

from approvals.api import views

policy_urlpatterns = [
    path("", views.PolicyListApi.as_view(), name="policy-list"),
    path("effective/", views.PolicyEffectiveApi.as_view(), name="policy-effective"),
    path("<str:policy>/", views.PolicyDetailApi.as_view(), name="policy-detail"),
]

change_request_urlpatterns = [
    path("", views.ChangeRequestListApi.as_view(), name="change-request-list"),
    path("<str:request_id>/", views.ChangeRequestDetailApi.as_view(), name="change-request-detail"),
    path("<str:request_id>/review/", views.ChangeRequestReviewApi.as_view(), name="change-request-review"),
    path("<str:request_id>/merge/", views.ChangeRequestMergeApi.as_view(), name="change-request-merge"),
    path("<str:request_id>/close/", views.ChangeRequestCloseApi.as_view(), name="change-request-close"),
    path("<str:request_id>/reopen/", views.ChangeRequestReopenApi.as_view(), name="change-request-reopen"),
    path("<str:request_id>/rebase/", views.ChangeRequestRebaseApi.as_view(), name="change-request-rebase"),
    path("<str:request_id>/revise/", views.ChangeRequestReviseApi.as_view(), name="change-request-revise"),
    path("<str:request_id>/comments/", views.ChangeRequestCommentApi.as_view(), name="change-request-comments"),
]
