"""Liveness and readiness probes for load balancers, orchestrators and `docker compose`.

``/healthz`` answers 200 whenever the process can serve a request (liveness: restart me if not).
``/readyz`` answers 200 only when the database and the broker answer and the server is unsealed
(readiness: send me traffic). Failures are reported as the word ``"error"``: exception text can
carry hosts, user names or passwords from connection URLs, so it goes to the log, never the body.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

_BROKER_TIMEOUT_SECONDS = 2


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: always ``{"status": "ok"}`` with 200; touches no dependency."""
    return JsonResponse({"status": "ok"})


@require_safe
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 with ``status: ready`` only when database, broker and keyring are all usable.

    Otherwise 503 with ``status: sealed`` (dependencies answer but no usable root key) or
    ``status: unavailable`` (the database or the broker does not answer).
    """
    database_ok = _database_ok()
    broker_ok = _broker_ok()
    sealed_reason = _sealed_reason(database_ok)
    sealed = sealed_reason is not None

    if not (database_ok and broker_ok):
        status = "unavailable"
    elif sealed:
        status = "sealed"
    else:
        status = "ready"
    body = {
        "status": status,
        "database": "ok" if database_ok else "error",
        "broker": "ok" if broker_ok else "error",
        "sealed": sealed,
        "sealedReason": sealed_reason,
    }
    return JsonResponse(body, status=200 if status == "ready" else 503)


def _database_ok() -> bool:
    try:
        connection.ensure_connection()
        # A pooled connection can be open yet dead (conn_max_age): a round trip proves it.
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.warning("readiness: database check failed", exc_info=True)
        return False
    return True


def _broker_ok() -> bool:
    broker_url = str(settings.CELERY_BROKER_URL)
    if broker_url.startswith("filesystem://"):
        # kombu's filesystem transport "connects" to anything; what matters is that the folders exist.
        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
        folders = [options.get("data_folder_in"), options.get("data_folder_out")]
        return all(folder and Path(str(folder)).is_dir() for folder in folders)
    try:
        from config.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=_BROKER_TIMEOUT_SECONDS)
    except Exception:
        logger.warning("readiness: broker check failed", exc_info=True)
        return False
    return True


def _sealed_reason(database_ok: bool) -> str | None:
    """Why the keyring is sealed, or None. The key check lives in the database: while that cannot
    be read we do not claim to be unsealed."""
    from secrets_app.keyring import keyring

    try:
        return keyring.sealed_reason()
    except Exception:
        logger.warning("readiness: root key check failed", exc_info=database_ok)
        if not database_ok:
            return "unknown: the database is unavailable"
        return "unknown: the root key check could not be read"
