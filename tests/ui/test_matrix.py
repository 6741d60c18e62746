"""The environment matrix: missing / differs flags computed on the server, no value in the page."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from secrets_app.selectors.matrix import CellState, ColumnState, RowComparison, secret_matrix
from tests.ui.conftest import ALL_VALUES, HX, assert_no_values


def _rows(matrix):
    return {row.key: row for row in matrix.rows}


@pytest.mark.django_db
def test_it_flags_missing_and_differing_values(seeded):
    matrix = secret_matrix(seeded.scope(seeded.alice), "/")
    assert [column.slug for column in matrix.columns] == ["dev", "staging", "prod"]
    rows = _rows(matrix)
    assert rows["DATABASE_URL"].comparison == RowComparison.DIFFERS
    assert [cell.group_label for cell in rows["DATABASE_URL"].cells] == ["A", "B", "C"]
    assert rows["REDIS_URL"].comparison == RowComparison.SAME
    assert [cell.state for cell in rows["REDIS_URL"].cells] == [CellState.SET, CellState.MISSING, CellState.SET]
    assert rows["DEV_ONLY"].comparison == RowComparison.SINGLE
    assert all(cell.version == 1 for cell in rows["DATABASE_URL"].cells)
    assert [column.secret_count for column in matrix.columns] == [3, 1, 2]
    assert [sub.name for sub in matrix.subfolders] == ["backend"]
    assert matrix.subfolders[0].environments == ["dev", "staging"]


@pytest.mark.django_db
def test_it_never_returns_values_or_digests(seeded):
    matrix = secret_matrix(seeded.scope(seeded.alice), "/")
    dump = repr(matrix)
    for value in ALL_VALUES:
        assert value not in dump
    for row in matrix.rows:
        for cell in row.cells:
            assert set(vars(cell)) == {
                "environment",
                "state",
                "version",
                "group",
                "tags",
                "is_personal_override",
                "quarantined",
                "imported_from",
                "source_environment",
                "source_path",
                "references",
            }


@pytest.mark.django_db
def test_it_audits_one_comparison_per_matrix_not_value_reads(seeded):
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    secret_matrix(seeded.scope(seeded.alice), "/")
    events = list(AuditEvent.objects.filter(id__gt=start).order_by("id"))
    assert [event.action for event in events] == ["secret.values_compared"]
    event = events[0]
    assert event.path == "/"
    assert event.metadata["environments"] == ["dev", "staging", "prod"]
    assert event.metadata["per_environment"] == {"dev": 3, "staging": 1, "prod": 2}
    assert event.metadata["count"] == 6
    assert event.metadata["keys"] == ["DATABASE_URL", "DEV_ONLY", "REDIS_URL"]
    for value in ALL_VALUES:
        assert value not in str(event.metadata)


@pytest.mark.django_db
def test_it_shows_hidden_instead_of_differs_to_a_viewer(seeded):
    """Dave (viewer) lists names but cannot read values: the comparison is not made for him."""
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    rows = _rows(secret_matrix(seeded.scope(seeded.dave), "/"))
    assert rows["DATABASE_URL"].comparison == RowComparison.HIDDEN
    assert rows["REDIS_URL"].comparison == RowComparison.HIDDEN
    assert all(cell.group is None for cell in rows["DATABASE_URL"].cells)
    actions = list(AuditEvent.objects.filter(id__gt=start).values_list("action", flat=True))
    assert actions == ["secret.listed"]


@pytest.mark.django_db
def test_it_gives_a_dev_only_role_a_dev_only_matrix(seeded):
    matrix = secret_matrix(seeded.scope(seeded.erin), "/")
    assert [column.slug for column in matrix.columns] == ["dev"]
    assert _rows(matrix)["DATABASE_URL"].comparison == RowComparison.SINGLE


@pytest.mark.django_db
def test_it_marks_environments_without_the_folder(seeded):
    matrix = secret_matrix(seeded.scope(seeded.alice), "/backend")
    states = {column.slug: column.state for column in matrix.columns}
    assert states == {"dev": ColumnState.OK, "staging": ColumnState.OK, "prod": ColumnState.NO_FOLDER}
    assert matrix.rows == []


@pytest.mark.django_db
def test_it_renders_the_matrix_without_any_value(login, seeded):
    for user in (seeded.alice, seeded.bob, seeded.dave, seeded.erin):
        response = login(user).get("/projects/acme/")
        assert response.status_code == 200
        html = response.content.decode()
        assert "DATABASE_URL" in html
        assert_no_values(html)
    html = login(seeded.alice).get("/projects/acme/").content.decode()
    assert html.count("cell-missing") == 3  # REDIS_URL in staging, DEV_ONLY in staging and prod
    assert ">differs<" in html and ">same<" in html


@pytest.mark.django_db
def test_it_shows_each_cell_state_in_the_page(login, seeded):
    html = login(seeded.alice).get("/projects/acme/").content.decode()
    redis = html.split('<span class="mono key">REDIS_URL</span>')[1].split("</tr>")[0]
    assert redis.count("cell-set") == 2 and redis.count("cell-missing") == 1
    assert "same" in redis
    database = html.split('<span class="mono key">DATABASE_URL</span>')[1].split("</tr>")[0]
    assert "differs" in database and database.count("group-label") == 3


@pytest.mark.django_db
def test_it_never_shows_the_prod_column_to_a_dev_only_role(login, seeded):
    html = login(seeded.erin).get("/projects/acme/").content.decode()
    assert "Development" in html
    assert "Production" not in html and "Staging" not in html
    assert "environment=prod" not in html and "environment=staging" not in html


@pytest.mark.django_db
def test_it_shows_hidden_comparisons_to_a_viewer_in_the_page(login, seeded):
    html = login(seeded.dave).get("/projects/acme/").content.decode()
    assert "differs: hidden" in html
    assert "Add secret" not in html and "New folder" not in html


@pytest.mark.django_db
def test_it_navigates_folders_with_one_url_for_page_and_fragment(login, seeded):
    client = login(seeded.alice)
    page = client.get("/projects/acme/?path=/backend")
    assert page.status_code == 200 and b"<html" in page.content
    fragment = client.get("/projects/acme/?path=/backend", **HX)
    assert fragment.status_code == 200 and b"<html" not in fragment.content
    assert fragment.content.lstrip().startswith(b'<div id="workspace"')
    assert b'No secrets in <span class="mono">/backend</span> yet' in fragment.content
    missing = client.get("/projects/acme/?path=/nowhere", **HX)
    assert b"No folder at" in missing.content
    invalid = client.get("/projects/acme/?path=/../etc", **HX)
    assert invalid.status_code == 400


@pytest.mark.django_db
def test_it_creates_a_folder_in_the_chosen_environments(login, seeded):
    from secrets_app.models import Folder

    response = login(seeded.alice).post(
        "/projects/acme/folders/", {"name": "api", "environments": ["dev", "prod"], "path": "/"}, **HX
    )
    assert response.status_code == 200
    assert set(
        Folder.objects.filter(project=seeded.project, path="/api").values_list("environment__slug", flat=True)
    ) == {"dev", "prod"}
    assert b">api<" in response.content or b"api</a>" in response.content
    clash = login(seeded.alice).post(
        "/projects/acme/folders/", {"name": "api", "environments": ["dev"], "path": "/"}, **HX
    )
    assert clash.status_code == 422 and clash["HX-Retarget"] == "#folder-form"
    assert b"already exists" in clash.content


@pytest.mark.django_db
def test_it_adds_and_removes_an_import(login, seeded):
    from secrets_app.models import SecretImport

    client = login(seeded.alice)
    response = client.post(
        "/projects/acme/imports/",
        {"environment": "staging", "source_environment": "dev", "source_path": "/", "path": "/backend"},
        **HX,
    )
    assert response.status_code == 200
    item = SecretImport.objects.get(project=seeded.project)
    assert b"dev:/" in response.content
    bad = client.post(
        "/projects/acme/imports/",
        {"environment": "staging", "source_environment": "dev", "source_path": "/nope", "path": "/backend"},
        **HX,
    )
    assert bad.status_code == 422 and b"not found" in bad.content
    removed = client.delete(f"/projects/acme/imports/{item.pk}/?path=/backend", **HX)
    assert removed.status_code == 200 and not SecretImport.objects.exists()


@pytest.mark.django_db
def test_it_manages_tags(login, seeded):
    from secrets_app.models import Tag

    client = login(seeded.alice)
    assert client.post("/projects/acme/tags/", {"slug": "pci", "path": "/"}, **HX).status_code == 200
    assert Tag.objects.filter(project=seeded.project, slug="pci").exists()
    bad = client.post("/projects/acme/tags/", {"slug": "Not Valid", "path": "/"}, **HX)
    assert bad.status_code == 422 and bad["HX-Retarget"] == "#tag-form"
    assert client.delete("/projects/acme/tags/pci/?path=/", **HX).status_code == 200
    assert not Tag.objects.filter(project=seeded.project).exists()
    # Viewers cannot manage tags: the service refuses even when the form is sent by hand.
    assert login(seeded.dave).post("/projects/acme/tags/", {"slug": "x", "path": "/"}, **HX).status_code == 403
