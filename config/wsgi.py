from __future__ import annotations

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from config.request_body import RequestBodyBuffer

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Bodies are read in full (capped, with a deadline) before Django runs: config/request_body.py.
application = RequestBodyBuffer(
    get_wsgi_application(),
    max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
    timeout_seconds=settings.STRONGROOM_REQUEST_BODY_TIMEOUT,
)
