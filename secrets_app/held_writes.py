"""UI answer to a held write: a UI view whose write service raised ``HeldForApproval`` (a change
policy holds the write for review) shows a banner instead of failing.

- htmx: the banner fragment is inserted at the top of the page's ``<main>`` (``HX-Retarget`` /
  ``HX-Reswap``), linking to the review page; the form or panel the request came from stays.
- plain browser requests: a message and a redirect (303) to the review page, where the request's
  status is shown.

API and compat requests never get here: their exception handlers answer 202 / 200 ``{approval}``.
This module knows nothing of approvals; ``HeldWrite`` carries everything it shows.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string

from secrets_app.write_gate import HeldForApproval

FRAGMENT = "components/held_write.html"


class HeldWriteMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, HeldForApproval):
            return None
        if request.path.startswith(("/api/", "/compat/")):
            return None
        held = exception.held
        # The review page on this very site: a path, so a SITE_URL set for e-mail links (or left at
        # its default) cannot send the person to another host or port.
        review_path = urlsplit(held.url).path or "/"
        htmx = getattr(request, "htmx", None)
        if htmx and not htmx.history_restore_request:
            body = render_to_string(FRAGMENT, {"held": held, "review_path": review_path}, request=request)
            response = HttpResponse(body, status=200)
            response["HX-Retarget"] = "main"
            response["HX-Reswap"] = "afterbegin"
            return response
        messages.info(request, held.message)
        return HttpResponseRedirect(review_path, status=303)
