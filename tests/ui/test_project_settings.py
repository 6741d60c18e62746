"""The project settings page: rename the project, add/rename/reorder/delete environments, delete
the project. Admins act (through the API's services, audited the same way); a member sees the
page read-only; a viewer's POSTs are refused (403); an outsider gets 404."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from secrets_app.models import Environment, Project
from tests.ui.conftest import HX, assert_csp_clean, assert_no_values

PAGE = "/projects/acme/settings/"
ENVS = PAGE + "environments/"


def _order(project: Project) -> list[str]:
    return list(Environment.objects.filter(project=project).order_by("position").values_list("slug", flat=True))


def _audited(action: str, **fields: object) -> bool:
    return AuditEvent.objects.filter(action=action, actor_label="alice@example.com", **fields).exists()


@pytest.mark.django_db
def test_it_shows_environments_in_order_with_what_deleting_each_removes(login, seeded):
    response = login(seeded.alice).get(PAGE)
    assert response.status_code == 200
    assert_csp_clean(response)
    html = response.content.decode()
    assert_no_values(html)
    assert html.index(">dev<") < html.index(">staging<") < html.index(">prod<")
    # dev holds DATABASE_URL, REDIS_URL, DEV_ONLY and the /backend folder.
    assert "removes 3 secrets and 1 folder in it" in html
    assert "Add environment" in html and "Rename project" in html and "Delete this project" in html
    # The project header links here.
    assert 'href="/projects/acme/settings/" aria-current="page"' in html
    assert 'href="/projects/acme/settings/"' in login(seeded.alice).get("/projects/acme/").content.decode()


@pytest.mark.django_db
def test_it_renames_the_project(login, cast):
    client = login(cast.alice)
    response = client.post(PAGE, {"name": "Acme platform"}, **HX)
    assert response.status_code == 204 and response["HX-Redirect"] == PAGE + "?renamed=1"
    html = client.get(response["HX-Redirect"]).content.decode()
    assert "Project renamed." in html and "<h1>Acme platform</h1>" in html
    cast.project.refresh_from_db()
    assert cast.project.name == "Acme platform"
    assert _audited("project.updated", project_id=cast.project.pk, resource_id="acme")
    empty = client.post(PAGE, {"name": ""}, **HX)
    assert empty.status_code == 422 and 'id="project-name"' in empty.content.decode()
    assert b"field-error" in empty.content
    cast.project.refresh_from_db()
    assert cast.project.name == "Acme platform"


@pytest.mark.django_db
def test_it_adds_renames_moves_and_deletes_an_environment(login, cast):
    client = login(cast.alice)
    added = client.post(ENVS, {"slug": "qa", "name": "QA"}, **HX)
    assert added.status_code == 200 and b"Added environment qa." in added.content
    assert _order(cast.project) == ["dev", "staging", "prod", "qa"]
    assert _audited("environment.created", resource_id="qa")

    renamed = client.post(ENVS + "qa/rename/", {"slug": "uat", "name": "User acceptance"}, **HX)
    assert renamed.status_code == 200 and b"Environment qa is now uat." in renamed.content
    assert Environment.objects.get(project=cast.project, slug="uat").name == "User acceptance"
    assert _audited("environment.updated", resource_id="uat", metadata__previous_slug="qa")

    moved = client.post(ENVS + "uat/move/", {"direction": "up"}, **HX)
    assert moved.status_code == 200
    assert _order(cast.project) == ["dev", "staging", "uat", "prod"]
    assert _audited("environment.reordered", metadata__order=["dev", "staging", "uat", "prod"])
    client.post(ENVS + "dev/move/", {"direction": "down"}, **HX)
    assert _order(cast.project) == ["staging", "dev", "uat", "prod"]
    # The first one cannot go further up: the order stays.
    client.post(ENVS + "staging/move/", {"direction": "up"}, **HX)
    assert _order(cast.project) == ["staging", "dev", "uat", "prod"]

    assert client.post(ENVS + "nope/move/", {"direction": "up"}).status_code == 404
    assert client.post(ENVS + "uat/move/", {"direction": "sideways"}).status_code == 400

    deleted = client.post(ENVS + "uat/delete/", **HX)
    assert deleted.status_code == 200 and b"Deleted environment uat." in deleted.content
    assert _order(cast.project) == ["staging", "dev", "prod"]
    assert _audited("environment.deleted", resource_id="uat")


@pytest.mark.django_db
def test_it_names_the_field_of_a_bad_or_taken_slug(login, cast):
    client = login(cast.alice)
    taken = client.post(ENVS, {"slug": "prod", "name": ""}, **HX)
    assert taken.status_code == 422
    html = taken.content.decode()
    assert 'id="env-add-slug"' in html and "field-error" in html and "already exists" in html
    bad = client.post(ENVS, {"slug": "Not A Slug!", "name": ""}, **HX)
    assert bad.status_code == 422 and b"field-error" in bad.content
    rename_taken = client.post(ENVS + "dev/rename/", {"slug": "prod", "name": "Dev"}, **HX)
    assert rename_taken.status_code == 422
    html = rename_taken.content.decode()
    # Next to the slug field of dev's own rename form, which stays open.
    assert 'id="env-dev-slug"' in html and "already exists" in html and '<details class="env-rename" open>' in html
    assert _order(cast.project) == ["dev", "staging", "prod"]


@pytest.mark.django_db
def test_it_deletes_the_project_only_when_its_slug_is_typed(login, cast):
    client = login(cast.alice)
    wrong = client.post(PAGE + "delete/", {"confirm": "acm"}, **HX)
    assert wrong.status_code == 422 and b"type acme to confirm" in wrong.content
    assert Project.objects.filter(pk=cast.project.pk).exists()
    response = client.post(PAGE + "delete/", {"confirm": "acme"}, **HX)
    assert response.status_code == 204 and response["HX-Redirect"] == "/projects/"
    assert not Project.objects.filter(slug="acme", organization=cast.organization).exists()
    assert AuditEvent.objects.filter(action="project.deleted", resource_id="acme").exists()


@pytest.mark.django_db
def test_a_member_sees_the_page_read_only(login, cast):
    response = login(cast.bob).get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert ">dev<" in html and ">prod<" in html
    for control in ("Add environment", "Rename project", "Delete this project", "Move dev up", "/delete/"):
        assert control not in html
    assert "environments.manage" in html  # says why
    refused = login(cast.bob).post(ENVS, {"slug": "qa"}, **HX)
    assert refused.status_code == 403
    assert not Environment.objects.filter(project=cast.project, slug="qa").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "data"),
    [
        (PAGE, {"name": "Hijacked"}),
        (ENVS, {"slug": "qa"}),
        (ENVS + "dev/rename/", {"slug": "devx", "name": "x"}),
        (ENVS + "prod/move/", {"direction": "up"}),
        (ENVS + "prod/delete/", {}),
        (PAGE + "delete/", {"confirm": "acme"}),
    ],
)
def test_a_viewer_is_refused_every_change_with_a_readable_message(login, cast, url, data):
    response = login(cast.dave).post(url, data)
    assert response.status_code == 403
    assert "You are not allowed to" in response.content.decode()
    cast.project.refresh_from_db()
    assert cast.project.name == "Acme app"
    assert _order(cast.project) == ["dev", "staging", "prod"]
    assert AuditEvent.objects.filter(action="permission.denied", actor_label="dave@example.com").exists()


@pytest.mark.django_db
def test_an_outsider_gets_404_for_the_page_and_every_change(login, cast):
    for user in (cast.charlie, cast.mallory):
        client = login(user)
        assert client.get(PAGE).status_code == 404
        assert client.post(ENVS + "prod/delete/").status_code == 404
        assert client.post(PAGE + "delete/", {"confirm": "acme"}).status_code == 404
    assert _order(cast.project) == ["dev", "staging", "prod"]
