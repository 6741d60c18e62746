"""A scan over time: a re-scan after changes (diff, resolved findings), resuming after a worker
died (the done projects are not read again), cancelling, and duplicate messages."""

from __future__ import annotations

import datetime
import threading
import time
from typing import Any

import pytest
from django.utils import timezone

from tests.estate.conftest import seed_small_estate


def _open(cast: Any) -> set[tuple[str, str, str]]:
    from estate.selectors.inventory import finding_list

    return {(f.kind, f.resource.name if f.resource else "", f.subject) for f in finding_list(cast.organization)}


@pytest.mark.django_db
def test_a_rescan_reports_what_changed_and_resolves_findings(
    cast: Any, estate_ado: Any, estate_connection: Any, run_scan: Any
) -> None:
    from estate.models import EstateFinding, EstateResource
    from estate.selectors.inventory import resource_list

    world = seed_small_estate(estate_ado)
    first = run_scan(cast, estate_connection)
    before = _open(cast)
    app_row = resource_list(cast.organization, q="app-settings").get()
    assert ("plain_secret_variable", "legacy", "ADMIN_PASSWORD") in before

    estate_ado.delete_group(world.legacy_group)  # its plain password and one REGION go away
    estate_ado.edit_variable("app-settings", "FEATURE_FLAGS", "on", secret=False)
    estate_ado.seed_group("new-group", {"WEBHOOK_SECRET": ("plain-but-named-secret", False)}, project="proj2")
    second = run_scan(cast, estate_connection)

    assert second.status == "succeeded", second.error
    assert second.diff == {"added": 1, "changed": 1, "removed": 1}
    legacy = EstateResource.objects.get(name="legacy")
    assert legacy.removed_at is not None and legacy.last_seen_scan_id == first.pk
    assert "legacy" not in {r.name for r in resource_list(cast.organization)}
    assert "legacy" in {r.name for r in resource_list(cast.organization, include_removed=True)}
    app_row_after = resource_list(cast.organization, q="app-settings").get()
    assert app_row_after.pk == app_row.pk and app_row_after.first_seen_scan_id == first.pk
    assert app_row_after.changed_at > app_row.changed_at and app_row_after.fingerprint != app_row.fingerprint
    assert app_row_after.variable_count == 4

    after = _open(cast)
    assert before - after == {
        ("plain_secret_variable", "legacy", "ADMIN_PASSWORD"),
        ("duplicated_name", "", "REGION"),  # two groups now
    }
    assert after - before == {("plain_secret_variable", "new-group", "WEBHOOK_SECRET")}
    resolved = EstateFinding.objects.get(kind="duplicated_name")
    assert resolved.resolved_at is not None
    assert estate_ado.writes() == []


@pytest.mark.django_db
def test_a_scan_whose_worker_died_resumes_after_its_done_projects(
    cast: Any,
    estate_ado: Any,
    estate_connection: Any,
    run_scan: Any,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    from config.celery import app
    from estate.models import EstateResource, EstateScan
    from estate.services.scans import scan_request
    from estate.tasks import estate_scans_reconcile
    from secrets_app.principals import Principal

    world = seed_small_estate(estate_ado)
    proj1 = estate_ado._project_id("proj1")
    first = run_scan(cast, estate_connection)
    # The second scan's first attempt finished proj1 (its rows carry the scan), then the worker died.
    scan = scan_request(
        principal=Principal.for_user(cast.alice), organization=cast.organization, connection_ref="ado-estate"
    )
    stale = timezone.now() - datetime.timedelta(seconds=settings.STRONGROOM_ESTATE_STALE_SECONDS + 5)
    EstateScan.objects.filter(pk=scan.pk).update(
        status="running",
        attempts=1,
        started_at=stale,
        heartbeat_at=stale,
        done_projects=[proj1],
        diff={"added": 0, "changed": 0, "removed": 0},
        progress={"phase": "resources", "projects_done": 1},
    )
    EstateResource.objects.filter(ado_project_id=proj1).update(last_seen_scan=scan)
    estate_ado.seed_group("late-group", {"X": ("y", False)})  # in proj1, after proj1 was read: not seen
    estate_ado.requests.clear()

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            outcome = estate_scans_reconcile.delay().get()
    finally:
        app.conf.task_always_eager = previous

    assert outcome == {"requeued": 1, "failed": 0, "resent": 0}
    scan.refresh_from_db()
    assert scan.status == "succeeded" and scan.attempts == 2, scan.error
    read_paths = [r.path for r in estate_ado.reads()]
    assert any(world.proj2 in path for path in read_paths)
    assert not [path for path in read_paths if proj1 in path]  # proj1 was not read again
    assert "late-group" not in {r.name for r in EstateResource.objects.all()}
    # proj1's rows count as seen: nothing was removed.
    assert scan.diff == {"added": 0, "changed": 0, "removed": 0}
    assert EstateResource.objects.filter(removed_at__isnull=False).count() == 0
    assert scan.counts == {**first.counts}
    from audit.models import AuditEvent

    actions = list(AuditEvent.objects.filter(resource_id=str(scan.public_id)).values_list("action", flat=True))
    assert actions.count("estate.scan_interrupted") == 1 and actions.count("estate.scan_completed") == 1


@pytest.mark.django_db
def test_a_duplicate_message_does_nothing(cast: Any, estate_ado: Any, estate_connection: Any, run_scan: Any) -> None:
    from estate.services.scan_run import scan_run_execute

    seed_small_estate(estate_ado)
    scan = run_scan(cast, estate_connection)
    count = len(estate_ado.requests)
    assert scan_run_execute(scan_id=scan.pk) == "skipped"
    assert len(estate_ado.requests) == count


@pytest.mark.django_db(transaction=True)
def test_a_cancelled_scan_stops_between_two_requests(estate_ado: Any) -> None:
    from django.db import connection as db

    from audit.models import AuditEvent
    from estate.models import EstateResource, EstateScan
    from estate.services.scan_run import scan_run_execute
    from estate.services.scans import scan_cancel, scan_request
    from secrets_app.principals import Principal
    from tests.conftest import build_cast
    from tests.estate.conftest import make_estate_connection

    cast = build_cast()
    make_estate_connection(cast, estate_ado)
    estate_ado.generate_estate(8, 3, definitions_per_project=1, endpoints_per_project=1, secure_files_per_project=0)
    estate_ado.read_delay = 0.02
    scan = scan_request(
        principal=Principal.for_user(cast.alice), organization=cast.organization, connection_ref="ado-estate"
    )

    def worker() -> None:
        try:
            scan_run_execute(scan_id=scan.pk)
        finally:
            db.close()

    thread = threading.Thread(target=worker)
    thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(EstateScan.objects.get(pk=scan.pk).done_projects) < 1:
        time.sleep(0.02)
    scan_cancel(principal=Principal.for_user(cast.alice), organization=cast.organization, scan=scan)
    thread.join(timeout=20)
    assert not thread.is_alive()
    count = len(estate_ado.requests)
    time.sleep(0.2)
    assert len(estate_ado.requests) == count  # nothing more is read

    scan.refresh_from_db()
    assert scan.status == "cancelled" and 1 <= len(scan.done_projects) < 9
    assert not scan.counts and EstateResource.objects.filter(removed_at__isnull=False).count() == 0
    actions = set(AuditEvent.objects.filter(resource_id=str(scan.public_id)).values_list("action", flat=True))
    assert actions == {"estate.scan_requested", "estate.scan_cancelled"}


@pytest.mark.django_db
def test_a_project_deleted_during_the_scan_is_skipped_and_its_resources_removed(
    cast: Any, estate_ado: Any, estate_connection: Any, run_scan: Any
) -> None:
    from estate.models import EstateResource

    world = seed_small_estate(estate_ado)
    run_scan(cast, estate_connection)
    # Listed, then gone before its groups are read (ADO answers 404 for a deleted project).
    estate_ado.fail_next(404, path_contains=f"{world.proj2}/_apis/distributedtask/variablegroups")
    scan = run_scan(cast, estate_connection)
    assert scan.status == "succeeded", scan.error
    gone = EstateResource.objects.filter(ado_project_id=world.proj2)
    assert gone.count() == 3 and all(row.removed_at is not None for row in gone)  # project, group, connection
    assert scan.diff == {"added": 0, "changed": 0, "removed": 3} and scan.counts["projects"] == 1
