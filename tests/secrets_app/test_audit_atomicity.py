"""Audit rows are written in the same transaction as what they record (security bar D2): when the
audit insert fails, no value is returned and no change is kept."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import DatabaseError, transaction

from audit.models import AuditEvent
from audit.services import AuditWriteError
from secrets_app.models import Folder, FolderCommit, Secret, SecretVersion
from secrets_app.selectors.secrets import secret_get, secret_list
from secrets_app.services.folders import folder_create
from secrets_app.services.rollback import secret_rollback
from secrets_app.services.secrets import SecretInput, secret_bulk_upsert, secret_delete, secret_update
from tests.secrets_app.conftest import put, value_of
from tests.support.audit_refusal import allow_audit_inserts, refuse_audit_inserts

TRIGGER = "test_refuse_audit_insert"


@pytest.fixture
def audit_inserts_fail(cast) -> Iterator[None]:
    """A database trigger makes every insert into the audit table fail while the test body runs."""
    refuse_audit_inserts(TRIGGER)
    yield
    allow_audit_inserts(TRIGGER)


@pytest.fixture
def stored(cast):
    put(cast.scope(cast.alice), "DB_PASS", "original", comment="note")
    return cast


def state() -> tuple[int, int, int, int, int]:
    return (
        Secret.objects.count(),
        Secret.objects.filter(deleted_at__isnull=True).count(),
        SecretVersion.objects.count(),
        FolderCommit.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def unchanged(stored) -> Iterator[None]:
    """Asserts, after the test, that no secret, version, commit or audit row was added or changed."""
    before = state()
    yield
    assert state() == before


@pytest.mark.django_db
def test_it_proves_the_trigger_refuses_audit_inserts(stored, audit_inserts_fail) -> None:
    with pytest.raises(DatabaseError, match="audit insert refused"), transaction.atomic():
        AuditEvent.objects.create(occurred_at="2026-01-01T00:00:00Z", action="x", actor_type="system")


@pytest.mark.django_db
def test_it_rolls_an_update_back_when_its_audit_row_cannot_be_written(stored, unchanged, audit_inserts_fail) -> None:
    alice = stored.scope(stored.alice)

    with pytest.raises(DatabaseError):
        secret_update(
            scope=alice, environment="dev", path="/", key="DB_PASS", item=SecretInput(key="DB_PASS", value="new")
        )

    assert Secret.objects.get(key="DB_PASS").version == 1


@pytest.mark.django_db
def test_it_returns_no_value_when_the_read_cannot_be_audited(stored, unchanged, audit_inserts_fail) -> None:
    alice = stored.scope(stored.alice)
    returned = []

    with pytest.raises(DatabaseError):
        returned.append(secret_get(alice, environment="dev", path="/", key="DB_PASS"))
    with pytest.raises(DatabaseError):
        returned.append(secret_list(alice, environment="dev", path="/", include_values=True))
    with pytest.raises(DatabaseError):
        returned.append(secret_list(alice, environment="dev", path="/"))

    assert returned == []


@pytest.mark.django_db
def test_it_creates_nothing_when_the_creation_cannot_be_audited(stored, unchanged, audit_inserts_fail) -> None:
    with pytest.raises(DatabaseError):
        put(stored.scope(stored.alice), "NEW_KEY", "never stored")

    assert not Secret.objects.filter(key="NEW_KEY").exists()


@pytest.mark.django_db
def test_it_keeps_a_secret_when_its_deletion_cannot_be_audited(stored, unchanged, audit_inserts_fail) -> None:
    with pytest.raises(DatabaseError):
        secret_delete(scope=stored.scope(stored.alice), environment="dev", path="/", key="DB_PASS")


@pytest.mark.django_db
def test_it_writes_no_bulk_change_that_cannot_be_audited(stored, unchanged, audit_inserts_fail) -> None:
    items = [SecretInput(key="DB_PASS", value="changed"), SecretInput(key="ADDED", value="added")]

    with pytest.raises(DatabaseError):
        secret_bulk_upsert(scope=stored.scope(stored.alice), environment="dev", path="/", items=items)


@pytest.fixture
def two_versions(stored):
    alice = stored.scope(stored.alice)
    secret_update(scope=alice, environment="dev", path="/", key="DB_PASS", item=SecretInput(key="DB_PASS", value="v2"))
    return stored


@pytest.mark.django_db
def test_it_rolls_back_no_secret_when_the_rollback_cannot_be_audited(
    two_versions, unchanged, audit_inserts_fail
) -> None:
    with pytest.raises(DatabaseError):
        secret_rollback(
            scope=two_versions.scope(two_versions.alice), environment="dev", path="/", key="DB_PASS", version=1
        )

    assert Secret.objects.get(key="DB_PASS").version == 2


@pytest.mark.django_db
def test_it_creates_no_folder_that_cannot_be_audited(stored, audit_inserts_fail) -> None:
    # An audit failure is reported as such, never mistaken for "already exists" (409).
    with pytest.raises(AuditWriteError):
        folder_create(scope=stored.scope(stored.alice), environment="dev", path="/", name="app")

    assert not Folder.objects.filter(path="/app").exists()


@pytest.mark.django_db
def test_it_reports_an_audit_failure_not_a_conflict_on_every_create(stored, audit_inserts_fail) -> None:
    from secrets_app.services.folders import tag_create
    from secrets_app.services.members import role_create
    from secrets_app.services.projects import environment_create

    scope = stored.scope(stored.alice)
    for create in (
        lambda: tag_create(scope=scope, slug="pci"),
        lambda: role_create(scope=scope, slug="ops", name="Ops", rules=[]),
        lambda: environment_create(scope=scope, slug="qa"),
    ):
        with pytest.raises(AuditWriteError):
            create()


@pytest.mark.django_db
def test_it_still_refuses_when_the_refusal_cannot_be_audited(stored, audit_inserts_fail) -> None:
    returned = []

    with pytest.raises(DatabaseError):
        returned.append(secret_list(stored.scope(stored.dave), environment="dev", path="/", include_values=True))

    assert returned == []


@pytest.mark.django_db
def test_it_works_again_once_audit_inserts_succeed(stored) -> None:
    alice = stored.scope(stored.alice)
    secret_update(scope=alice, environment="dev", path="/", key="DB_PASS", item=SecretInput(key="DB_PASS", value="new"))

    assert value_of(alice, "DB_PASS") == "new"
    assert list(AuditEvent.objects.filter(resource_id="DB_PASS").values_list("action", flat=True).order_by("id")) == [
        "secret.created",
        "secret.updated",
        "secret.value_read",
    ]
