from __future__ import annotations

from django.conf import settings
from django.db import models

from secrets_app.models.projects import Project


class BuiltinRole(models.TextChoices):
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"
    NO_ACCESS = "no-access", "No access"


class RuleEffect(models.TextChoices):
    ALLOW = "allow", "Allow"
    DENY = "deny", "Deny"


class Role(models.Model):
    """A custom project role: a set of rules. Built-in roles are not rows (see permissions.BUILTIN_RULES)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="roles")
    slug = models.SlugField(max_length=64)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "slug"], name="uniq_role_slug_per_project")]

    def __str__(self) -> str:
        return self.slug


class RoleRule(models.Model):
    """``effect`` on ``action`` (``secrets.read_value``, ``secrets.*``, ``*``) limited to environments
    (empty = all), a secret-path glob (segment based: ``/app/**``) and tags (empty = any)."""

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="rules")
    effect = models.CharField(max_length=8, choices=RuleEffect.choices, default=RuleEffect.ALLOW)
    action = models.CharField(max_length=64)
    environments = models.JSONField(default=list, blank=True)
    path = models.CharField(max_length=512, default="/**")
    tags = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["id"]


class ProjectMembership(models.Model):
    """A person's role in one project: a built-in role slug, or a custom role."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships")
    builtin_role = models.CharField(max_length=16, choices=BuiltinRole.choices, blank=True, default="")
    custom_role = models.ForeignKey(Role, on_delete=models.PROTECT, null=True, blank=True, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="uniq_project_member"),
            models.CheckConstraint(
                condition=(models.Q(builtin_role="") & models.Q(custom_role__isnull=False))
                | (~models.Q(builtin_role="") & models.Q(custom_role__isnull=True)),
                name="membership_has_exactly_one_role",
            ),
        ]

    @property
    def role_slug(self) -> str:
        return self.custom_role.slug if self.custom_role_id and self.custom_role else self.builtin_role
