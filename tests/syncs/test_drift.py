"""Drift: edits made in Azure DevOps behind the sync's back are detected, then overwritten or
(where the value is readable) adopted."""

from __future__ import annotations

from typing import Any

import pytest

from tests.syncs.conftest import make_connection, make_sync, put_secret, run_now

pytestmark = pytest.mark.django_db


def _drift(sync: Any) -> dict[str, str]:
    from syncs.services.drift import sync_drift_check

    return {entry.name: entry.kind for entry in sync_drift_check(sync_id=sync.pk)}


def test_no_drift_right_after_a_run(cast: Any, ado: Any) -> None:
    put_secret(cast, "A", "1")
    sync = make_sync(cast, make_connection(cast, ado))
    run_now(sync)
    assert _drift(sync) == {}


def test_a_value_edited_in_azure_devops_is_detected_and_overwritten(cast: Any, ado: Any) -> None:
    from audit.models import AuditEvent
    from syncs.services.syncs import sync_trigger

    put_secret(cast, "A", "1")
    put_secret(cast, "B", "2")
    sync = make_sync(cast, make_connection(cast, ado))
    run_now(sync)
    ado.edit_variable("app-secrets", "A", "edited-in-ado", secret=True, by="human")
    ado.edit_variable("app-secrets", "NEW_ONE", "x", secret=True, by="human")

    drift = _drift(sync)

    # ADO hides secret values: the edit shows as "possibly changed" for every managed secret.
    assert drift == {"A": "possibly_changed", "B": "possibly_changed", "NEW_ONE": "unmanaged"}
    assert AuditEvent.objects.filter(action="sync.drift_detected").exists()

    sync_trigger(scope=cast.scope(cast.alice), sync=sync, force=True)
    run_now(sync)

    assert ado.values("app-secrets") == {"A": "1", "B": "2", "NEW_ONE": "x"}
    assert _drift(sync) == {"NEW_ONE": "unmanaged"}


def test_a_deleted_variable_is_missing_and_the_next_run_restores_it(cast: Any, ado: Any) -> None:
    put_secret(cast, "A", "1")
    sync = make_sync(cast, make_connection(cast, ado))
    run_now(sync)
    ado.edit_variable("app-secrets", "A", None)
    ado.edit_variable("app-secrets", "KEEP", "k", secret=False)

    assert _drift(sync)["A"] == "missing"
    run_now(sync)
    assert ado.values("app-secrets") == {"A": "1", "KEEP": "k"}


def test_a_variable_made_plain_is_changed_and_can_be_adopted(cast: Any, ado: Any) -> None:
    from secrets_app.selectors.secrets import secret_get
    from syncs.services.drift import sync_drift_adopt

    put_secret(cast, "A", "1")
    sync = make_sync(cast, make_connection(cast, ado))
    run_now(sync)
    ado.edit_variable("app-secrets", "A", "visible-now", secret=False)

    assert _drift(sync) == {"A": "changed"}
    sync_drift_adopt(scope=cast.scope(cast.alice), sync=sync, name="A")

    assert secret_get(cast.scope(cast.alice), environment="dev", path="/", key="A").value == "visible-now"
    run_now(sync)  # rewrites it as a secret, with the adopted value
    group = ado.group_by_name("app-secrets")
    assert group.variables["A"].is_secret and group.variables["A"].value == "visible-now"


def test_a_secret_variable_cannot_be_adopted(cast: Any, ado: Any) -> None:
    from secrets_app.errors import Conflict
    from syncs.services.drift import sync_drift_adopt

    put_secret(cast, "A", "1")
    sync = make_sync(cast, make_connection(cast, ado))
    run_now(sync)
    ado.edit_variable("app-secrets", "A", "edited", secret=True)

    with pytest.raises(Conflict, match="overwrite"):
        sync_drift_adopt(scope=cast.scope(cast.alice), sync=sync, name="A")
