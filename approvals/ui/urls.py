"""Routes of the approvals pages (included by config/urls.py, namespace ``approvals``)."""

from __future__ import annotations

from django.urls import path

from approvals.ui import change_requests, links, views
from approvals.ui.access_request_urls import access_request_urlpatterns

app_name = "approvals"

CHANGE = "projects/<slug:slug>/approvals/changes/<str:request_id>/"

urlpatterns = [
    path("projects/<slug:slug>/approvals/", views.policy_list_page, name="policies"),
    path(
        "projects/<slug:slug>/approvals/policies/<uuid:policy_id>/delete/",
        views.policy_delete_view,
        name="policy_delete",
    ),
    # Review links (what notifications carry): GET only, verify and redirect
    path("approvals/l/<str:token>/", links.review_link_view, name="review_link"),
    # Change requests (held secret writes): list, the review page (by public id or slug), actions
    path("projects/<slug:slug>/approvals/changes/", change_requests.change_request_list_page, name="change_requests"),
    path(CHANGE, change_requests.change_request_detail_page, name="change_request_detail"),
    path(CHANGE + "review/", change_requests.change_request_review_view, name="change_request_review"),
    path(CHANGE + "merge/", change_requests.change_request_merge_view, name="change_request_merge"),
    path(CHANGE + "rebase/", change_requests.change_request_rebase_view, name="change_request_rebase"),
    path(CHANGE + "revise/", change_requests.change_request_revise_view, name="change_request_revise"),
    path(CHANGE + "status/", change_requests.change_request_status_view, name="change_request_status"),
    path(CHANGE + "comments/", change_requests.change_request_comment_view, name="change_request_comments"),
    path(CHANGE + "values/", change_requests.change_request_values_view, name="change_request_values"),
]

# Access requests (just-in-time access): ask, one request, the approvers' inbox, "My access"
urlpatterns += access_request_urlpatterns
