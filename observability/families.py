"""Route families: the one label request metrics carry about *what* was called.

A family is derived from the resolved route's pattern (``ResolverMatch.route``), never from the
path: paths hold project slugs, secret names and ids, and a label per value would both leak them
to whoever reads the metrics and grow the series without bound. The set of families is fixed.
"""

from __future__ import annotations

import re

from django.http import HttpRequest
from django.urls import Resolver404, resolve

COMPAT_AUTH = "compat_auth"
COMPAT_SECRETS = "compat_secrets"
COMPAT_OTHER = "compat_other"
API_V1_AUTH = "api_v1_auth"
API_V1_SECRETS = "api_v1_secrets"
API_V1_OTHER = "api_v1_other"
API_OTHER = "api_other"  # the OpenAPI schema and its docs page
SCIM = "scim"
HEALTH = "health"
METRICS = "metrics"
UI = "ui"
STATIC = "static"
UNMATCHED = "unmatched"  # no route (404 before any view ran)

FAMILIES = (
    COMPAT_AUTH,
    COMPAT_SECRETS,
    COMPAT_OTHER,
    API_V1_AUTH,
    API_V1_SECRETS,
    API_V1_OTHER,
    API_OTHER,
    SCIM,
    HEALTH,
    METRICS,
    UI,
    STATIC,
    UNMATCHED,
)

# Infisical's secret routes: /api/v3/secrets/raw…, /api/v4/secrets… (not dynamic-secrets, secret-imports).
_COMPAT_SECRETS = re.compile(r"api/v\d+/secrets\b")
_API_V1_SECRETS = re.compile(r"^api/v1/projects/[^/]+/secrets/")

# route pattern -> family; patterns are the URLconf's own strings, so this stays as small as the URLconf.
_by_route: dict[str, str] = {}


def family_of_route(route: str) -> str:
    """The family of a resolved route pattern such as ``api/v1/projects/<str:project>/secrets/<str:key>/``."""
    if route.startswith("compat/"):
        if "/auth/" in route:
            return COMPAT_AUTH
        return COMPAT_SECRETS if _COMPAT_SECRETS.search(route) else COMPAT_OTHER
    if route.startswith("api/v1/"):
        if route.startswith("api/v1/auth/"):
            return API_V1_AUTH
        return API_V1_SECRETS if _API_V1_SECRETS.match(route) else API_V1_OTHER
    if route.startswith("api/"):
        return API_OTHER
    if route.startswith("scim/"):
        return SCIM
    if route in ("healthz", "readyz"):
        return HEALTH
    if route == "metrics":
        return METRICS
    return UI


def request_family(request: HttpRequest) -> str:
    """The family of a request that has been through URL resolution (or not: ``static``/``unmatched``)."""
    match = request.resolver_match
    if match is None:
        # Answered before URL resolution (sealed 503, a refused body, a 404): resolve it now, so a
        # sealed secret read still counts as compat_secrets. Only such requests pay for it.
        if request.path_info.startswith("/static/"):
            return STATIC
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return UNMATCHED
    route = match.route
    family = _by_route.get(route)
    if family is None:
        family = _by_route[route] = family_of_route(route)
    return family
