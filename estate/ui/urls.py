"""Estate web UI routes (namespace ``estate``), mounted at the site root (config/urls.py): the
estate page (``/org/<org_slug>/estate/``) and the import wizard (``/org/<org_slug>/estate/imports/…``)."""

from __future__ import annotations

from django.urls import path  # noqa: F401

app_name = "estate"

urlpatterns: list = []
