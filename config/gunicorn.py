"""gunicorn settings for every way Strongroom serves HTTP: docker-compose.yml's web service, the
Dockerfile's CMD and `make run` (scripts/launch.py) all pass ``--config config/gunicorn.py``.

Why gevent (docs/operations.md, "Serving HTTP"): with the default sync worker a client that sends
its body one byte every few seconds holds a whole worker process, so three such sockets stopped
/healthz and got the workers SIGKILLed. A gevent worker serves each connection in a greenlet;
a slow client costs a few kilobytes of memory, not a worker. Two deadlines bound what a slow
client can hold even so:

* the request line and headers must arrive within ``keepalive`` seconds (gunicorn's gevent worker
  reads them under a ``gevent.Timeout`` of that length, then drops the connection), and
* the body must arrive within ``STRONGROOM_REQUEST_BODY_TIMEOUT`` seconds, or the client gets 408
  (config/request_body.py reads it before Django runs, so a trickling body never holds a
  database connection).

``STRONGROOM_WORKER_CLASS`` (``gevent``, ``sync`` or ``gthread``; default ``gevent``) overrides the
worker class so the worker model can be chosen with evidence (``make bench`` runs with
``BENCH_WORKER_CLASS``). Only gevent has the slow-client protection described above: a slow client
holds a whole sync worker, or a gthread thread, for as long as it trickles.

This file is loaded by path, never imported as ``config.gunicorn``: importing the ``config``
package would load Celery in the gunicorn master before gevent patches the workers.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from None


WORKER_CLASSES = ("gevent", "sync", "gthread")


def _worker_class() -> str:
    raw = os.environ.get("STRONGROOM_WORKER_CLASS", "").strip() or "gevent"
    if raw not in WORKER_CLASSES:
        raise SystemExit(f"STRONGROOM_WORKER_CLASS must be one of {', '.join(WORKER_CLASSES)}, got {raw!r}")
    return raw


wsgi_app = "config.wsgi:application"
worker_class = _worker_class()
workers = _int("WEB_CONCURRENCY", 2)
# Connections one worker serves at once (slow ones included); past it, new ones wait in the backlog.
worker_connections = _int("STRONGROOM_WEB_CONNECTIONS", 1000)
# A worker that does not report in for this long (a request stuck in CPU-bound code) is replaced.
timeout = 60
graceful_timeout = 30
# Also the deadline for a request's line and headers (see above).
keepalive = _int("STRONGROOM_HEADER_TIMEOUT", 5)
# gunicorn's defaults, stated: an 8 KiB request line, 100 header fields of at most 8 KiB each.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = "-"
# Invitation links carry their token in the path: the access log replaces it (config/gunicorn_logging.py).
logger_class = "config.gunicorn_logging.RedactingAccessLogger"

# --- Metrics across workers (docs/metrics.md) ----------------------------------------------------
# Every worker keeps its request metrics in memory-mapped files in one directory and a scrape of
# /metrics, whichever worker answers it, sums them (prometheus-client's multiprocess mode). The
# variable must be set before a worker imports prometheus-client, so it is set here in the master:
# the operator's PROMETHEUS_MULTIPROC_DIR, else ``metrics/`` in the data directory. Either is emptied
# when gunicorn starts (so one directory per server: never share one between two gunicorns).
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR",
    os.path.join(
        os.environ.get("STRONGROOM_DATA_DIR") or os.path.join(os.path.dirname(os.path.dirname(__file__)), "var"),
        "metrics",
    ),
)


def on_starting(server: object) -> None:
    """Start from zero: files left by an earlier run would be summed into this one's metrics."""
    import pathlib

    directory = pathlib.Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for stale in directory.glob("*.db"):
        stale.unlink()


def child_exit(server: object, worker: object) -> None:
    """A worker that exited: its live-gauge files are dropped (counters and histograms stay summed)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


# STRONGROOM_LOG_FORMAT=json: gunicorn's own lines (errors, the access log) as JSON objects too, through
# the same formatter as Django's (observability/logs.py). Not propagated: the root logger would print
# each line a second time.
if os.environ.get("STRONGROOM_LOG_FORMAT", "").strip() == "json":
    logconfig_dict = {
        "root": {"level": "INFO", "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
        "formatters": {"generic": {"()": "observability.logs.JsonFormatter"}},
    }
