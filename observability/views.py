"""``GET /metrics``: the Prometheus exposition, for a scraper holding STRONGROOM_METRICS_TOKEN.

Without the setting the route answers 404 as if it did not exist (nothing about the server is
exposed by default). With it, a request must carry ``Authorization: Bearer <token>``; anything
else is 401. The body holds counts, durations and route families only: no path, project, secret
name, identity or value ever becomes a label (observability.families).
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from observability.metrics import exposition
from observability.queues import QueueLagCollector


def _authorized(request: HttpRequest, token: str) -> bool:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


@require_safe
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.STRONGROOM_METRICS_TOKEN
    if not token:
        raise Http404("metrics are off")
    if not _authorized(request, token):
        response = HttpResponse(b"unauthorized\n", status=401, content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(QueueLagCollector()), content_type=CONTENT_TYPE_LATEST)
