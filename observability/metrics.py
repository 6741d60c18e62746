"""The request metrics and how they are exposed, in one process or across gunicorn's workers.

Single process (``make run`` without PROMETHEUS_MULTIPROC_DIR, tests, ``manage.py runserver``):
the metrics live in this module's registry and ``/metrics`` serves it.

Several worker processes (gunicorn, docker-compose.yml): when ``PROMETHEUS_MULTIPROC_DIR`` names a
directory, prometheus-client keeps every value in a memory-mapped file per process there, and a
scrape, whichever worker answers it, reads all the files (``MultiProcessCollector``). The directory
must be empty when gunicorn starts and dead workers' files are marked by ``child_exit``
(config/gunicorn.py does both). The variable is read when prometheus-client is first imported, so
it has to be in the environment before the server starts, not set by settings.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

# Seconds: a cached get-one is ~1-3 ms, a create ~10 ms, an export or a sign-in (PBKDF2) 0.2 s+.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Statements Django sent per request; #14's target for a read is 3, a create costs ~25 today.
STATEMENT_BUCKETS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir") or None


# Single-process registry; in multiprocess mode the metrics below write to the mmap files instead and
# this registry is not what a scrape reads.
LOCAL_REGISTRY = CollectorRegistry(auto_describe=True)

REQUEST_SECONDS = Histogram(
    "strongroom_http_request_duration_seconds",
    "Time from the first middleware to the response, by route family and method.",
    ("family", "method"),
    buckets=LATENCY_BUCKETS,
    registry=LOCAL_REGISTRY,
)
REQUEST_STATEMENTS = Histogram(
    "strongroom_http_request_sql_statements",
    "SQL statements Django executed for one request (BEGIN/COMMIT not included), by route family.",
    ("family",),
    buckets=STATEMENT_BUCKETS,
    registry=LOCAL_REGISTRY,
)
RESPONSES = Counter(
    "strongroom_http_responses",
    "Responses by route family and status class (2xx, 3xx, 4xx, 5xx).",
    ("family", "status"),
    registry=LOCAL_REGISTRY,
)


def exposition(*extra_collectors: Any) -> bytes:
    """The text a scrape answers: the request metrics (of every worker in multiprocess mode) plus
    *extra_collectors*, which are collected now (queue lags computed at scrape time)."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_LocalCollector())
    for collector in extra_collectors:
        registry.register(collector)
    return generate_latest(registry)


class _LocalCollector:
    """This process's request metrics, registered into the scrape's registry alongside the extras."""

    def collect(self) -> Any:
        return LOCAL_REGISTRY.collect()
