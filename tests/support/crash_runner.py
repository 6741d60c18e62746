"""Kill a rotation run with SIGKILL at a named step, in a process of its own.

``run_killed_at`` runs ``rotation_run`` — the one call the Celery task ``rotation.tasks.rotation_run``
makes — in a separate OS process set up exactly as a worker is (the real settings, this test's
PostgreSQL database, the broker and root key of ``worker_env``), which kills itself at *step*
through the engine's crash seam (``STRONGROOM_ROTATION_TEST_CRASH_AT``).

It proves what a killed Celery worker proves: the crash seam and everything before it run in
another process that dies with SIGKILL (no ``finally``, no ``except``, no rollback of ours:
PostgreSQL drops the dead connection's open transaction, as for a lost machine); whatever it
committed, and whatever the target accepted, stays; the next run starts in another process (the
test's). The task wrapper adds nothing the crash tests look at: the recovering run is called
directly in both set-ups, and message redelivery (``acks_late``) is Celery's, not ours.

Cost: the processes are forked from a *zygote*, one per test process, started on first use: it
sets Django up and imports what a run needs once (about 1.5 s, every time, for a fresh
interpreter or worker) and never touches the database, so each forked run opens connections of
its own. The zygote is single-threaded (forking is safe) and ends when the test process does
(its stdin closes).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from tests.support.celery_worker import ROOT, worker_env

ZYGOTE = r"""
import json, os, sys, traceback

import django

django.setup()
from django.conf import settings

from rotation.services import engine, issued  # noqa: F401 - what every run imports
import boto3, psycopg, pymysql, requests  # noqa: F401 - the kinds' clients, imported lazily otherwise

print("ready", flush=True)
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.environ.clear()
            os.environ.update(request["env"])  # e.g. the CA bundle of the test's emulator
            log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(log, 1)
            os.dup2(log, 2)
            settings.STRONGROOM_ROTATION_TEST_CRASH_AT = request["step"]
            engine.rotation_run(rotation_id=request["rotation_id"], trigger=request["trigger"])
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    print(json.dumps({"pid": pid}), flush=True)
    _, status = os.waitpid(pid, 0)
    answer = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    print(json.dumps({"status": answer}), flush=True)
"""

_zygote: dict[str, Any] = {}


def _start() -> subprocess.Popen[str]:
    database = settings.DATABASES["default"]["NAME"]
    running = _zygote.get(database)
    if running is not None and running.poll() is None:
        return running
    process = subprocess.Popen(
        [sys.executable, "-c", ZYGOTE],
        cwd=ROOT,
        env=worker_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError("the crash runner's zygote did not start")
    _zygote[database] = process
    atexit.register(process.kill)
    return process


def run_killed_at(step: str, rotation_id: int, log_path: Path, *, trigger: str = "manual", timeout: float = 40) -> int:
    """Run the rotation in a fresh process that kills itself at *step*; returns its exit status
    (``-9`` when it died at the step). Its output goes to *log_path*, for secret checks."""
    if connection.vendor != "postgresql":
        raise RuntimeError("a separate process needs the PostgreSQL test database")
    zygote = _start()
    assert zygote.stdin is not None and zygote.stdout is not None
    request = {
        "rotation_id": rotation_id,
        "trigger": trigger,
        "step": step,
        "log": str(log_path),
        "env": worker_env({"STRONGROOM_ROTATION_TEST_CRASH_AT": step}),
    }
    zygote.stdin.write(json.dumps(request) + "\n")
    zygote.stdin.flush()
    pid = int(json.loads(_answer(zygote, 10))["pid"])
    try:
        return int(json.loads(_answer(zygote, timeout))["status"])
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)  # a run that hangs: ours, ended, and the test fails
        _answer(zygote, 10)
        raise


def _answer(zygote: subprocess.Popen[str], timeout: float) -> str:
    assert zygote.stdout is not None
    # One line per answer and nothing read ahead, so the pipe itself tells whether one is there.
    ready, _, _ = select.select([zygote.stdout], [], [], timeout)
    if not ready:
        raise TimeoutError(f"the crashed run did not end within {timeout} s")
    line = zygote.stdout.readline()
    if not line:
        raise RuntimeError("the crash runner's zygote died")
    return line
