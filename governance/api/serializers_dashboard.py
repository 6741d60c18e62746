"""Shapes of the governance dashboard API (camelCase, like the rest of ``/api/v1``)."""

# ruff: noqa: N815
from __future__ import annotations

from typing import Any

from rest_framework import serializers

from governance.selectors.dashboard import AGE_BUCKETS, FLAG_NAMES
from governance.selectors.risks import SORTS
from secrets_app.api.pagination import MAX_OFFSET


class GovernanceFigureSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    value = serializers.IntegerField()
    previous = serializers.IntegerField(allow_null=True, help_text="The value 7 days ago (null: no snapshot yet)")
    delta = serializers.IntegerField(allow_null=True, help_text="value - previous")


class GovernanceEnvironmentFiguresSerializer(serializers.Serializer):
    slug = serializers.CharField()
    secrets = serializers.IntegerField()
    flags = serializers.DictField(child=serializers.IntegerField(), help_text="Flag name → number of secrets")


class GovernanceProjectFiguresSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="project.public_id")
    slug = serializers.CharField()
    name = serializers.CharField()
    secrets = serializers.IntegerField()
    atRisk = serializers.IntegerField(source="at_risk", help_text="Secrets with at least one flag")
    flags = serializers.DictField(source="flagged", child=serializers.IntegerField())
    environments = GovernanceEnvironmentFiguresSerializer(many=True)
    identities = serializers.IntegerField()
    people = serializers.IntegerField()
    syncsHealthy = serializers.IntegerField(source="syncs_healthy")
    syncsFailing = serializers.IntegerField(source="syncs_failing")
    dynamicSecrets = serializers.IntegerField(source="dynamic_secrets")
    liveLeases = serializers.IntegerField(source="live_leases")
    rotationsOk = serializers.IntegerField(source="rotations_ok")
    rotationsFailing = serializers.IntegerField(source="rotations_failing")
    rotationsOverdue = serializers.IntegerField(source="rotations_overdue")
    pendingApprovals = serializers.IntegerField(source="pending_approvals")


class GovernanceAgeBucketSerializer(serializers.Serializer):
    bucket = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    count = serializers.IntegerField()


class GovernanceReadsSeriesSerializer(serializers.Serializer):
    environment = serializers.CharField()
    values = serializers.ListField(child=serializers.IntegerField(), help_text="Read events per day, aligned to days")
    total = serializers.IntegerField()


class GovernanceReadsSerializer(serializers.Serializer):
    days = serializers.ListField(child=serializers.DateField())
    series = GovernanceReadsSeriesSerializer(many=True)


class GovernanceConsumerSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="user (a person) or identity (a machine identity)")
    label = serializers.CharField()  # type: ignore[assignment]
    identityId = serializers.UUIDField(source="identity_public_id", allow_null=True)
    events = serializers.IntegerField(help_text="Read events that delivered values")
    keys = serializers.IntegerField(help_text="Keys delivered (a list delivers every key of the folder)")


class GovernanceTrendPointSerializer(serializers.Serializer):
    day = serializers.DateField()
    stale = serializers.IntegerField()
    neverDelivered = serializers.IntegerField(source="never_delivered")


class GovernanceChartsSerializer(serializers.Serializer):
    age = GovernanceAgeBucketSerializer(many=True)
    reads = GovernanceReadsSerializer()
    topConsumers = GovernanceConsumerSerializer(source="top_consumers", many=True)
    staleTrend = GovernanceTrendPointSerializer(source="stale_trend", many=True)


class GovernanceDashboardSerializer(serializers.Serializer):
    organization = serializers.CharField(source="organization.slug")
    project = serializers.CharField(source="project.slug", allow_null=True, default=None)
    computedAt = serializers.DateTimeField(source="computed_at", allow_null=True)
    counts = GovernanceFigureSerializer(many=True)
    flags = GovernanceFigureSerializer(many=True)
    projects = GovernanceProjectFiguresSerializer(many=True)
    charts = GovernanceChartsSerializer()


class GovernanceTopConsumersSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    results = GovernanceConsumerSerializer(many=True)


class GovernanceRiskQuery(serializers.Serializer):
    flag = serializers.ChoiceField(
        choices=[*FLAG_NAMES, "any"], required=False, help_text="One risk flag, or any (at least one flag)"
    )
    project = serializers.CharField(required=False, help_text="Project slug (organization list only)")
    environment = serializers.CharField(required=False, help_text="Environment slug")
    path = serializers.CharField(required=False, help_text="Path prefix: /app matches /app and /app/x")
    consumer = serializers.CharField(required=False, help_text="identity:<identity id> or user:<user id>")
    age = serializers.ChoiceField(
        choices=[key for key, *_ in AGE_BUCKETS],
        required=False,
        help_text="Time since the last change: lt30, 30_90, 90_180, 180_365, gt365 (days)",
    )
    sort = serializers.ChoiceField(
        choices=[s for name in SORTS for s in (name, f"-{name}")],
        required=False,
        help_text="score, age, last_delivered, key; prefix - to reverse (default -score)",
    )
    limit = serializers.IntegerField(required=False, min_value=1, help_text="Page size (default 50, at most 500)")
    offset = serializers.IntegerField(required=False, min_value=0, max_value=MAX_OFFSET, default=0)
    format = serializers.ChoiceField(choices=["json", "csv"], required=False, help_text="csv: every row, no paging")


class GovernanceRiskSerializer(serializers.Serializer):
    secretId = serializers.IntegerField(source="secret_id")
    project = serializers.CharField(source="project.slug")
    environment = serializers.CharField(source="environment.slug")
    path = serializers.CharField()
    key = serializers.CharField()
    version = serializers.IntegerField()
    score = serializers.IntegerField()
    flags = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    changedAt = serializers.DateTimeField(source="changed_at")
    lastRotatedAt = serializers.DateTimeField(source="last_rotated_at", allow_null=True)
    rotationDueAt = serializers.DateTimeField(source="rotation_due_at", allow_null=True)
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    lastDeliveredAt = serializers.DateTimeField(source="last_delivered_at", allow_null=True)
    lastDeliveredTo = serializers.CharField(source="last_delivered_to")
    consumers = serializers.IntegerField()
    owner = serializers.CharField(source="owner_label")
    lastRevealedAt = serializers.DateTimeField(source="last_revealed_at", allow_null=True)
    lastRevealedBy = serializers.CharField(source="last_revealed_by")
    sameValueIn = serializers.ListField(source="same_value_in", child=serializers.CharField())
    quarantinedAt = serializers.DateTimeField(source="quarantined_at", allow_null=True)
    computedAt = serializers.DateTimeField(source="computed_at")

    def get_flags(self, row: Any) -> list[str]:
        return [name for name in FLAG_NAMES if getattr(row, name)]


class GovernanceDeliverySerializer(serializers.Serializer):
    consumerKind = serializers.CharField(source="consumer_kind")
    consumer = serializers.CharField(source="consumer_label")
    identityId = serializers.UUIDField(source="identity_public_id", allow_null=True)
    firstDeliveredAt = serializers.DateTimeField(source="first_delivered_at")
    lastDeliveredAt = serializers.DateTimeField(source="last_delivered_at")
    deliveries = serializers.IntegerField()
    lastSourceIp = serializers.CharField(source="last_source_ip")
    lastUserAgent = serializers.CharField(source="last_user_agent")
    lastPipeline = serializers.CharField(source="last_pipeline")


class GovernanceSecretConsumersSerializer(serializers.Serializer):
    secretId = serializers.IntegerField(source="secret.pk")
    key = serializers.CharField(source="secret.key")
    environment = serializers.CharField(source="secret.environment.slug")
    path = serializers.CharField(source="secret.folder.path")
    risk = GovernanceRiskSerializer(allow_null=True)
    deliveredTo = GovernanceDeliverySerializer(source="deliveries", many=True)


class GovernanceConsumersQuery(serializers.Serializer):
    format = serializers.ChoiceField(choices=["json", "csv"], required=False)


class GovernanceTopConsumersQuery(serializers.Serializer):
    days = serializers.IntegerField(required=False, min_value=1, max_value=365, default=30)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=10)
    format = serializers.ChoiceField(choices=["json", "csv"], required=False)
