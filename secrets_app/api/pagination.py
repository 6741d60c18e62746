"""limit/offset pagination: ``{"count", "next", "previous", "results"}``.

An invalid ``limit`` or ``offset`` is a 400 naming it (DRF's paginator would silently fall back);
``limit`` above ``max_limit`` is clamped.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response


class StandardPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


# PostgreSQL refuses an OFFSET beyond a bigint (a 500 from the database); no list comes near this.
MAX_OFFSET = 10**9


class PageQuery(serializers.Serializer):
    limit = serializers.IntegerField(required=False, min_value=1, help_text="Page size (default 50, at most 500)")
    offset = serializers.IntegerField(required=False, min_value=0, max_value=MAX_OFFSET, default=0)


def page_window(query: dict[str, Any]) -> tuple[int, int]:
    """(limit, offset) from validated ``PageQuery`` data."""
    limit = min(query.get("limit") or StandardPagination.default_limit, StandardPagination.max_limit)
    return limit, query.get("offset") or 0


def paginated_response(request: Request, *, results: list[Any], count: int, limit: int, offset: int) -> Response:
    paginator = StandardPagination()
    paginator.request, paginator.count, paginator.limit, paginator.offset = request, count, limit, offset
    return paginator.get_paginated_response(results)


def page_of(item: type[serializers.Serializer], name: str) -> type[serializers.Serializer]:
    """The schema of one page of *item* (for ``extend_schema(responses=...)``)."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item(many=True),
        },
    )
