"""Words and navigation, the last of #17: refusals name their field once and say what to change,
the rule editor says what "no environment checked" means, and each area is marked in the top bar."""

from __future__ import annotations

import re
from typing import Any

import pytest

from secrets_app.models import Project
from tests.ui.conftest import HX

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


def test_a_bad_folder_name_is_refused_once_next_to_the_name_not_once_per_environment(login: Any, seeded: Any) -> None:
    ui = login(seeded.alice)
    every_env = ["dev", "staging", "prod"]
    bad = ui.post("/projects/acme/folders/", {"name": "no spaces!", "environments": every_env, "path": "/"}, **HX)
    partly = ui.post("/projects/acme/folders/", {"name": "backend", "environments": every_env, "path": "/"}, **HX)

    assert bad.status_code == 422
    html = bad.content.decode()
    assert html.count("must be 1-64 letters, digits") == 1
    assert "dev: must" not in html and "prod: must" not in html
    field = html[html.index('for="folder-name"') : html.index("must be 1-64 letters")]
    assert "Folder name" in field  # the message sits with the field it is about
    # Where environments differ (backend exists in dev and staging, not prod), it says where.
    assert partly.status_code == 422 and partly.content.decode().count("dev, staging: already exists") == 1


def test_the_rule_editor_says_visibly_that_no_environment_checked_means_all(login: Any, cast: Any) -> None:
    ui = login(cast.alice)
    for html in (
        ui.get("/projects/acme/members/").content.decode(),
        ui.get("/projects/acme/roles/rule-row/?index=1", **HX).content.decode(),
    ):
        checks = html[html.index('<fieldset class="env-checks">') :]
        checks = checks[: checks.index("</fieldset>")]
        visible = checks.replace('<legend class="sr-only">Environments (none checked: all)</legend>', "")
        assert '<span class="small muted" aria-hidden="true">none checked = all</span>' in visible


@pytest.fixture
def olga(cast: Any) -> Any:
    """An organization admin of acme-org."""
    from secrets_app.models import OrgRole
    from secrets_app.services.users import user_create
    from tests.conftest import PASSWORD

    return user_create(
        email="olga@example.com", password=PASSWORD, organization=cast.organization, org_role=OrgRole.ADMIN
    )


def test_the_people_page_header_does_not_repeat_the_settings_sub_navigation(login: Any, olga: Any) -> None:
    html = login(olga).get("/org/acme-org/people/").content.decode()
    header = html[html.index('<div class="page-header">') : html.index('<section class="card" id="people">')]
    nav = html[html.index('<nav class="org-settings-nav"') : html.index("</nav>", html.index("org-settings-nav"))]

    header_links = re.findall(r'class="button[^"]*" id="[^"]+"[^>]*>([^<]+)</a>', header)
    assert header_links == ["Audit log", "Dynamic secret targets", "Single sign-on"]  # not in the sub-navigation
    for label in ("Audit streams", "Azure DevOps estate", "Pipeline gates", "SCIM"):
        assert f">{label}</a>" in nav and label not in header
    assert re.search(r'class="button primary">(Send invitation|Add person)</button>', html)  # its own action stays


def test_the_estate_page_is_not_marked_as_people_and_its_settings_link_is_current(login: Any, olga: Any) -> None:
    html = login(olga).get("/org/acme-org/estate/").content.decode()
    top_bar = re.search(r'<nav class="topnav".*?</nav>', html, re.DOTALL)

    assert top_bar is not None and 'aria-current="page"' not in top_bar.group(0)
    assert '<a href="/org/acme-org/estate/" data-org-nav="estate" aria-current="page">Azure DevOps estate</a>' in html
    assert html.count('aria-current="page"') == 1
