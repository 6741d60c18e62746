"""The switch is an ordinary secret write: a rotated password reaches the project's Azure DevOps
variable group *and* its Azure Key Vault through their syncs, with nobody touching the syncs.

One real Celery worker process does all the work, as in production: it runs the rotation (a
message on its queue, the one "rotate now" sends), and the sync runs the rotation's commit queues,
through the real ``azure-devops`` client against the ADO emulator and the real
``azure-keyvault-secrets`` + ``azure-identity`` clients against the Key Vault emulator over HTTPS.

PYTEST_DONT_REWRITE: these assertions handle real passwords, so a failure reports the line, never the
values pytest's rewriting would print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.rotation.conftest import RotationTarget, define_rotation, digest, login, owned_values
from tests.support.celery_worker import require_postgres, send_task, wait_until
from tests.syncs.conftest import _sync_settings, ado, make_connection, make_sync  # noqa: F401
from tests.syncs.kv_support import kv_fixture, make_kv_connection, make_kv_sync  # noqa: F401  (the kv fixture)
from tests.syncs.workers import sync_workers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _in_vault(values: dict[str, str]) -> dict[str, str]:
    """The owned secrets as the Key Vault sync names them (``_`` is not allowed there: ``-``)."""
    return {key.replace("_", "-"): value for key, value in values.items()}


def _rotate_through(queue: str, cast: Any, rotation: Any, group: Any, vault: Any) -> dict[str, str]:
    """Queue one run on the worker (the message "rotate now" sends), wait for it, then for both
    destinations to hold exactly the owned secrets' new values; returns those values."""
    before = rotation.last_rotated_at
    send_task("rotation.tasks.rotation_run", [rotation.pk, "manual"], queue)
    wait_until(lambda: (rotation.refresh_from_db(), rotation.last_rotated_at != before)[1], timeout=30)
    values = owned_values(cast)
    wait_until(lambda: digest(group.values("app-secrets")) == digest(values), timeout=30)
    wait_until(lambda: digest(vault.values()) == digest(_in_vault(values)), timeout=30)
    return values


def test_a_rotated_password_reaches_the_variable_group_and_the_key_vault_through_their_syncs(
    cast: Any,
    allow_local: None,
    mysql_rotation_target: RotationTarget,
    ado: Any,  # noqa: F811
    kv: Any,
    tmp_path: Path,
    settings: Any,
) -> None:
    from syncs.models import SecretSync

    require_postgres("a real worker needs the PostgreSQL test database")
    target = mysql_rotation_target
    rotation = define_rotation(cast, target)
    seen: list[dict[str, str]] = []
    with sync_workers(tmp_path, settings, {"REQUESTS_CA_BUNDLE": kv.ca_file}) as workers:
        workers.start()
        syncs = [make_sync(cast, make_connection(cast, ado)), make_kv_sync(cast, make_kv_connection(cast, kv), kv)]
        wait_until(lambda: all(s.last_success_at for s in SecretSync.objects.filter(pk__in=[s.pk for s in syncs])))
        assert not ado.values("app-secrets") and not kv.values()  # their first runs: nothing to push yet

        for _ in range(2):
            seen.append(_rotate_through(workers.queue, cast, rotation, ado, kv))
        logs = workers.log_text()

    first, second = seen
    assert "rotation.tasks.rotation_run" in logs and "syncs.tasks" in logs  # the worker did both
    assert first["DB_USERNAME"] == target.users[0] and second["DB_USERNAME"] == target.users[1]
    assert first["DB_PASSWORD"] != second["DB_PASSWORD"]
    assert login(target, second["DB_USERNAME"], second["DB_PASSWORD"])
    # The old values are gone from both places, not kept alongside (user a's password stays valid for
    # one interval on the database, by design, but no consumer reads it from the syncs any more).
    vault, group = kv.values(include_disabled=True), ado.values("app-secrets") or {}
    assert first["DB_PASSWORD"] not in vault.values() and first["DB_PASSWORD"] not in group.values()
    assert (vault["DB-USERNAME"], group["DB_USERNAME"]) == (second["DB_USERNAME"], second["DB_USERNAME"])
    assert rotation.status == "success" and rotation.active_index == 1
