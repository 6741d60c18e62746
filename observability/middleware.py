"""Request metrics middleware: latency and SQL statements per route family (observability.metrics).

Kept cheap on purpose (#14 is about speed): per request one perf_counter pair, one wrapper pushed on
the connection's ``execute_wrappers`` (a counter increment per statement), a dict lookup for the
family and three observations on metric children cached per label set. ~10 µs a request, measured
in docs/metrics.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

from observability.families import request_family
from observability.metrics import METHODS, REQUEST_SECONDS, REQUEST_STATEMENTS, RESPONSES

_STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


class StatementCounter:
    """A ``connection.execute_wrapper``: counts the statements one request sends, nothing more."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


# (family, method) -> (latency child, statements child); (family, status class) -> counter child.
# Label sets are bounded (families x methods), so these stay small; looking a child up through
# ``labels()`` takes a lock and builds a key every time.
_timed: dict[tuple[str, str], tuple[Any, Any]] = {}
_counted: dict[tuple[str, str], Any] = {}


class RequestMetricsMiddleware:
    """First in MIDDLEWARE, so the time includes every other middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        counter = StatementCounter()
        wrappers = connections[DEFAULT_DB_ALIAS].execute_wrappers
        wrappers.append(counter)
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            try:
                wrappers.remove(counter)
            except ValueError:
                pass
            self._observe(request, status, time.perf_counter() - started, counter.count)

    @staticmethod
    def _observe(request: HttpRequest, status: int, seconds: float, statements: int) -> None:
        family = request_family(request)
        method = request.method if request.method in METHODS else "other"
        key = (family, method or "other")
        children = _timed.get(key)
        if children is None:
            children = _timed[key] = (REQUEST_SECONDS.labels(*key), REQUEST_STATEMENTS.labels(family))
        children[0].observe(seconds)
        children[1].observe(statements)
        status_key = (family, _STATUS_CLASSES.get(status // 100, "other"))
        responses = _counted.get(status_key)
        if responses is None:
            responses = _counted[status_key] = RESPONSES.labels(*status_key)
        responses.inc()
