"""The projects page and who can reach which project pages."""

from __future__ import annotations

import pytest

from secrets_app.models import Environment, Project, ProjectMembership
from tests.ui.conftest import HX, assert_csp_clean

PROJECT_PAGES = [
    "/projects/acme/",
    "/projects/acme/?path=/backend",
    "/projects/acme/members/",
    "/projects/acme/audit/",
    "/projects/acme/history/?path=/&environment=dev",
    "/projects/acme/secrets/item/?environment=dev&path=/&key=DATABASE_URL",
    "/projects/acme/secrets/value/?environment=dev&path=/&key=DATABASE_URL",
    "/projects/acme/secrets/new/?environment=dev&path=/&key=DATABASE_URL",
]


@pytest.mark.django_db
def test_it_lists_the_projects_a_person_sees_with_role_and_environments(login, cast):
    html = login(cast.alice).get("/projects/").content.decode()
    assert "Acme app" in html and "Evil app" not in html
    assert "role-admin" in html
    assert ">dev<" in html and ">staging<" in html and ">prod<" in html
    erin = login(cast.erin).get("/projects/").content.decode()
    assert "Acme app" in erin and "dev-only" in erin
    assert ">prod<" not in erin  # a dev-only role never learns that prod exists


@pytest.mark.django_db
def test_it_shows_an_empty_state_that_says_what_to_do(login, cast):
    html = login(cast.charlie).get("/projects/").content.decode()
    assert "No projects yet" in html and "Create your first project" in html
    assert "Acme app" not in html


@pytest.mark.django_db
def test_it_creates_a_project_with_default_environments(login, cast):
    response = login(cast.charlie).post(
        "/projects/", {"name": "Billing", "slug": "billing", "environments": "dev,staging,prod"}, **HX
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/projects/billing/"
    project = Project.objects.get(slug="billing")
    assert project.organization == cast.organization
    assert list(Environment.objects.filter(project=project).values_list("slug", flat=True)) == [
        "dev",
        "staging",
        "prod",
    ]
    assert ProjectMembership.objects.get(project=project, user=cast.charlie).builtin_role == "admin"
    assert login(cast.charlie).get("/projects/billing/").status_code == 200


@pytest.mark.django_db
def test_it_creates_a_project_without_htmx_too(login, cast):
    response = login(cast.charlie).post(
        "/projects/", {"name": "Billing", "slug": "billing", "environments": "dev, prod"}
    )
    assert response.status_code == 302 and response["Location"] == "/projects/billing/"
    assert Environment.objects.filter(project__slug="billing").count() == 2


@pytest.mark.django_db
def test_it_shows_project_form_errors_next_to_the_field(login, cast):
    response = login(cast.alice).post("/projects/", {"name": "Acme again", "slug": "acme", "environments": "dev"}, **HX)
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="create-project"' in html and "already exists" in html and "field-error" in html
    bad = login(cast.alice).post("/projects/", {"name": "X", "slug": "Not A Slug", "environments": "dev"}, **HX)
    assert bad.status_code == 422 and b"lowercase letters" in bad.content


@pytest.mark.django_db
@pytest.mark.parametrize("url", PROJECT_PAGES)
@pytest.mark.parametrize("who", ["charlie", "mallory"])
def test_it_answers_404_to_people_outside_the_project(login, seeded, url, who):
    response = login(getattr(seeded, who)).get(url)
    assert response.status_code == 404
    assert b"DATABASE_URL" not in response.content
    htmx = login(getattr(seeded, who)).get(url, **HX)
    assert htmx.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("post", "/projects/acme/secrets/", {"key": "X", "environment": "dev", "value": "v", "path": "/"}),
        (
            "post",
            "/projects/acme/secrets/item/",
            {
                "environment": "dev",
                "path": "/",
                "key": "DATABASE_URL",
                "version": "1",
                "new_key": "DATABASE_URL",
                "value": "x",
            },
        ),
        ("delete", "/projects/acme/secrets/item/?environment=dev&path=/&key=DATABASE_URL", None),
        (
            "post",
            "/projects/acme/secrets/rollback/",
            {"environment": "dev", "path": "/", "key": "DATABASE_URL", "version": "1"},
        ),
        ("post", "/projects/acme/folders/", {"name": "x", "environments": ["dev"], "path": "/"}),
        ("post", "/projects/acme/tags/", {"slug": "x", "path": "/"}),
        ("post", "/projects/acme/members/", {"email": "charlie@example.com", "role": "admin"}),
        ("post", "/projects/acme/roles/", {"slug": "x", "name": "x", "rule-0-action": "*"}),
        ("post", "/projects/acme/history/rollback/", {"environment": "dev", "path": "/", "commit": "1"}),
    ],
)
def test_it_refuses_writes_from_outside_the_project(login, seeded, method, url, data):
    for who in (seeded.charlie, seeded.mallory):
        client = login(who)
        response = getattr(client, method)(url, data, **HX) if data is not None else getattr(client, method)(url, **HX)
        assert response.status_code == 404
    assert not Project.objects.filter(slug="acme", memberships__user=seeded.charlie).exists()


@pytest.mark.django_db
def test_it_renders_every_page_with_the_csp_and_without_inline_script(login, seeded):
    client = login(seeded.alice)
    for url in ["/login/", "/projects/", "/account/", *PROJECT_PAGES[:-2]]:
        response = client.get(url) if url != "/login/" else login(None).get(url)
        assert response.status_code == 200, url
        assert_csp_clean(response)
    fragment = client.get("/projects/acme/secrets/item/?environment=dev&path=/&key=DATABASE_URL", **HX)
    assert_csp_clean(fragment)


@pytest.mark.django_db
def test_it_answers_503_on_project_pages_while_sealed(login, cast, settings):
    from secrets_app.keyring import keyring

    client = login(cast.alice)
    settings.STRONGROOM_ROOT_KEY = "not-a-key"
    keyring.reset()
    assert client.get("/projects/acme/").status_code == 503
