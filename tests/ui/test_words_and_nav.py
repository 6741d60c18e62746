"""Words and navigation (#17): refusals speak in phrases, roles by name, environments by name with
their slug, and the top navigation and the organization settings area offer only what a person may open."""

from __future__ import annotations

import re

import pytest

from secrets_app.policy.phrases import ACTION_PHRASES, action_phrase
from secrets_app.policy.rules import ACTIONS


def test_every_action_has_a_phrase_without_dots():
    assert set(ACTION_PHRASES) == set(ACTIONS)
    for action in ACTIONS:
        assert "." not in action_phrase(action) and action_phrase(action)
    assert action_phrase("audit.read") == "read the project's audit log"


@pytest.mark.django_db
def test_a_refused_page_names_the_action_in_words(login, cast):
    response = login(cast.dave).get("/projects/acme/audit/")  # a viewer may not read the audit log
    assert response.status_code == 403
    html = response.content.decode()
    assert "You are not allowed to read the project&#x27;s audit log here" in html
    assert "audit read" not in html and "audit.read" not in html


@pytest.fixture
def olga(cast):
    """An organization admin of acme-org."""
    from secrets_app.models import OrgRole
    from secrets_app.services.users import user_create
    from tests.conftest import PASSWORD

    return user_create(
        email="olga@example.com", password=PASSWORD, organization=cast.organization, org_role=OrgRole.ADMIN
    )


@pytest.mark.django_db
def test_a_custom_role_is_shown_by_its_name_on_the_members_and_access_pages(login, cast, olga):
    members = login(cast.alice).get("/projects/acme/members/").content.decode()
    erin_row = members[members.index("erin@example.com") : members.index("</tr>", members.index("erin@example.com"))]
    assert "Developer (dev only)" in erin_row  # the badge and the selected option
    assert '<option value="dev-only" selected>Developer (dev only)</option>' in erin_row
    assert ">dev-only<" not in erin_row  # the slug is only a tooltip/value
    access = login(olga).get(f"/org/acme-org/people/{cast.erin.pk}/access/").content.decode()
    assert 'title="dev-only">Developer (dev only)</span>' in access


@pytest.mark.django_db
def test_the_sidebar_and_matrix_name_each_environment_with_its_slug(login, seeded):
    html = login(seeded.alice).get("/projects/acme/").content.decode()
    sidebar = html[html.index('id="env-list"') : html.index("</section>", html.index('id="env-list"'))]
    for name, slug in (("Development", "dev"), ("Production", "prod")):
        labelled = f'<span class="env-name">{name}</span> <code class="env-slug muted small">{slug}</code>'
        assert labelled in sidebar
        assert html.count(labelled) >= 2  # the matrix header says the same
    # a slug that only repeats the name is not shown twice
    assert '<span class="env-name">Staging</span>' in sidebar and ">staging</code>" not in html


SETTINGS_LABELS = (
    "People",
    "Groups",
    "Identities",
    "Connections",
    "Notification channels",
    "Audit streams",
    "Azure DevOps estate",
    "Pipeline gates",
    "SCIM",
)
_SETTINGS_LINK = re.compile(r'<a href="([^"]+)" data-org-nav="[a-z_]+"(?: aria-current="page")?>([^<]+)</a>')
_TOP_NAV = re.compile(r'<nav class="topnav".*?</nav>', re.DOTALL)


@pytest.mark.django_db
def test_the_top_navigation_offers_identities_and_groups_to_admins_only(login, cast, olga):
    member_nav = _TOP_NAV.search(login(cast.bob).get("/").content.decode()).group(0)
    assert "People" in member_nav
    assert "/org/acme-org/identities/" not in member_nav and "/org/acme-org/groups/" not in member_nav
    admin_nav = _TOP_NAV.search(login(olga).get("/").content.decode()).group(0)
    assert ">Identities</a>" in admin_nav and ">Groups</a>" in admin_nav


@pytest.mark.django_db
def test_the_settings_sub_navigation_lists_every_page_an_admin_may_open_and_each_answers(login, cast, olga):
    admin = login(olga)
    links = _SETTINGS_LINK.findall(admin.get("/org/acme-org/people/").content.decode())
    assert [label for _, label in links] == list(SETTINGS_LABELS)
    assert ("/org/acme-org/connections/", "Connections") in links  # reachable outside a project
    for url, label in links:
        page = admin.get(url)
        assert page.status_code == 200, (label, page.status_code)
    scim = admin.get("/org/acme-org/scim/").content.decode()
    assert '<a href="/org/acme-org/scim/" data-org-nav="scim" aria-current="page">SCIM</a>' in scim


@pytest.mark.django_db
def test_a_member_sees_only_people_in_the_settings_sub_navigation(login, cast):
    links = _SETTINGS_LINK.findall(login(cast.bob).get("/org/acme-org/people/").content.decode())
    assert links == [("/org/acme-org/people/", "People")]
