"""The SCIM token pages of the htmx UI, included at the site root by config/urls.py."""

from __future__ import annotations

from django.urls import path

from secrets_app.scim import ui

app_name = "scim_ui"
urlpatterns = [
    path("org/<slug:org_slug>/scim/", ui.scim_tokens_page, name="tokens"),
    path("org/<slug:org_slug>/scim/<int:token_id>/revoke/", ui.scim_token_revoke_view, name="token_revoke"),
]
