"""Kill a rotation run with SIGKILL at a named step, in a process of its own.

``run_killed_at`` starts ``python -c`` that sets Django up exactly as a worker does (the real
settings, this test's PostgreSQL database, the broker and root key of ``worker_env``), calls
``rotation_run`` — the one call the Celery task ``rotation.tasks.rotation_run`` makes — and kills
itself at *step* through the engine's crash seam (``STRONGROOM_ROTATION_TEST_CRASH_AT``).

It proves what a killed Celery worker proves, for about a second less per crash point and without
a queue: the crash seam and everything before it run in a separate OS process that dies with
SIGKILL (no ``finally``, no ``except``, no rollback of ours: PostgreSQL drops the dead
connection's open transaction, as for a lost machine); whatever it committed, and whatever the
target accepted, stays; the next run starts in another process (the test's). The task wrapper
adds nothing the crash tests look at: the recovering run is called directly in both set-ups, and
message redelivery (``acks_late``) is Celery's, not ours.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from django.db import connection

from tests.support.celery_worker import ROOT, worker_env

RUNNER = """
import sys
import django

django.setup()
from rotation.services.engine import rotation_run

rotation_run(rotation_id=int(sys.argv[1]), trigger=sys.argv[2])
"""


def run_killed_at(step: str, rotation_id: int, log_path: Path, *, trigger: str = "manual", timeout: float = 40) -> int:
    """Run the rotation in a fresh process that kills itself at *step*; returns its exit status
    (``-9`` when it died at the step). Its output goes to *log_path*, for secret checks."""
    if connection.vendor != "postgresql":
        raise RuntimeError("a separate process needs the PostgreSQL test database")
    env = worker_env({"STRONGROOM_ROTATION_TEST_CRASH_AT": step})
    with open(log_path, "w") as log:
        process = subprocess.run(
            [sys.executable, "-c", RUNNER, str(rotation_id), trigger],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    return process.returncode
