from __future__ import annotations

import logging

from django.apps import AppConfig
from django.conf import settings


class ObservabilityConfig(AppConfig):
    name = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        if settings.LOG_FORMAT == "json":
            # Python warnings (a library's UserWarning) go to stderr as bare text; a log shipper
            # expecting one JSON object per line gets them as log records instead.
            logging.captureWarnings(True)
