"""Governance web UI routes (namespace ``governance``), mounted at the site root (config/urls.py)
before the core UI so the dashboard is the home page. Each part keeps its views in its own
``views_<part>.py``; add your routes below.

Agreed names: ``governance:secret_consumers`` (kwargs ``slug``, ``secret_id``) is a secret's
"delivered to" page; ``governance:identity_access`` (kwargs ``project`` slug, ``identity`` public id) is the
per-identity "granted vs delivered" page."""

from __future__ import annotations

from django.urls import path

from governance.ui import views_dashboard, views_gate, views_least_privilege, views_parity, views_quarantine

app_name = "governance"

urlpatterns = [
    # Dashboard
    path("", views_dashboard.home, name="home"),
    path("org/<slug:org_slug>/governance/", views_dashboard.org_dashboard, name="org_dashboard"),
    path("org/<slug:org_slug>/governance/risks/", views_dashboard.org_risks, name="org_risks"),
    path("projects/<slug:slug>/governance/", views_dashboard.project_dashboard, name="project_dashboard"),
    path("projects/<slug:slug>/governance/risks/", views_dashboard.project_risks, name="project_risks"),
    path(
        "projects/<slug:slug>/governance/secrets/<int:secret_id>/",
        views_dashboard.secret_consumers_page,
        name="secret_consumers",
    ),
    # Environment parity
    path("projects/<slug:slug>/governance/parity/", views_parity.parity_page, name="parity"),
    # Quarantine (unused -> quarantined -> deletion proposed), leak flags, the governance policy
    path("projects/<slug:slug>/governance/quarantine/", views_quarantine.quarantine_page, name="quarantine"),
    path(
        "projects/<slug:slug>/governance/quarantine/restore/",
        views_quarantine.quarantine_restore,
        name="quarantine_restore",
    ),
    path(
        "projects/<slug:slug>/governance/quarantine/delete/",
        views_quarantine.quarantine_delete,
        name="quarantine_delete",
    ),
    path("projects/<slug:slug>/governance/leaks/", views_quarantine.leak_flag, name="leak_flag"),
    path("projects/<slug:slug>/governance/leaks/<int:flag>/clear/", views_quarantine.leak_clear, name="leak_clear"),
    path("projects/<slug:slug>/governance/policy/", views_quarantine.policy_update, name="policy"),
    # Least-privilege proposals; the per-identity "granted vs delivered" page
    path(
        "projects/<slug:slug>/governance/least-privilege/",
        views_least_privilege.least_privilege_page,
        name="least_privilege",
    ),
    path(
        "projects/<slug:slug>/governance/least-privilege/<uuid:identity>/apply/",
        views_least_privilege.least_privilege_apply_view,
        name="least_privilege_apply",
    ),
    path(
        "projects/<slug:project>/governance/identities/<uuid:identity>/",
        views_least_privilege.identity_access_page,
        name="identity_access",
    ),
    # Pipeline gates (organization admins)
    path("org/<slug:org_slug>/governance/pipeline-gates/", views_gate.gates_page, name="pipeline_gates"),
    path("org/<slug:org_slug>/governance/pipeline-gates/<uuid:gate>/", views_gate.gate_page, name="pipeline_gate"),
]
