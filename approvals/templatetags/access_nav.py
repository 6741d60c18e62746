"""``{% access_nav %}``: the top bar's "Inbox" link with the count of change and access requests
waiting for the logged-in person's review, and "My access". Two COUNT queries per page for people
signed in."""

from __future__ import annotations

from typing import Any

from django import template

from approvals.selectors.access_requests import access_requests_to_review_count
from approvals.selectors.change_requests import pending_review_count

register = template.Library()


@register.inclusion_tag("approvals/access_nav.html", takes_context=True)
def access_nav(context: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"show": False}
    return {
        "show": True,
        "pending": access_requests_to_review_count(user) + pending_review_count(user),
        "nav": context.get("nav"),
    }
