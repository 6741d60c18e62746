"""Shapes of the estate scan, inventory and findings API (camelCase, like the rest of ``/api/v1``).

Names, ids, flags and counts only: a resource never holds a value (estate/models.py), and nothing
here adds one. ``details`` and a finding's ``data`` keep the scan's structure with their keys in
camelCase (``is_secret`` → ``isSecret``)."""

# ruff: noqa: N815
from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from estate.models import FindingKind, ResourceKind, ScanStatus, Severity
from secrets_app.api.fields import QueryBoolean, StrictSerializer
from secrets_app.api.pagination import PageQuery

SCAN_TRIGGERS = ("api", "cli")


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def camelized(value: Any) -> Any:
    """*value* with every dict key in camelCase, recursively (the values are left as they are)."""
    if isinstance(value, dict):
        return {camel(str(key)): camelized(item) for key, item in value.items()}
    if isinstance(value, list):
        return [camelized(item) for item in value]
    return value


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}]})
class ConnectionRefField(serializers.Field):
    """An Azure DevOps connection of the organization: its id (number or text), public id or name."""

    default_error_messages = {"invalid": "must be a connection id, public id or name"}

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid")
        text = str(data).strip()
        if not text or len(text) > 256:
            self.fail("invalid")
        return text

    def to_representation(self, value: Any) -> Any:
        return value


class ScanStartRequest(StrictSerializer):
    connection = ConnectionRefField(help_text="The Azure DevOps connection to scan through: id, public id or name")
    trigger = serializers.ChoiceField(
        choices=SCAN_TRIGGERS, required=False, default="api", help_text="Who asked: api (default) or cli"
    )


class ScanCancelRequest(StrictSerializer):
    """No fields: the scan is in the path (an empty body, or none, is fine)."""


class ConnectionRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()


class ScanProgressSerializer(serializers.Serializer):
    phase = serializers.CharField(required=False)
    projectsTotal = serializers.IntegerField(source="projects_total", required=False)
    projectsDone = serializers.IntegerField(source="projects_done", required=False)
    requests = serializers.IntegerField(required=False, help_text="Azure DevOps requests made so far")
    throttled = serializers.IntegerField(required=False, help_text="Requests Azure DevOps asked to delay")
    currentProject = serializers.CharField(source="current_project", required=False)


class ScanCountsSerializer(serializers.Serializer):
    projects = serializers.IntegerField(required=False)
    variableGroups = serializers.IntegerField(source="variable_groups", required=False)
    pipelines = serializers.IntegerField(required=False)
    serviceConnections = serializers.IntegerField(source="service_connections", required=False)
    secureFiles = serializers.IntegerField(source="secure_files", required=False)
    secretVariables = serializers.IntegerField(source="secret_variables", required=False)
    findings = serializers.IntegerField(required=False)


class ScanDiffSerializer(serializers.Serializer):
    added = serializers.IntegerField(required=False)
    changed = serializers.IntegerField(required=False)
    removed = serializers.IntegerField(required=False)


class EstateScanSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    status = serializers.ChoiceField(choices=ScanStatus.choices)
    trigger = serializers.CharField()
    connection = ConnectionRefSerializer()
    organizationUrl = serializers.CharField(source="org_url", help_text="The Azure DevOps organization scanned")
    requestedBy = serializers.SerializerMethodField()
    queuedAt = serializers.DateTimeField(source="queued_at")
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    heartbeatAt = serializers.DateTimeField(source="heartbeat_at", allow_null=True)
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
    attempts = serializers.IntegerField()
    progress = ScanProgressSerializer()
    counts = ScanCountsSerializer(help_text="What the scan found (set as it goes, complete when it succeeded)")
    diff = ScanDiffSerializer(help_text="Resources added, changed and removed since the previous complete scan")
    error = serializers.CharField(help_text="Why it failed (empty otherwise)")

    @extend_schema_field(OpenApiTypes.STR)
    def get_requestedBy(self, scan: Any) -> str | None:
        user = scan.requested_by
        return None if user is None else str(user.email)


@extend_schema_field(OpenApiTypes.OBJECT)
class FindingDataField(serializers.Field):
    def to_representation(self, finding: Any) -> Any:
        return camelized(finding.data or {})


class ResourceBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    kind = serializers.ChoiceField(choices=ResourceKind.choices)
    name = serializers.CharField()
    adoProjectName = serializers.CharField(source="ado_project_name")


class EstateFindingSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    kind = serializers.ChoiceField(choices=FindingKind.choices)
    title = serializers.CharField(source="get_kind_display")
    severity = serializers.ChoiceField(choices=Severity.choices)
    subject = serializers.CharField(help_text="What the finding is about, e.g. a variable name")
    detail = serializers.CharField()
    resource = ResourceBriefSerializer(allow_null=True)
    connection = serializers.CharField(source="connection.name")
    firstSeenAt = serializers.DateTimeField(source="first_seen_at")
    lastSeenAt = serializers.DateTimeField(source="last_seen_at")
    resolvedAt = serializers.DateTimeField(source="resolved_at", allow_null=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        # ``data`` would shadow Serializer.data as a class attribute: declared here instead.
        fields = super().get_fields()
        fields["data"] = FindingDataField(source="*", help_text="Names and ids behind the finding")
        return fields


class EstateResourceSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    kind = serializers.ChoiceField(choices=ResourceKind.choices)
    name = serializers.CharField()
    adoProjectId = serializers.CharField(source="ado_project_id")
    adoProjectName = serializers.CharField(source="ado_project_name")
    externalId = serializers.CharField(source="external_id", help_text="The Azure DevOps id of the object")
    connection = ConnectionRefSerializer()
    secretCount = serializers.IntegerField(source="secret_count", help_text="Variables marked secret")
    variableCount = serializers.IntegerField(source="variable_count")
    managedBySync = serializers.UUIDField(
        source="managed_by_sync.public_id", allow_null=True, default=None, help_text="The Strongroom sync writing it"
    )
    firstSeenAt = serializers.DateTimeField(source="first_seen_at")
    lastSeenAt = serializers.DateTimeField(source="last_seen_at")
    changedAt = serializers.DateTimeField(source="changed_at")
    removedAt = serializers.DateTimeField(
        source="removed_at", allow_null=True, help_text="Not seen by the latest complete scan"
    )
    details = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_details(self, resource: Any) -> Any:
        """Names and flags by kind (variables: name, isSecret, looksSecret, reason), never a value."""
        return camelized(resource.details or {})


class EstateResourceDetailSerializer(EstateResourceSerializer):
    findings = EstateFindingSerializer(source="findings_open", many=True, help_text="Its open findings")


class EstateSummarySerializer(serializers.Serializer):
    lastScan = EstateScanSerializer(source="last_scan", allow_null=True)
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Live resources by kind, and totals")
    findingsByKind = serializers.DictField(source="findings_by_kind", child=serializers.IntegerField())
    findingsBySeverity = serializers.DictField(source="findings_by_severity", child=serializers.IntegerField())
    openFindings = serializers.IntegerField(source="open_findings")

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)
        data["counts"] = camelized(data["counts"])
        return data


class ResourceQuery(PageQuery):
    kind = serializers.ChoiceField(choices=ResourceKind.choices, required=False)
    project = serializers.CharField(required=False, help_text="Azure DevOps project name or id")
    finding = serializers.ChoiceField(
        choices=FindingKind.choices, required=False, help_text="Only resources with an open finding of this kind"
    )
    q = serializers.CharField(required=False, max_length=200, help_text="Name contains (case-insensitive)")
    includeRemoved = QueryBoolean(default=False, help_text="true: also resources the latest scan no longer saw")


class FindingQuery(PageQuery):
    kind = serializers.ChoiceField(choices=FindingKind.choices, required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    resource = serializers.IntegerField(required=False, min_value=1, help_text="Only this resource's (its id)")
    includeResolved = QueryBoolean(default=False, help_text="true: also findings a later scan no longer found")
