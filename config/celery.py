from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("strongroom")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

if os.environ.get("STRONGROOM_LOG_FORMAT", "").strip() == "json":
    from celery.signals import setup_logging

    @setup_logging.connect
    def _json_logging(**kwargs: object) -> None:
        """With a receiver here Celery leaves the root logger alone, so the worker's and beat's lines
        (task received, succeeded, failed) go through settings.LOGGING's JSON formatter (docs/metrics.md)."""
        from logging.config import dictConfig

        from django.conf import settings

        dictConfig(settings.LOGGING)
