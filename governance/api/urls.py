"""Governance REST routes, mounted under ``/api/v1/`` (config/urls.py) in the ``governance-api``
namespace. Each part keeps its views in its own ``views_<part>.py``; add your routes below."""

from __future__ import annotations

from django.urls import path

from governance.api import (
    views_dashboard,
    views_gate,
    views_leaks,
    views_least_privilege,
    views_parity,
    views_quarantine,
)

app_name = "governance-api"

urlpatterns = [
    # Dashboard (figures, charts, risk list, consumers)
    path(
        "organizations/<str:organization>/governance/dashboard/",
        views_dashboard.OrganizationDashboardApi.as_view(),
        name="org-dashboard",
    ),
    path(
        "organizations/<str:organization>/governance/top-consumers/",
        views_dashboard.OrganizationTopConsumersApi.as_view(),
        name="org-top-consumers",
    ),
    path(
        "organizations/<str:organization>/governance/risks/",
        views_dashboard.OrganizationRiskListApi.as_view(),
        name="org-risks",
    ),
    path(
        "projects/<str:project>/governance/dashboard/",
        views_dashboard.ProjectDashboardApi.as_view(),
        name="project-dashboard",
    ),
    path(
        "projects/<str:project>/governance/risks/",
        views_dashboard.ProjectRiskListApi.as_view(),
        name="project-risks",
    ),
    path(
        "projects/<str:project>/governance/top-consumers/",
        views_dashboard.ProjectTopConsumersApi.as_view(),
        name="project-top-consumers",
    ),
    path(
        "projects/<str:project>/governance/secrets/<str:secret>/consumers/",
        views_dashboard.SecretConsumersApi.as_view(),
        name="secret-consumers",
    ),
    # Environment parity
    path(
        "projects/<str:project>/governance/parity/",
        views_parity.ProjectParityApi.as_view(),
        name="project-parity",
    ),
    # Pipeline gate (Azure DevOps Invoke REST API check; docs/governance.md)
    path(
        "organizations/<str:organization>/governance/pipeline-gates/",
        views_gate.PipelineGateListApi.as_view(),
        name="pipeline-gates",
    ),
    path(
        "organizations/<str:organization>/governance/pipeline-gates/<str:gate>/",
        views_gate.PipelineGateDetailApi.as_view(),
        name="pipeline-gate-detail",
    ),
    path(
        "organizations/<str:organization>/governance/pipeline-gates/<str:gate>/decisions/",
        views_gate.PipelineGateDecisionListApi.as_view(),
        name="pipeline-gate-decisions",
    ),
    path("governance/ado-gates/<str:gate>/check", views_gate.AdoGateCheckApi.as_view(), name="ado-gate-check"),
    path(
        "governance/pipeline-gates/<str:gate>/evaluate",
        views_gate.PipelineGateEvaluateApi.as_view(),
        name="pipeline-gate-evaluate",
    ),
    # Quarantine (unused -> quarantined -> deletion proposed), leak flags, the governance policy
    path(
        "projects/<str:project>/governance/quarantine-candidates/",
        views_quarantine.QuarantineCandidatesApi.as_view(),
        name="quarantine-candidates",
    ),
    path(
        "projects/<str:project>/governance/quarantines/",
        views_quarantine.QuarantineListApi.as_view(),
        name="quarantines",
    ),
    path(
        "projects/<str:project>/governance/quarantines/<int:secret>/restore/",
        views_quarantine.QuarantineRestoreApi.as_view(),
        name="quarantine-restore",
    ),
    path(
        "projects/<str:project>/governance/quarantines/<int:secret>/delete/",
        views_quarantine.QuarantineDeleteApi.as_view(),
        name="quarantine-delete",
    ),
    path(
        "projects/<str:project>/governance/policy/",
        views_quarantine.GovernancePolicyApi.as_view(),
        name="policy",
    ),
    path("projects/<str:project>/governance/leak-flags/", views_leaks.LeakFlagListApi.as_view(), name="leak-flags"),
    path(
        "projects/<str:project>/governance/leak-flags/<int:flag>/clear/",
        views_leaks.LeakFlagClearApi.as_view(),
        name="leak-flag-clear",
    ),
    # Least-privilege proposals
    path(
        "projects/<str:project>/governance/least-privilege/",
        views_least_privilege.LeastPrivilegeListApi.as_view(),
        name="least-privilege",
    ),
    path(
        "projects/<str:project>/governance/least-privilege/<str:identity>/",
        views_least_privilege.LeastPrivilegeDetailApi.as_view(),
        name="least-privilege-identity",
    ),
    path(
        "projects/<str:project>/governance/least-privilege/<str:identity>/apply/",
        views_least_privilege.LeastPrivilegeApplyApi.as_view(),
        name="least-privilege-apply",
    ),
]
