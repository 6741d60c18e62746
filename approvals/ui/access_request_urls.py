"""Routes of the access-request pages (added to ``approvals.ui.urls``, namespace ``approvals``)."""

from __future__ import annotations

from django.urls import path

from approvals.ui import access_requests as views

ACCESS = "projects/<slug:slug>/access/requests/<uuid:public_id>/"

access_request_urlpatterns = [
    path("projects/<slug:slug>/access/request/", views.access_request_new, name="access_request_new"),
    path(ACCESS, views.access_request_detail, name="access_request_detail"),
    path(ACCESS + "act/", views.access_request_act, name="access_request_act"),
    path("approvals/inbox/", views.access_inbox, name="access_inbox"),
    path("access/mine/", views.my_access, name="my_access"),
]
