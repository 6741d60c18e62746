"""Rotations in the web UI, against the machine's MariaDB (it checks passwords): the project's
list, the form per kind (tested live, root password write-only, the single-user downtime stated),
rotate now and its 409 while a run holds the rotation, pause/resume, a rotation's page with its
attempts, edit, delete, and who gets no buttons and 403.

PYTEST_DONT_REWRITE: these assertions handle real passwords, so a failure reports the line, never the
values pytest's rewriting would print.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from rotation.models import Rotation, RotationAttempt
from tests.rotation.conftest import (  # noqa: F401 (fixtures)
    RotationTarget,
    allow_local,
    mysql_rotation_target,
    mysql_target,
    owned_values,
)
from tests.rotation.conftest import login as db_login
from tests.support.celery_worker import eager  # noqa: F401 (fixture)
from tests.ui.conftest import HX, assert_csp_clean

pytestmark = pytest.mark.django_db
LIST = "/projects/acme/rotations/"
NEW = "/projects/acme/rotations/new/"


def _form(target: RotationTarget, **extra: Any) -> dict[str, Any]:
    db = target.db
    return {
        "kind": "mysql",
        "path": "/",
        "environment": "dev",
        "name": "app-db",
        "description": "",
        "host": db.host,
        "port": str(db.port),
        "database": db.database,
        "username": db.username,
        "password": db.password,
        "mode": "alternate",
        "user_1": target.users[0],
        "user_2": target.users[1],
        "key_username": "DB_USERNAME",
        "key_password": "DB_PASSWORD",
        "schedule": "interval",
        "interval_days": "30",
        "rotate_at": "03:30",
        "cron": "",
        **extra,
    }


def _no_password(html: str, target: RotationTarget, *extra: str) -> None:
    for secret in (target.db.password, *target.passwords.values(), *extra):
        assert secret not in html, "a password is in the page"


def _page(rotation: Rotation, suffix: str = "") -> str:
    return f"/projects/acme/rotations/{rotation.public_id}/{suffix}"


def test_it_creates_a_rotation_and_rotate_now_shows_the_new_last_rotated_time(
    login: Any,
    cast: Any,
    allow_local: None,  # noqa: F811
    mysql_rotation_target: RotationTarget,  # noqa: F811
    eager: None,  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    target = mysql_rotation_target
    alice = login(cast.alice)
    empty = alice.get(LIST)
    assert empty.status_code == 200 and "No rotations yet" in empty.content.decode()
    assert 'href="/projects/acme/rotations/new/"' in empty.content.decode()
    assert re.search(r'aria-current="page">(<svg[^>]*>.*?</svg>)?Rotations</a>', empty.content.decode())
    assert_csp_clean(empty)

    form = alice.get(NEW + "?kind=mysql")
    html = form.content.decode()
    assert form.status_code == 200 and 'type="password"' in html and "Downtime trade-off" in html
    assert "PostgreSQL" in html and "MySQL" in html  # a tab per kind
    assert_csp_clean(form)

    refused = alice.post(NEW, _form(target, password="not-the-root-password-91c"), **HX)
    assert refused.status_code == 422 and not Rotation.objects.exists()
    assert "not-the-root-password-91c" not in refused.content.decode()
    assert "field-error" in refused.content.decode() or "alert" in refused.content.decode()

    created = alice.post(NEW, _form(target), **HX)
    assert created.status_code == 204, created.content.decode()[:2000]
    rotation = Rotation.objects.get()
    assert created["HX-Redirect"] == _page(rotation) + "?saved=created"
    assert (rotation.mode, rotation.usernames, rotation.rotate_at_hour, rotation.rotate_at_minute) == (
        "alternate",
        target.users,
        3,
        30,
    )

    listed = alice.get(LIST).content.decode()
    assert "app-db" in listed and "dev:/" in listed and "never" in listed and "Rotate now" in listed
    _no_password(listed, target)

    with django_capture_on_commit_callbacks(execute=True):
        rotated = alice.post(_page(rotation, "rotate/"), **HX)
    assert rotated.status_code == 200 and "queued" in rotated.content.decode()
    rotation.refresh_from_db()
    assert rotation.last_rotated_at is not None and rotation.status == "success"
    values = owned_values(cast)
    assert db_login(target, target.users[0], values["DB_PASSWORD"])

    stamp = rotation.last_rotated_at.strftime("%Y-%m-%d %H:%M:%S")
    listed = alice.get(LIST).content.decode()
    assert stamp in listed and '<span class="badge ok">ok</span>' in listed
    detail = alice.get(_page(rotation))
    page = detail.content.decode()
    assert stamp in page and "Rotate now" in page and "Delete rotation" in page
    assert RotationAttempt.objects.filter(rotation=rotation, outcome="success").count() == 1
    assert '<span class="badge ok">rotated</span>' in page and "set, encrypted" in page
    assert_csp_clean(detail)
    _no_password(page, target, values["DB_PASSWORD"])
    _no_password(listed, target, values["DB_PASSWORD"])
    _no_password(alice.get(_page(rotation, "edit/")).content.decode(), target, values["DB_PASSWORD"])


def test_it_says_a_run_is_in_progress_pauses_resumes_edits_and_deletes(
    login: Any,
    cast: Any,
    allow_local: None,  # noqa: F811
    mysql_rotation_target: RotationTarget,  # noqa: F811
) -> None:
    from django.utils import timezone

    from rotation.services.engine import _claim
    from tests.rotation.conftest import define_rotation

    target = mysql_rotation_target
    rotation = define_rotation(cast, target, name="app-db", mode="single")
    alice = login(cast.alice)
    detail = alice.get(_page(rotation)).content.decode()
    assert "Consumers holding the old password fail" in detail  # single-user trade-off on its page

    _claim(rotation.pk, timezone.now())  # a run holds it
    held = alice.post(_page(rotation, "rotate/"), **HX)
    assert held.status_code == 409 and "already running" in held.content.decode()
    held_delete = alice.post(_page(rotation, "delete/"), **HX)
    assert held_delete.status_code == 409 and Rotation.objects.filter(pk=rotation.pk).exists()
    Rotation.objects.filter(pk=rotation.pk).update(locked_until=None)

    paused = alice.post(_page(rotation, "pause/"), **HX)
    assert paused.status_code == 200 and "Resume" in paused.content.decode()
    rotation.refresh_from_db()
    assert rotation.paused and rotation.next_run_at is None
    resumed = alice.post(_page(rotation, "resume/"), {"from": "detail"}, **HX)
    assert resumed.status_code == 200 and 'id="status-card"' in resumed.content.decode()
    rotation.refresh_from_db()
    assert not rotation.paused and rotation.next_run_at is not None

    edit = alice.get(_page(rotation, "edit/")).content.decode()
    assert "leave empty to keep" in edit and 'type="password"' in edit
    bad = alice.post(_page(rotation, "edit/"), {"schedule": "cron", "cron": "nope", "description": ""}, **HX)
    assert bad.status_code == 422
    saved = alice.post(
        _page(rotation, "edit/"),
        {"schedule": "cron", "cron": "0 4 * * 1", "description": "nightly", "password": ""},
        **HX,
    )
    assert saved.status_code == 204, saved.content.decode()[:2000]
    rotation.refresh_from_db()
    assert (rotation.cron, rotation.interval_days, rotation.description) == ("0 4 * * 1", None, "nightly")

    deleted = alice.post(_page(rotation, "delete/"), **HX)
    assert deleted.status_code == 204 and deleted["HX-Redirect"] == LIST + "?deleted=1"
    assert not Rotation.objects.exists()


def test_members_see_rotations_without_buttons_and_get_403_on_every_post(
    login: Any,
    cast: Any,
    allow_local: None,  # noqa: F811
    mysql_rotation_target: RotationTarget,  # noqa: F811
) -> None:
    from tests.rotation.conftest import define_rotation

    target = mysql_rotation_target
    rotation = define_rotation(cast, target, name="app-db")
    bob = login(cast.bob)
    listed = bob.get(LIST)
    html = listed.content.decode()
    assert listed.status_code == 200 and "app-db" in html
    assert "Rotate now" not in html and "New rotation" not in html and "Pause" not in html
    page = bob.get(_page(rotation)).content.decode()
    assert "Rotate now" not in page and "Delete rotation" not in page and ">Edit</a>" not in page
    _no_password(html + page, target)

    for suffix in ("rotate/", "pause/", "resume/", "delete/"):
        assert bob.post(_page(rotation, suffix)).status_code == 403, suffix
    assert bob.get(_page(rotation, "edit/")).status_code == 403
    assert bob.post(_page(rotation, "edit/"), {"schedule": "cron", "cron": "0 4 * * 1"}).status_code == 403
    assert bob.get(NEW).status_code == 403
    assert bob.post(NEW, _form(target, name="other")).status_code == 403
    assert Rotation.objects.count() == 1 and not Rotation.objects.get().paused

    charlie = login(cast.charlie)
    assert charlie.get(LIST).status_code == 404
    assert charlie.post(_page(rotation, "rotate/")).status_code == 404


def test_a_page_that_queued_a_run_refreshes_itself_until_the_result_is_there(
    login: Any,
    cast: Any,
    allow_local: None,  # noqa: F811
    mysql_rotation_target: RotationTarget,  # noqa: F811
) -> None:
    """No worker runs the queued task here (not eager): the card says it is queued and polls; once
    a run has finished, the polled card shows the attempt and stops polling. The list does the same."""
    import re

    from rotation.services.engine import rotation_run
    from tests.rotation.conftest import define_rotation

    rotation = define_rotation(cast, mysql_rotation_target, name="app-db")
    alice = login(cast.alice)
    assert "hx-trigger" not in alice.get(_page(rotation)).content.decode().split('id="status-card"')[1][:300]

    queued = alice.post(_page(rotation, "rotate/"), {"from": "detail"}, **HX).content.decode().strip()
    poll = re.search(r'id="status-card"[^>]* hx-get="([^"]+)" hx-trigger="every 2s"', queued)
    assert poll and "queued" in queued, queued[:1500]
    polled = alice.get(poll.group(1).replace("&amp;", "&"), **HX).content.decode().strip()
    assert polled.startswith('<section class="card" id="status-card"') and "Queued: waiting for a worker" in polled
    assert 'hx-trigger="every 2s"' in polled and "No attempts yet" in polled

    table = alice.post(_page(rotation, "rotate/"), **HX).content.decode()  # from the list: queued once more
    table_poll = re.search(r'id="rotation-table" hx-get="([^"]+)"', table)
    assert table_poll and "data-queued" in table

    assert rotation_run(rotation_id=rotation.pk, trigger="manual").outcome == "success"
    done = alice.get(poll.group(1).replace("&amp;", "&"), **HX).content.decode().strip()
    assert '<span class="badge ok">rotated</span>' in done and "hx-trigger" not in done.split(">")[0]
    assert "Queued" not in done
    listed = alice.get(table_poll.group(1).replace("&amp;", "&"), **HX).content.decode().strip()
    assert listed.startswith('<div id="rotation-table"') and "hx-get" not in listed.split(">")[0]
    assert "data-queued" not in listed and '<span class="badge ok">ok</span>' in listed


def test_an_on_call_role_gets_rotate_now_only_and_a_viewer_no_actions_column(
    login: Any,
    cast: Any,
    allow_local: None,  # noqa: F811
    mysql_rotation_target: RotationTarget,  # noqa: F811
) -> None:
    """``rotations.rotate`` alone (a custom on-call role): "Rotate now" on the list and the page,
    no Pause, Edit, Delete or New rotation, and 403 naming rotations.manage for each of them; the
    edit page (root settings) is refused. A viewer's list has no empty actions column."""
    from tests.rotation.conftest import define_rotation
    from tests.rotation.test_permissions import on_call

    target = mysql_rotation_target
    rotation = define_rotation(cast, target, name="app-db")
    on_call(cast, cast.bob)
    bob = login(cast.bob)
    listed = bob.get(LIST).content.decode()
    assert "Rotate now" in listed and "Pause" not in listed and "New rotation" not in listed
    assert '<span class="sr-only">Actions</span>' in listed
    page = bob.get(_page(rotation)).content.decode()
    assert "Rotate now" in page and "press Rotate now" in page
    assert "Pause" not in page and "Delete rotation" not in page and ">Edit</a>" not in page
    _no_password(listed + page, target)

    queued = bob.post(_page(rotation, "rotate/"), {"from": "detail"}, **HX)
    assert queued.status_code == 200 and "Rotation of app-db queued" in queued.content.decode()
    for suffix in ("pause/", "resume/", "delete/", "edit/"):
        refused = bob.post(_page(rotation, suffix))
        assert refused.status_code == 403 and "rotations.manage" in refused.content.decode(), suffix
    edit = bob.get(_page(rotation, "edit/"))
    assert edit.status_code == 403 and 'type="password"' not in edit.content.decode()
    assert bob.get(NEW).status_code == 403
    assert Rotation.objects.filter(pk=rotation.pk, paused=False).exists()

    viewer = login(cast.dave).get(LIST).content.decode()
    assert "app-db" in viewer and "Rotate now" not in viewer
    assert "Actions</span>" not in viewer and 'class="actions rot-actions"' not in viewer


def test_a_member_is_told_rotating_needs_rotations_rotate(
    login: Any,
    cast: Any,
    allow_local: None,  # noqa: F811
    mysql_rotation_target: RotationTarget,  # noqa: F811
) -> None:
    from tests.rotation.conftest import define_rotation

    rotation = define_rotation(cast, mysql_rotation_target, name="app-db")
    refused = login(cast.bob).post(_page(rotation, "rotate/"))
    html = refused.content.decode()
    assert refused.status_code == 403 and "rotations.rotate" in html and "dynamic secrets" not in html


def test_kinds_whose_target_issues_keys_say_two_keys_not_two_users(
    login: Any,
    cast: Any,
    allow_local: None,  # noqa: F811
    mysql_rotation_target: RotationTarget,  # noqa: F811
) -> None:
    from secrets_app.models import Environment, Folder
    from tests.rotation.conftest import define_rotation

    define_rotation(cast, mysql_rotation_target, name="app-db")
    env = Environment.objects.get(project=cast.project, slug="dev")
    aws = Rotation.objects.create(
        project=cast.project,
        environment=env,
        folder=Folder.objects.get(environment=env, parent__isnull=True),
        name="ci-key",
        kind="aws_iam_access_key",
        config={"region": "us-east-1"},
        credentials_ciphertext=b"",
        usernames=["ci-deployer"],
        secrets_mapping={"key_id": "AWS_ACCESS_KEY_ID", "secret": "AWS_SECRET_ACCESS_KEY"},
    )
    alice = login(cast.alice)
    rows = alice.get(LIST).content.decode().split("<tbody>")[1]
    aws_row, db_row = rows.split('id="rotation-')[2], rows.split('id="rotation-')[1]
    assert "ci-key" in aws_row and "<td>Two keys, alternate</td>" in aws_row
    assert "app-db" in db_row and "<td>Two users, alternate</td>" in db_row
    assert "<dd>Two keys, alternate</dd>" in alice.get(_page(aws)).content.decode()


def test_the_root_user_help_says_what_a_rotation_needs(login: Any, cast: Any) -> None:
    """Not the dynamic-secret provider's sentence (create roles, grant what leases get): the rights
    to change another user's password. The dynamic-secret form keeps its own."""
    alice = login(cast.alice)
    postgres = alice.get(NEW + "?kind=postgresql").content.decode()
    assert "CREATEROLE" in postgres and "PostgreSQL 16+" in postgres and "ADMIN OPTION" in postgres
    mysql = alice.get(NEW + "?kind=mysql").content.decode()
    assert "CREATE USER privilege" in mysql and "ALTER USER" in mysql
    for html in (postgres, mysql):
        assert "leases" not in html
    dynamic = alice.get("/projects/acme/dynamic-secrets/new/?provider=postgresql").content.decode()
    assert "grant what leases get" in dynamic and "ADMIN OPTION" not in dynamic


def test_the_list_speaks_of_every_kind_not_only_databases(login: Any, cast: Any) -> None:
    html = login(cast.alice).get(LIST).content.decode()
    assert "database passwords, cloud access keys, client secrets" in html
    assert "an AWS access key, an Entra client secret" in html and "No rotations yet" in html
