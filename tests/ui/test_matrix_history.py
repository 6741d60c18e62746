"""Issue #17 (matrix and history): imported secrets in the matrix, references compared resolved and
marked, history that says what changed (never a value) with an audited "reveal diff", per-folder
commit numbers, and a rollback confirmation that lists what it will delete, restore and change."""

from __future__ import annotations

import re

import pytest

from audit.models import AuditEvent
from secrets_app.models import FolderCommit
from secrets_app.selectors.matrix import RowComparison, secret_matrix
from secrets_app.selectors.secrets import secret_list
from tests.ui.conftest import DEV_VALUE, HX, PROD_VALUE, assert_csp_clean, assert_no_values

NEW_VALUE = "new-Val-4f2a61"


def _scope(cast, who="alice"):
    return cast.scope(getattr(cast, who))


def _update(cast, env, key, **fields):
    from secrets_app.services.secrets import SecretInput, secret_update

    new_key = fields.pop("new_key", None)
    return secret_update(
        scope=_scope(cast), environment=env, path="/", key=key, item=SecretInput(key=key, **fields), new_key=new_key
    )


def _create(cast, env, key, value, path="/"):
    from secrets_app.services.secrets import SecretInput, secret_create

    secret_create(scope=_scope(cast), environment=env, path=path, item=SecretInput(key=key, value=value))


def _events_since(start, action):
    return list(AuditEvent.objects.filter(id__gt=start, action=action).order_by("id"))


def _last_event_id():
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


# --- 1. imported secrets --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_matrix_shows_imported_secrets_as_the_cli_receives_them(login, seeded):
    """staging:/backend imports dev:/ and holds its own DATABASE_URL: the import fills REDIS_URL and
    DEV_ONLY (marked, opening their source), the local DATABASE_URL wins."""
    from secrets_app.services.folders import import_create

    import_create(
        scope=_scope(seeded), environment="staging", path="/backend", source_environment="dev", source_path="/"
    )
    _create(seeded, "staging", "DATABASE_URL", "local-Val-77", path="/backend")

    matrix = secret_matrix(_scope(seeded), "/backend")
    staging = {row.key: row.cells[1] for row in matrix.rows}
    api = secret_list(_scope(seeded), environment="staging", path="/backend", include_imports=True, audited=False)
    assert set(staging) == {view.key for view in api.secrets} == {"DATABASE_URL", "REDIS_URL", "DEV_ONLY"}
    assert staging["DATABASE_URL"].imported_from == ""  # local wins, as in the API
    assert staging["REDIS_URL"].imported_from == "dev:/"
    assert (staging["REDIS_URL"].source_environment, staging["REDIS_URL"].source_path) == ("dev", "/")

    html = login(seeded.alice).get("/projects/acme/?path=/backend").content.decode()
    assert_no_values(html)
    assert html.count('class="badge imported"') == 3  # two cells and the legend
    assert "← dev:/" in html
    assert "secrets/item/?environment=dev&amp;path=%2F&amp;key=REDIS_URL" in html  # opens the source
    assert "imported from dev:/, read-only here" in html


# --- 2. references --------------------------------------------------------------------------------


@pytest.fixture
def referenced(seeded):
    """API_URL is written the same in dev and prod, but HOST differs: resolved, they differ."""
    for env, host in (("dev", "dev.example"), ("prod", "prod.example")):
        _create(seeded, env, "HOST", host)
        _create(seeded, env, "API_URL", "https://${HOST}/v1")
    return seeded


@pytest.mark.django_db
def test_the_matrix_compares_references_resolved_and_marks_them(login, referenced):
    rows = {row.key: row for row in secret_matrix(_scope(referenced), "/").rows}
    assert rows["API_URL"].comparison == RowComparison.DIFFERS
    assert rows["API_URL"].cells[0].references == ["${HOST}"]
    assert rows["HOST"].cells[0].references == []

    html = login(referenced.alice).get("/projects/acme/").content.decode()
    assert 'class="badge ref" title="Holds references: ${HOST} (compared resolved)"' in html
    assert "dev.example" not in html
    viewer = login(referenced.dave).get("/projects/acme/").content.decode()  # reads no value: no reference either
    assert 'class="badge ref" title=' not in viewer


@pytest.mark.django_db
def test_a_reveal_shows_the_resolved_and_the_written_value(login, referenced):
    start = _last_event_id()
    response = login(referenced.alice).get("/projects/acme/secrets/value/?environment=dev&path=/&key=API_URL", **HX)
    html = response.content.decode()
    assert "https://dev.example/v1" in html and "https://${HOST}/v1" in html
    assert "Resolved" in html and "As written" in html
    (event,) = _events_since(start, "secret.value_read")
    assert event.metadata["references"] == ["dev:/:HOST"]


# --- 3. history -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_history_says_what_each_change_did_without_values(login, seeded):
    _update(seeded, "dev", "DATABASE_URL", value=NEW_VALUE)
    _update(seeded, "dev", "DATABASE_URL", comment="rotated by ops")
    _update(seeded, "dev", "DEV_ONLY", owner_label="platform", new_key="DEV_ONLY_FLAG")

    start = _last_event_id()
    html = login(seeded.alice).get("/projects/acme/history/?environment=dev&path=/", **HX).content.decode()
    assert_no_values(html)
    assert NEW_VALUE not in html and "rotated by ops" not in html
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "DATABASE_URL v1 → v2 value changed: yes" in text
    assert "DATABASE_URL v2 → v3 value changed: no comment changed" in text
    assert "DEV_ONLY_FLAG key, tags or metadata value unchanged (v1)" in text
    assert "update DEV_ONLY: renamed DEV_ONLY → DEV_ONLY_FLAG; owner changed" in text
    assert "REDIS_URL created v1" in text
    (compared,) = _events_since(start, "secret.values_compared")
    assert compared.metadata["purpose"] == "history" and compared.metadata["count"] == 2
    assert NEW_VALUE not in str(compared.metadata)
    assert html.count(">Reveal diff</button>") == 2

    viewer = login(seeded.dave).get("/projects/acme/history/?environment=dev&path=/", **HX).content.decode()
    assert "value or comment changed" in viewer and "Reveal diff" not in viewer


@pytest.mark.django_db
def test_the_secret_panel_lists_its_changes_with_a_reveal_diff(login, seeded):
    _update(seeded, "prod", "DATABASE_URL", value=NEW_VALUE)
    html = (
        login(seeded.alice)
        .get("/projects/acme/secrets/item/?environment=prod&path=/&key=DATABASE_URL", **HX)
        .content.decode()
    )
    assert_no_values(html)
    assert "value changed: <strong>yes</strong>" in html and "Reveal diff" in html
    assert "Roll back to v1" in html


@pytest.mark.django_db
def test_reveal_diff_reads_both_versions_audited_and_hides_again(login, seeded):
    _update(seeded, "prod", "DATABASE_URL", value=NEW_VALUE)
    url = "/projects/acme/secrets/diff/?environment=prod&path=/&key=DATABASE_URL&from=1&to=2&slot=9"
    start = _last_event_id()
    response = login(seeded.alice).get(url, **HX)
    html = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert PROD_VALUE in html and NEW_VALUE in html and 'hx-history="false"' in html
    assert [event.metadata["version"] for event in _events_since(start, "secret.value_read")] == [1, 2]

    hidden = login(seeded.alice).get(url + "&hide=1", **HX).content.decode()
    assert PROD_VALUE not in hidden and NEW_VALUE not in hidden and "Reveal diff" in hidden
    assert login(seeded.dave).get(url, **HX).status_code == 403


# --- 4. commit numbers ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_commit_numbers_count_per_folder_without_gaps(login, seeded):
    """The seed interleaves dev, staging and prod writes: prod's commits have ids with gaps, yet its
    history numbers them #1, #2."""
    ids = list(
        FolderCommit.objects.filter(folder__environment__slug="prod").order_by("id").values_list("id", flat=True)
    )
    assert len(ids) == 2 and ids[1] - ids[0] > 1
    html = login(seeded.alice).get("/projects/acme/history/?environment=prod&path=/", **HX).content.decode()
    numbers = re.findall(r'<span class="mono" title="commit id \d+ [^"]*">#(\d+)</span>', html)
    assert numbers == ["2", "1"]


# --- 5. rollback confirmation ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_rollback_confirmation_lists_what_it_deletes_restores_and_changes(login, seeded):
    from secrets_app.services.secrets import secret_delete

    dev_commits = FolderCommit.objects.filter(folder__environment__slug="dev", folder__path="/")
    target = dev_commits.order_by("-id").first()  # after the seed: DATABASE_URL, REDIS_URL, DEV_ONLY
    number = dev_commits.count()
    _update(seeded, "dev", "DATABASE_URL", value=NEW_VALUE)
    secret_delete(scope=_scope(seeded), environment="dev", path="/", key="REDIS_URL")
    _create(seeded, "dev", "LATE_KEY", "late-Val")

    client = login(seeded.alice)
    history = client.get("/projects/acme/history/?environment=dev&path=/", **HX).content.decode()
    assert "Roll back here…" in history and "hx-confirm" not in history
    confirm = client.get(f"/projects/acme/history/rollback/confirm/?environment=dev&path=/&commit={target.pk}", **HX)
    html = confirm.content.decode()
    assert confirm.status_code == 200
    assert_no_values(html)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "delete 1 secret created since LATE_KEY" in text
    assert "restore 1 deleted secret REDIS_URL" in text
    assert "change 1 secret back to an earlier value DATABASE_URL v2 → value of v1" in text
    assert f"Roll back to #{number}" in text
    assert not AuditEvent.objects.filter(action="folder.rolled_back").exists()  # nothing done yet
    page = client.get(f"/projects/acme/history/rollback/confirm/?environment=dev&path=/&commit={target.pk}")
    assert page.status_code == 200 and 'id="rollback-confirm"' in page.content.decode()  # the whole page too
    assert_csp_clean(page)

    done = client.post(
        "/projects/acme/history/rollback/", {"environment": "dev", "path": "/", "commit": target.pk}, **HX
    )
    assert done.status_code == 200 and f"back to #{number}." in done.content.decode()
    assert f"roll back to #{number} (commit id {target.pk})" in done.content.decode()  # the new commit's message
    event = AuditEvent.objects.get(action="folder.rolled_back")
    assert event.metadata == {"restored": ["REDIS_URL"], "reverted": ["DATABASE_URL"], "removed": ["LATE_KEY"]}
    assert (
        login(seeded.dave)
        .get(f"/projects/acme/history/rollback/confirm/?environment=dev&path=/&commit={target.pk}", **HX)
        .status_code
        == 403
    )
    assert DEV_VALUE not in html


@pytest.mark.django_db
def test_the_history_compares_no_value_of_a_quarantined_secret(login, seeded):
    from django.utils import timezone

    from secrets_app.models import Secret

    _update(seeded, "dev", "DATABASE_URL", value=NEW_VALUE)
    Secret.objects.filter(environment__slug="dev", key="DATABASE_URL").update(quarantined_at=timezone.now())
    start = _last_event_id()
    html = login(seeded.alice).get("/projects/acme/history/?environment=dev&path=/", **HX).content.decode()
    assert "value or comment changed" in html and "Reveal diff" not in html
    assert _events_since(start, "secret.values_compared") == []
