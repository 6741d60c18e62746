"""Folder rename and delete from the secret workspace: the panel lists what a delete removes
(names only), the writes are the API's services (audited alike), refusals are 403/404."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from audit.models import AuditEvent
from secrets_app.models import Folder
from tests.ui.conftest import DEV_VALUE, HX, assert_csp_clean, assert_no_values

ACTIONS = "/projects/acme/folders/actions/"
RENAME = "/projects/acme/folders/rename/"
DELETE = "/projects/acme/folders/delete/"
NESTED_VALUE = "nested-Val-93bd"


@pytest.fixture
def tree(seeded):
    """/backend (dev, staging) with API_KEY in dev and staging, and /backend/jobs with QUEUE_URL in dev."""
    from secrets_app.services.folders import folder_create
    from secrets_app.services.secrets import SecretInput, secret_create

    scope = seeded.scope(seeded.alice)
    for env in ("dev", "staging"):
        secret_create(scope=scope, environment=env, path="/backend", item=SecretInput(key="API_KEY", value=DEV_VALUE))
    folder_create(scope=scope, environment="dev", path="/backend", name="jobs")
    secret_create(
        scope=scope, environment="dev", path="/backend/jobs", item=SecretInput(key="QUEUE_URL", value=NESTED_VALUE)
    )
    return seeded


def _paths(cast, env: str) -> list[str]:
    return sorted(Folder.objects.filter(project=cast.project, environment__slug=env).values_list("path", flat=True))


@pytest.mark.django_db
def test_the_workspace_offers_folder_actions_inside_a_folder_only_to_those_allowed(login, tree):
    alice = login(tree.alice)
    assert "Rename or delete folder" in alice.get("/projects/acme/?path=/backend").content.decode()
    assert "Rename or delete folder" not in alice.get("/projects/acme/").content.decode()
    assert "Rename or delete folder" not in login(tree.dave).get("/projects/acme/?path=/backend").content.decode()


@pytest.mark.django_db
def test_the_panel_lists_what_a_delete_removes_by_name_never_a_value(login, tree):
    response = login(tree.alice).get(ACTIONS, {"path": "/backend"}, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert_no_values(html)
    assert NESTED_VALUE not in html
    assert "removes 2 secrets and 1 subfolder" in html  # dev
    assert "removes 1 secret and 0 subfolders" in html  # staging
    assert "/backend/jobs/" in html and "jobs/QUEUE_URL" in html and "API_KEY" in html
    assert 'name="environments" value="dev"' in html and 'name="environments" value="staging"' in html
    # Whole-page (no htmx) request: the workspace with the panel open, CSP clean.
    page = login(tree.alice).get(ACTIONS, {"path": "/backend"})
    assert page.status_code == 200 and b'id="folder-actions"' in page.content and b'id="workspace"' in page.content
    assert_csp_clean(page)


@pytest.mark.django_db
def test_it_renames_a_folder_in_the_chosen_environments(login, tree):
    response = login(tree.alice).post(
        RENAME, {"path": "/backend", "name": "api", "environments": ["dev", "staging"]}, **HX
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/projects/acme/?path=" + quote("/api", safe="")
    assert _paths(tree, "dev") == ["/", "/api", "/api/jobs"]
    assert _paths(tree, "staging") == ["/", "/api"]
    assert AuditEvent.objects.filter(
        action="folder.renamed", environment="dev", path="/api", metadata__previous_path="/backend"
    ).exists()


@pytest.mark.django_db
def test_it_names_the_environment_where_a_rename_collides(login, tree):
    from secrets_app.services.folders import folder_create

    folder_create(scope=tree.scope(tree.alice), environment="staging", path="/", name="api")
    response = login(tree.alice).post(RENAME, {"path": "/backend", "name": "api", "environments": ["staging"]}, **HX)
    assert response.status_code == 422
    html = response.content.decode()
    assert "field-error" in html and "staging: already exists" in html
    bad = login(tree.alice).post(RENAME, {"path": "/backend", "name": "no spaces", "environments": ["dev"]}, **HX)
    assert bad.status_code == 422 and b"dev: must be 1-64 letters" in bad.content
    assert _paths(tree, "staging") == ["/", "/api", "/backend"]


@pytest.mark.django_db
def test_it_deletes_a_folder_in_one_environment_with_everything_below(login, tree):
    response = login(tree.alice).post(DELETE, {"path": "/backend", "environments": ["dev"]}, **HX)
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/projects/acme/?path=" + quote("/", safe="")
    assert _paths(tree, "dev") == ["/"]
    assert _paths(tree, "staging") == ["/", "/backend"]
    event = AuditEvent.objects.get(action="folder.deleted", environment="dev", path="/backend")
    assert event.metadata["secrets_deleted"] == 2 and event.metadata["folders"] == 2


@pytest.mark.django_db
def test_a_dev_only_role_is_offered_dev_only(login, tree):
    html = login(tree.erin).get(ACTIONS, {"path": "/backend"}, **HX).content.decode()
    assert 'name="environments" value="dev"' in html and 'value="staging"' not in html


@pytest.mark.django_db
def test_a_viewer_sees_no_controls_and_is_refused_with_403(login, tree):
    client = login(tree.dave)
    html = client.get(ACTIONS, {"path": "/backend"}, **HX).content.decode()
    assert "Your role does not let you rename or delete this folder." in html
    assert "Rename folder" not in html and "Delete folder" not in html
    renamed = client.post(RENAME, {"path": "/backend", "name": "api", "environments": ["dev"]})
    assert renamed.status_code == 403 and "You are not allowed to rename folders here" in renamed.content.decode()
    deleted = client.post(DELETE, {"path": "/backend", "environments": ["dev"]})
    assert deleted.status_code == 403
    assert _paths(tree, "dev") == ["/", "/backend", "/backend/jobs"]


@pytest.mark.django_db
def test_an_outsider_gets_404(login, tree):
    client = login(tree.charlie)
    assert client.get(ACTIONS, {"path": "/backend"}).status_code == 404
    assert client.post(DELETE, {"path": "/backend", "environments": ["dev"]}).status_code == 404
    assert _paths(tree, "dev") == ["/", "/backend", "/backend/jobs"]


@pytest.mark.django_db
def test_the_root_folder_cannot_be_renamed_or_deleted(login, tree):
    response = login(tree.alice).post(DELETE, {"path": "/", "environments": ["dev"]})
    assert response.status_code == 400 and b"root folder cannot be renamed or deleted" in response.content
    assert Folder.objects.filter(project=tree.project, path="/").count() == 3


@pytest.mark.django_db
def test_a_delete_held_by_a_change_policy_opens_a_request_and_deletes_nothing(login, tree):
    from approvals.services.policies import MemberRef, approval_policy_create

    approval_policy_create(
        scope=tree.scope(tree.alice),
        name="dev-guard",
        environments=["dev"],
        path="/**",
        approvers=[MemberRef(kind="user", ref=tree.bob.email)],
        bypassers=[],
    )
    response = login(tree.alice).post(DELETE, {"path": "/backend", "environments": ["dev"]}, **HX)
    assert response.status_code == 200 and response["HX-Retarget"] == "main"
    assert "Change request opened — nothing was changed yet." in response.content.decode()
    assert _paths(tree, "dev") == ["/", "/backend", "/backend/jobs"]
