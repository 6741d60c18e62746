"""Words and navigation (#17): refusals speak in phrases, roles by name, environments by name with
their slug, and the top navigation and the organization settings area offer only what a person may open."""

from __future__ import annotations

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
