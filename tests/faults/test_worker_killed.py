"""F1: a Celery worker SIGKILLed mid-job (a 500-key sync, a data-key re-encryption) on private
PostgreSQL and Redis. A new worker picks the job up (acks_late + reject_on_worker_lost: the broker
redelivers after its visibility timeout, 5 s here, 600 s by default) and finishes it exactly once.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.faults.conftest import add_sync, seed, source_values
from tests.faults.services import wait_until

pytestmark = pytest.mark.slow


def _sync_status(stack: Any, sync_id: int) -> str:
    return str(stack.sql("SELECT status FROM syncs_secretsync WHERE id = %s", sync_id)[0][0])


def test_F1_worker_killed_mid_sync_of_500_keys_resumes_on_a_new_worker_and_converges(make_stack: Any, ado: Any) -> None:
    stack = make_stack(STRONGROOM_SYNC_ADO_BATCH="25")
    values = {f"KEY_{i:03d}": f"value-{i}-\u00e9\r\n \U0001f511" for i in range(500)}
    seed(stack, values)
    ado.seed_group("app-secrets", {"FOREIGN": ("keep-me", True)})
    ado.delay = 0.15  # each variable-group write takes a while, so the kill lands mid-run
    stack.start_worker("worker-1")
    sync = add_sync(stack, ado)

    wait_until(lambda: len(ado.writes()) >= 6, timeout=60, what="the first batches written")
    stack.kill("worker-1")
    written_before = len(ado.writes())
    assert written_before < 20  # 500 keys at 25 per write: the run was cut short
    assert _sync_status(stack, sync["sync_id"]) == "running"

    killed_at = time.monotonic()
    stack.start_worker("worker-2")
    expected = {**values, "FOREIGN": "keep-me"}
    wait_until(lambda: ado.values("app-secrets") == expected, timeout=60, what="destination equals the source")
    wait_until(lambda: _sync_status(stack, sync["sync_id"]) == "succeeded", timeout=30, what="sync succeeded")
    recovered_in = time.monotonic() - killed_at
    assert recovered_in < 60  # visibility timeout (5 s) + sweep (1 s) + the rest of the run

    # Byte-equal values, the foreign key untouched, and at most the batch in flight at the kill
    # written again (a PUT replaces the whole group: 20 PUTs of 25 keys make 500).
    assert ado.values("app-secrets") == expected
    puts = [request for request in ado.writes() if request.method == "PUT" and request.status == 200]
    assert len(puts) <= 20 + 2, f"{len(puts)} group writes for 20 batches"
    (managed,) = stack.sql("SELECT count(*) FROM syncs_syncmanagedkey WHERE sync_id = %s", sync["sync_id"])[0]
    assert managed == 500
    actions = [
        row[0]
        for row in stack.sql(
            "SELECT action FROM audit_auditevent WHERE resource_id = %s ORDER BY id", sync["public_id"]
        )
    ]
    assert "sync.run_interrupted" in actions and actions[-1] == "sync.run_succeeded"
    assert "value-1" not in stack.log_text()  # values never reach the logs, even when a worker dies
    print(f"F1 sync: {written_before} writes before the kill; converged {recovered_in:.1f} s after it")


def test_F1_worker_killed_mid_data_key_reencryption_finishes_once_on_a_new_worker(make_stack: Any) -> None:
    # Batches of 100: eight transactions, so the kill after the first lands mid-job even when a
    # loaded machine lets the worker commit a few more before it (500 + 300 did not, once).
    stack = make_stack(STRONGROOM_DATA_KEY_REENCRYPT_BATCH="100")
    values = {f"K_{i:04d}": f"secret-{i}-\u00e9" for i in range(800)}
    info = seed(stack, values)  # 800 versions to move
    project_id = info["project_id"]
    (versions_before,) = stack.sql("SELECT count(*) FROM secrets_app_secretversion")[0]
    assert versions_before == 800

    def on_newest_key() -> int:
        # The key id is bytes 2..5 of every ciphertext (format byte, then the big-endian id).
        return int(
            stack.sql(
                "SELECT count(*) FROM secrets_app_secretversion v JOIN secrets_app_secret s ON s.id = v.secret_id "
                "WHERE s.project_id = %s AND substring(v.value_ciphertext from 2 for 4) = int4send("
                "(SELECT max(id) FROM secrets_app_datakey WHERE project_id = %s)::int4)",
                project_id,
                project_id,
            )[0][0]
        )

    stack.start_worker("worker-1")
    stack.manage("rotate_data_keys", "--project", "acme")  # the operator's command: queued for the worker
    wait_until(lambda: on_newest_key() > 0, timeout=60, interval=0.02, what="the first batch re-encrypted")
    stack.kill("worker-1")
    moved_before_kill = on_newest_key()
    assert 0 < moved_before_kill < 800, "the kill landed mid-job"

    stack.start_worker("worker-2")
    wait_until(lambda: on_newest_key() == 800, timeout=60, what="every version on the new data key")

    # Nothing lost, nothing applied twice: the same versions, each decrypting to its own value.
    (versions_after,) = stack.sql("SELECT count(*) FROM secrets_app_secretversion")[0]
    assert versions_after == versions_before
    assert source_values(stack) == values
    (rotations,) = stack.sql("SELECT count(*) FROM audit_auditevent WHERE action = 'data_key.rotated'")[0]
    assert rotations == 1
    # The audit chain seals and verifies across the kill.
    verify = json.loads(stack.manage("audit_verify", "--seal-first", "--json").stdout.strip().splitlines()[-1])
    assert verify["ok"] is True and verify["pending_rows"] == 0
    print(f"F1 re-encryption: {moved_before_kill}/800 moved before the kill")
