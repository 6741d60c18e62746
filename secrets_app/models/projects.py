from __future__ import annotations

import uuid

from django.db import models

from secrets_app.models.organizations import Organization


class Project(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects")
    # The stable public id (Infisical clients call it projectId / workspaceId).
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=64)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "slug"], name="uniq_project_slug_per_org")]

    def __str__(self) -> str:
        return self.slug


class Environment(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(max_length=64)
    slug = models.SlugField(max_length=64)
    position = models.PositiveIntegerField(default=0)
    # "A person revealing a value here marks it due for rotation" (docs/rotation.md, Rotation policies).
    reveal_marks_due = models.BooleanField(default=False)
    # ... and, for a secret a rotation owns, queues that rotation within this many hours (0: at once).
    reveal_rotation_hours = models.PositiveSmallIntegerField(default=24)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "slug"], name="uniq_env_slug_per_project")]

    def __str__(self) -> str:
        return self.slug
