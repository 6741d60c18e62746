"""Members, roles, personal tokens and audit events."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audit.models import Outcome
from secrets_app.api.fields import SortedStrings, StrictSerializer
from secrets_app.api.pagination import MAX_OFFSET


# --- members ------------------------------------------------------------------------------------
class MemberSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The membership id (use it to change or remove the member)")
    email = serializers.EmailField(source="user.email")
    role = serializers.CharField(source="role_slug")
    createdAt = serializers.DateTimeField(source="created_at")


class MemberListSerializer(serializers.Serializer):
    members = MemberSerializer(many=True)


class MemberAddRequest(StrictSerializer):
    email = serializers.EmailField()
    role = serializers.CharField()


class MemberUpdateRequest(StrictSerializer):
    role = serializers.CharField()


# --- roles --------------------------------------------------------------------------------------
class RoleRuleRequest(StrictSerializer):
    """One rule: ``effect`` on ``action`` (``secrets.read_value``, ``secrets.*``, ``*``), limited to
    environments (empty: all), a segment path glob (``/app/**``) and tags (empty: any)."""

    effect = serializers.ChoiceField(choices=["allow", "deny"], default="allow")
    action = serializers.CharField()
    environments = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    path = serializers.CharField(required=False, default="/**")
    tags = serializers.ListField(child=serializers.CharField(), required=False, default=list)


class RoleRuleSerializer(serializers.Serializer):
    effect = serializers.CharField()
    action = serializers.CharField()
    environments = SortedStrings(help_text="Empty: every environment")
    path = serializers.CharField()
    tags = SortedStrings(help_text="Empty: whatever the tags")


class RoleSerializer(serializers.Serializer):
    """A ``RoleSummary`` (listing) or a custom ``Role`` row (after a write)."""

    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    builtin = serializers.BooleanField(default=False)
    memberCount = serializers.IntegerField(source="member_count", default=0, help_text="Custom roles only")
    rules = RoleRuleSerializer(many=True)


class RoleListSerializer(serializers.Serializer):
    roles = RoleSerializer(many=True)


class RoleCreateRequest(StrictSerializer):
    slug = serializers.CharField(required=False, help_text="Required unless given in the URL")
    name = serializers.CharField(required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    rules = RoleRuleRequest(many=True)


class RoleUpdateRequest(StrictSerializer):
    name = serializers.CharField(required=False, allow_blank=True)
    rules = RoleRuleRequest(many=True, required=False)


# --- personal tokens ----------------------------------------------------------------------------
class TokenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The first characters of the token, to recognise it")
    createdAt = serializers.DateTimeField(source="created_at")
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    lastUsedAt = serializers.DateTimeField(source="last_used_at", allow_null=True)
    revokedAt = serializers.DateTimeField(source="revoked_at", allow_null=True, help_text="Revoked tokens stay listed")


class TokenListSerializer(serializers.Serializer):
    tokens = TokenSerializer(many=True)


class TokenCreatedSerializer(TokenSerializer):
    token = serializers.CharField(help_text="The token itself. Shown once: it cannot be retrieved again")


class TokenCreateRequest(StrictSerializer):
    name = serializers.CharField(max_length=120)
    expiresInDays = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=3650)


# --- audit --------------------------------------------------------------------------------------
class AuditEventQuery(serializers.Serializer):
    project = serializers.CharField(required=False, help_text="Project slug or id")
    action = serializers.CharField(required=False, help_text="Exact action, or a prefix: secret.* or secret.")
    actor = serializers.CharField(
        required=False, help_text="type:id (user:7, identity:7), or part of the actor label (email)"
    )
    resource = serializers.CharField(required=False, help_text="type:id, a resource id, or part of a path")
    outcome = serializers.ChoiceField(choices=Outcome.values, required=False)
    environment = serializers.CharField(required=False)
    since = serializers.DateTimeField(required=False, help_text="ISO 8601 (naive means UTC), inclusive")
    until = serializers.DateTimeField(required=False, help_text="ISO 8601 (naive means UTC), inclusive")
    limit = serializers.IntegerField(required=False, min_value=1, help_text="Page size (default 50, at most 500)")
    offset = serializers.IntegerField(required=False, min_value=0, max_value=MAX_OFFSET)


class AuditActorSerializer(serializers.Serializer):
    type = serializers.CharField(source="actor_type")
    id = serializers.CharField(source="actor_id")
    label = serializers.CharField(source="actor_label")
    role = serializers.CharField(source="actor_role")


class AuditProjectSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    slug = serializers.CharField()


class AuditEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    occurredAt = serializers.DateTimeField(source="occurred_at")
    action = serializers.CharField()
    outcome = serializers.CharField()
    actor = AuditActorSerializer(source="*")
    project = serializers.SerializerMethodField()
    environment = serializers.CharField()
    path = serializers.CharField()
    resourceType = serializers.CharField(source="resource_type")
    resourceId = serializers.CharField(source="resource_id")
    sourceIp = serializers.CharField(source="source_ip")
    userAgent = serializers.CharField(source="user_agent")
    requestId = serializers.CharField(source="request_id")
    metadata = serializers.JSONField()

    @extend_schema_field(AuditProjectSerializer(allow_null=True))
    def get_project(self, event: Any) -> dict[str, Any] | None:
        project = self.context.get("projects", {}).get(event.project_id)
        return AuditProjectSerializer(project).data if project is not None else None  # type: ignore[return-value]


class AuditExportQuery(serializers.Serializer):
    """The list's filters (no paging) and the format."""

    format = serializers.ChoiceField(choices=["jsonl", "csv", "cef"], help_text="jsonl, csv or cef")
    project = serializers.CharField(required=False, help_text="Project slug or id")
    action = serializers.CharField(required=False, help_text="Exact action, or a prefix: secret.* or secret.")
    actor = serializers.CharField(required=False, help_text="type:id (user:7, identity:7), or part of the actor label")
    resource = serializers.CharField(required=False, help_text="type:id, a resource id, or part of a path")
    outcome = serializers.ChoiceField(choices=Outcome.values, required=False)
    environment = serializers.CharField(required=False)
    since = serializers.DateTimeField(required=False, help_text="ISO 8601 (naive means UTC), inclusive")
    until = serializers.DateTimeField(required=False, help_text="ISO 8601 (naive means UTC), inclusive")


ORG_AUDIT_SCOPE_HELP = "organization (default): the organization's own events (no project); all: also every project's"


class OrganizationAuditQuery(serializers.Serializer):
    scope = serializers.ChoiceField(choices=["organization", "all"], required=False, help_text=ORG_AUDIT_SCOPE_HELP)
    action = serializers.CharField(required=False, help_text="Exact action, or a prefix: secret.* or secret.")
    actor = serializers.CharField(required=False, help_text="type:id (user:7, identity:7), or part of the actor label")
    resource = serializers.CharField(required=False, help_text="type:id, a resource id, or part of a path")
    outcome = serializers.ChoiceField(choices=Outcome.values, required=False)
    environment = serializers.CharField(required=False)
    since = serializers.DateTimeField(required=False, help_text="ISO 8601 (naive means UTC), inclusive")
    until = serializers.DateTimeField(required=False, help_text="ISO 8601 (naive means UTC), inclusive")
    limit = serializers.IntegerField(required=False, min_value=1, help_text="Page size (default 50, at most 500)")
    offset = serializers.IntegerField(required=False, min_value=0, max_value=MAX_OFFSET)


class OrganizationAuditExportQuery(serializers.Serializer):
    format = serializers.ChoiceField(choices=["jsonl", "csv", "cef"], help_text="jsonl, csv or cef")
    scope = serializers.ChoiceField(choices=["organization", "all"], required=False, help_text=ORG_AUDIT_SCOPE_HELP)
    action = serializers.CharField(required=False, help_text="Exact action, or a prefix: secret.* or secret.")
    actor = serializers.CharField(required=False, help_text="type:id (user:7, identity:7), or part of the actor label")
    resource = serializers.CharField(required=False, help_text="type:id, a resource id, or part of a path")
    outcome = serializers.ChoiceField(choices=Outcome.values, required=False)
    environment = serializers.CharField(required=False)
    since = serializers.DateTimeField(required=False, help_text="ISO 8601 (naive means UTC), inclusive")
    until = serializers.DateTimeField(required=False, help_text="ISO 8601 (naive means UTC), inclusive")
