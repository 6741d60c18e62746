"""Reading imports: one organization's, never another's (the caller was checked by
``estate.access.estate_organization``)."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from estate.models import EstateImport, EstateResource
from secrets_app.errors import NotFound
from secrets_app.models import Organization


def import_list(organization: Organization, *, resource: EstateResource | int | None = None) -> QuerySet[EstateImport]:
    """The organization's imports, newest first (optionally of one resource)."""
    query = EstateImport.objects.filter(organization=organization).select_related(
        "resource", "project", "environment", "sync"
    )
    if resource is not None:
        query = query.filter(resource_id=resource.pk if isinstance(resource, EstateResource) else resource)
    return query


def import_get(organization: Organization, ref: str) -> EstateImport:
    """One import of the organization by public id; NotFound otherwise (also for another
    organization's)."""
    try:
        public_id = uuid.UUID(str(ref))
    except ValueError:
        raise NotFound("Import not found") from None
    found = import_list(organization).filter(public_id=public_id).first()
    if found is None:
        raise NotFound("Import not found")
    return found


def import_resource_get(organization: Organization, resource_id: int) -> EstateResource:
    """A resource of the organization by id (any kind); NotFound otherwise."""
    found = (
        EstateResource.objects.filter(organization=organization, pk=resource_id).select_related("connection").first()
    )
    if found is None:
        raise NotFound("Resource not found")
    return found
