"""Canary sweep for leases: the leased passwords and the root password of a PostgreSQL dynamic
secret appear nowhere Strongroom writes — not in a ``pg_dump`` of its database, the web process's
log, the worker's log, the Celery broker (every key of the test's Redis database), or the audit
rows — in any of the encodings ``tests/secrets_app/test_canary.py`` looks for, over a lease's
whole life: issued through the API, bound to an Azure DevOps run, ended by the run hook, and
revoked at expiry by a real worker."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from audit.models import AuditEvent
from tests.dynamic import support
from tests.dynamic.conftest import DbTarget, define, pg_role_exists
from tests.dynamic.test_ado_runs import (  # noqa: F401  (ado, connection, hook: fixtures)
    ado,
    connection,
    hook,
    lease_for_run,
    post_hook,
    run_state_event,
)
from tests.support.canary import canaries_found, pg_dump, process_log, redis_dump, rows
from tests.support.celery_worker import require_postgres, wait_until

BROKER_URL = "redis://127.0.0.1:6379/6"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_no_leased_or_root_password_in_pg_dump_logs_broker_or_audit(
    cast: Any,
    allow_local: None,
    pg_target: DbTarget,
    ado: Any,  # noqa: F811
    hook: Any,  # noqa: F811
    api: Any,
    tmp_path: Path,
    settings: Any,
    monkeypatch: Any,
) -> None:
    require_postgres("the sweep greps pg_dump and a real worker's log")
    settings.STRONGROOM_DYNAMIC_MIN_TTL_SECONDS = 1
    settings.STRONGROOM_DYNAMIC_RETRY_BASE_SECONDS = 0
    monkeypatch.setattr(support, "BROKER_URL", BROKER_URL)
    web_log = tmp_path / "web.log"
    broker_seen: list[bytes] = []
    with process_log(web_log):
        secret = define(cast, pg_target, name="canary", default_ttl=3, max_ttl=60)
        with support.dynamic_workers(tmp_path, settings) as workers:
            workers.start()
            run_a, run_b = ado.add_build(), ado.add_build()
            bound = lease_for_run(api, cast, secret, ado, run_a)
            expiring = lease_for_run(api, cast, secret, ado, run_b)
            assert bound.status_code == 201 and expiring.status_code == 201, bound.content
            issued = [bound.json()["data"], expiring.json()["data"]]
            broker_seen.append(redis_dump(BROKER_URL))  # the revocation messages, held with their ETA

            assert post_hook(api(), hook, run_state_event(run_a)).json()["revoked"] == 1
            wait_until(lambda: not pg_role_exists(issued[1]["DB_USERNAME"]), timeout=20)  # the worker, at expiry
            broker_seen.append(redis_dump(BROKER_URL))
        worker_logs = workers.log_text()

    assert "lease_revoke" in worker_logs  # the worker really handled the revocation
    assert not pg_role_exists(issued[0]["DB_USERNAME"])
    canaries = {
        "root password": pg_target.password,
        **{f"leased password {i}": data["DB_PASSWORD"] for i, data in enumerate(issued)},
    }
    dump = pg_dump()
    audit_rows = rows(AuditEvent.objects.values())
    places = {
        "pg_dump": dump,
        "web log": web_log.read_bytes(),
        "worker log": worker_logs.encode(),
        "broker": b"\n".join(broker_seen),
        "audit rows": audit_rows,
    }
    assert issued[0]["DB_USERNAME"].encode() in dump and b"lease.run_ended" in audit_rows  # the sweep is real
    assert web_log.stat().st_size > 0 and b"dynamic.tasks.lease_revoke" in places["broker"]
    assert canaries_found(canaries, places) == []
