"""Routes of the approvals pages (included by config/urls.py, namespace ``approvals``)."""

from __future__ import annotations

from django.urls import path

from approvals.ui import change_requests, links

app_name = "approvals"

urlpatterns = [
    path("approvals/l/<str:token>/", links.review_link_view, name="review_link"),
    # Change requests (held secret writes)
    path("projects/<slug:slug>/approvals/changes/", change_requests.change_request_list_page, name="change_requests"),
    path(
        "projects/<slug:slug>/approvals/changes/<uuid:public_id>/",
        change_requests.change_request_detail_page,
        name="change_request_detail",
    ),
]
