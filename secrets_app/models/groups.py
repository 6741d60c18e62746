"""Groups of people in an organization, and the roles groups hold in projects.

A group is local (managed in Strongroom), mapped from the identity provider (kept in step with the
``groups`` claim at each sign-in) or provisioned by SCIM. People in a group inherit the group's
project roles; ``selectors.access.project_access`` adds them to the person's own rules (allows add
up, a deny from any of them wins), so the one decision point decides as for a single role.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from secrets_app.models.organizations import Organization
from secrets_app.models.projects import Project
from secrets_app.models.roles import Role


class GroupSource(models.TextChoices):
    LOCAL = "local", "Local"
    IDP = "idp", "Identity provider"
    SCIM = "scim", "SCIM"


class Group(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="groups")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    slug = models.SlugField(max_length=64)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    source = models.CharField(max_length=8, choices=GroupSource.choices, default=GroupSource.LOCAL)
    # The directory's id of the group (Entra object id, SCIM id/externalId); empty for local groups.
    external_id = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="uniq_group_slug_per_org"),
            models.UniqueConstraint(
                fields=["organization", "source", "external_id"],
                condition=~models.Q(external_id=""),
                name="uniq_group_external_id_per_org_source",
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class GroupMembership(models.Model):
    """A person in a group; ``source`` says who put them there (an admin, the IdP claim, SCIM)."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="group_memberships")
    source = models.CharField(max_length=8, choices=GroupSource.choices, default=GroupSource.LOCAL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "user"], name="uniq_group_member")]


class GroupProjectMembership(models.Model):
    """A group's role in one project (built-in slug or custom role), inherited by its people."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="group_memberships")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="project_memberships")
    builtin_role = models.CharField(max_length=16, blank=True, default="")
    custom_role = models.ForeignKey(
        Role, on_delete=models.PROTECT, null=True, blank=True, related_name="group_memberships"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "group"], name="uniq_project_group"),
            models.CheckConstraint(
                condition=(models.Q(builtin_role="") & models.Q(custom_role__isnull=False))
                | (~models.Q(builtin_role="") & models.Q(custom_role__isnull=True)),
                name="group_membership_has_exactly_one_role",
            ),
        ]

    @property
    def role_slug(self) -> str:
        return self.custom_role.slug if self.custom_role_id and self.custom_role else self.builtin_role
