"""JSON log lines for log shippers: ``STRONGROOM_LOG_FORMAT=json`` (config/settings.py LOGGING and
config/gunicorn.py's access and error logs).

One JSON object per line: ``timestamp`` (UTC, ISO 8601, milliseconds), ``level``, ``logger``,
``message``, ``request_id`` while a request is served (the id the response's X-Request-Id header
carries), and ``exception`` (the formatted traceback) when there is one. The message is the one the
plain format would print, so whatever the code keeps out of its log lines (values, tokens, request
bodies, SQL parameters: see the logger levels in LOGGING) stays out of these too; newlines and
quotes in it are escaped by JSON, so a value cannot forge a second line.

Importable without Django (gunicorn's master loads it by name before any app is set up).
"""

from __future__ import annotations

import datetime
import json
import logging


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "timestamp": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # django.request's lines ("Not Found: …") are written after the request's context has ended;
        # they carry the request itself.
        request_id = getattr(getattr(record, "request", None), "request_id", "") or _request_id()
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _request_id() -> str:
    try:
        from audit.context import current_request_context
    except ImportError:  # gunicorn's master before the project is on the path
        return ""
    return current_request_context().request_id
