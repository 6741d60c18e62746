"""/metrics under gunicorn as production runs it (docker-compose.yml's web command, 2 workers):
a scrape sums every worker's counts, whichever worker answers it, also after a worker was replaced;
with STRONGROOM_LOG_FORMAT=json every line the server writes is a JSON object."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.observability.test_metrics import TOKEN, sample
from tests.security.test_serving import Server, _database_url, _free_port, _stop, compose_web_argv, start_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(django_db_setup: None, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[Server]:
    from django.conf import settings

    port = _free_port()
    argv = compose_web_argv(port)
    with django_db_blocker.unblock():
        database_url = _database_url()
    folder = tmp_path_factory.mktemp("metrics-server")
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("STRONGROOM_", "DJANGO_", "DATABASE_URL", "PROMETHEUS_"))
        },
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        "STRONGROOM_DATA_DIR": str(folder / "data"),
        "STRONGROOM_SECRET_KEY": settings.SECRET_KEY,
        "STRONGROOM_ROOT_KEY": settings.STRONGROOM_ROOT_KEY,
        "STRONGROOM_METRICS_TOKEN": TOKEN,
        "STRONGROOM_LOG_FORMAT": "json",
        "WEB_CONCURRENCY": "2",
    }
    running = start_server(argv, env, folder, port)
    yield running
    _stop(running.process)


def _scrape(port: int) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def _worker_pids(metrics_dir: Path) -> set[int]:
    return {int(path.stem.split("_")[-1]) for path in metrics_dir.glob("histogram_*.db")}


def test_every_scrape_sums_all_workers_even_after_one_was_replaced(server: Server) -> None:
    metrics_dir = server.log.parent / "data" / "metrics"
    # A family nothing else here calls (the fixture's start-up probes hit /healthz): unmatched routes.
    for _ in range(40):  # a new connection each: gunicorn's workers take them in turn from one socket
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/no-such-page", timeout=5)
        assert refused.value.code == 404
    pids = _worker_pids(metrics_dir)
    assert pids, "no worker wrote its metrics to the data directory's metrics/"

    victim = min(pids)
    os.kill(victim, signal.SIGTERM)  # gunicorn replaces it; its counts must stay in the totals
    deadline = time.monotonic() + 30
    while "Booting worker with pid" not in server.output().split(f'"Worker exiting (pid: {victim})"')[-1]:
        assert time.monotonic() < deadline, server.output()[-3000:]
        time.sleep(0.2)

    for _ in range(6):  # whichever worker answers, the total is the same
        body = _scrape(server.port)
        assert sample(body, "strongroom_http_request_duration_seconds_count", family="unmatched", method="GET") == 40
        assert sample(body, "strongroom_http_responses_total", family="unmatched", status="4xx") == 40


def test_its_log_lines_are_json_objects(server: Server) -> None:
    urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5).close()
    lines = [line for line in server.output().splitlines() if line.strip()]
    assert lines
    records = [json.loads(line) for line in lines]
    loggers = {record["logger"] for record in records}
    assert {"gunicorn.error", "gunicorn.access"} <= loggers
