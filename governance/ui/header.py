"""The project header every governance page shows (components/project_header.html): its tabs
are offered by what the caller's access allows, and the Governance tab is the current one."""

from __future__ import annotations

from typing import Any

from secrets_app.models import Project
from secrets_app.policy import ProjectAccess


def project_header(project: Project, access: ProjectAccess) -> dict[str, Any]:
    return {
        "project": project,
        "role": access.role,
        "nav": "governance",
    }
