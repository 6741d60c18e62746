"""Words and navigation, the last of #17: refusals name their field once and say what to change,
the rule editor says what "no environment checked" means, and each area is marked in the top bar."""

from __future__ import annotations

from typing import Any

import pytest

from secrets_app.models import Project

pytestmark = pytest.mark.django_db


def test_a_project_with_no_or_a_repeated_environment_is_refused_in_clear_words(login: Any, cast: Any, api: Any) -> None:
    ui = login(cast.charlie)
    none = ui.post("/projects/", {"name": "Billing", "slug": "billing", "environments": " , "})
    twice = ui.post("/projects/", {"name": "Billing", "slug": "billing", "environments": "dev,prod,dev"})
    by_api = api(cast.charlie).post(
        "/api/v1/projects/", {"slug": "billing", "name": "Billing", "environments": ["qa", "qa"]}, format="json"
    )

    assert none.status_code == 422 and "must name at least one environment<" in none.content.decode()
    assert twice.status_code == 422 and "names &quot;dev&quot; twice; each environment once" in twice.content.decode()
    assert by_api.status_code == 400
    assert by_api.json()["error"]["fields"] == {"environments": ['names "qa" twice; each environment once']}
    assert not Project.objects.filter(slug="billing").exists()

