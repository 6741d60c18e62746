"""Routes of Infisical's dynamic secrets under ``/compat/infisical/`` (config/urls.py), with the
optional trailing slash of every compat route. ``leases`` comes before ``{name}``: a dynamic secret
cannot be called "leases" through this API, as in Infisical's router."""

from __future__ import annotations

from dynamic.compat.views import (
    DynamicSecretItemView,
    DynamicSecretLeaseListView,
    DynamicSecretListView,
    LeaseCreateView,
    LeaseItemView,
    LeaseRenewView,
)
from secrets_app.compat.urls import route

NAME = r"(?P<name>[^/]+)"
LEASE = r"(?P<lease_id>[^/]+)"

urlpatterns = [
    route(r"api/v1/dynamic-secrets", DynamicSecretListView.as_view(), "dynamic-secrets"),
    route(r"api/v1/dynamic-secrets/leases", LeaseCreateView.as_view(), "dynamic-secret-leases"),
    route(rf"api/v1/dynamic-secrets/leases/{LEASE}", LeaseItemView.as_view(), "dynamic-secret-lease"),
    route(rf"api/v1/dynamic-secrets/leases/{LEASE}/renew", LeaseRenewView.as_view(), "dynamic-secret-lease-renew"),
    route(rf"api/v1/dynamic-secrets/{NAME}", DynamicSecretItemView.as_view(), "dynamic-secret"),
    route(rf"api/v1/dynamic-secrets/{NAME}/leases", DynamicSecretLeaseListView.as_view(), "dynamic-secret-lease-list"),
]
