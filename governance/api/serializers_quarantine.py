"""Shapes of the quarantine, leak-flag and governance-policy API (names, dates and counts; never a value)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from governance.models import LeakFlag, Quarantine, QuarantineStatus
from governance.services.policy import POLICY_FIELDS
from secrets_app.api.fields import QueryBoolean, StrictSerializer


def _person(user: Any) -> str | None:
    return user.get_username() if user is not None else None


class QuarantineCandidateSerializer(serializers.Serializer):
    secretId = serializers.IntegerField(source="id")
    environment = serializers.CharField()
    path = serializers.CharField()
    key = serializers.CharField()
    createdAt = serializers.DateTimeField(source="created_at")
    lastDeliveredAt = serializers.DateTimeField(source="last_delivered_at", allow_null=True)
    idleDays = serializers.IntegerField(source="idle_days", help_text="Days since the last delivery (or creation)")


class QuarantineCandidatesSerializer(serializers.Serializer):
    quarantineAfterDays = serializers.IntegerField(
        allow_null=True, help_text="The policy's threshold; null: this project offers no quarantine candidates"
    )
    candidates = QuarantineCandidateSerializer(many=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {
            "quarantineAfterDays": instance.policy.quarantine_after_days,
            "candidates": [QuarantineCandidateSerializer(item).data for item in instance.secrets],
        }


class QuarantineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    secretId = serializers.IntegerField(source="secret_id")
    environment = serializers.CharField(source="secret.environment.slug")
    path = serializers.CharField(source="secret.folder.path")
    key = serializers.CharField(source="secret.key")
    status = serializers.ChoiceField(choices=QuarantineStatus.values)
    reason = serializers.CharField()
    startedAt = serializers.DateTimeField(source="started_at")
    startedBy = serializers.SerializerMethodField()
    endedAt = serializers.DateTimeField(source="ended_at", allow_null=True)
    endedBy = serializers.SerializerMethodField()
    refusedReads = serializers.IntegerField(source="refused_reads", help_text="Reads of the value refused (423)")
    lastRefusedAt = serializers.DateTimeField(source="last_refused_at", allow_null=True)
    lastRefusedTo = serializers.CharField(source="last_refused_to", help_text="Who was refused last")
    deletionProposedAt = serializers.DateTimeField(
        source="deletion_proposed_at", allow_null=True, help_text="Set by beat after the policy's quiet days"
    )

    def get_startedBy(self, obj: Quarantine) -> str | None:  # noqa: N802
        return _person(obj.started_by)

    def get_endedBy(self, obj: Quarantine) -> str | None:  # noqa: N802
        return _person(obj.ended_by)


class QuarantineListSerializer(serializers.Serializer):
    quarantines = QuarantineSerializer(many=True)


class QuarantineStatusQuery(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[*QuarantineStatus.values, "all"], required=False, default=QuarantineStatus.ACTIVE
    )


class QuarantineRequest(StrictSerializer):
    secrets = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=200, help_text="Secret ids (secretId)"
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=500, help_text="Default: how long it was not delivered"
    )


class QuarantineActionRequest(StrictSerializer):
    """No fields: the secret is in the path (an empty body, or none, is fine)."""


class LeakFlagSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    secretId = serializers.IntegerField(source="secret_id")
    environment = serializers.CharField(source="secret.environment.slug")
    path = serializers.CharField(source="secret.folder.path")
    key = serializers.CharField(source="secret.key")
    reason = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]
    flaggedAt = serializers.DateTimeField(source="flagged_at")
    flaggedBy = serializers.SerializerMethodField()
    flaggedVersion = serializers.IntegerField(source="flagged_version")
    active = serializers.BooleanField(help_text="Not cleared, and the value is still the flagged version")
    clearedAt = serializers.DateTimeField(source="cleared_at", allow_null=True)
    clearedBy = serializers.SerializerMethodField()
    clearedReason = serializers.CharField(source="cleared_reason")

    def get_flaggedBy(self, obj: LeakFlag) -> str | None:  # noqa: N802
        return _person(obj.flagged_by)

    def get_clearedBy(self, obj: LeakFlag) -> str | None:  # noqa: N802
        return _person(obj.cleared_by)


class LeakFlagListSerializer(serializers.Serializer):
    flags = LeakFlagSerializer(many=True)


class LeakFlagListQuery(serializers.Serializer):
    all = QueryBoolean(default=False, help_text="true: also cleared and ended flags")


class LeakFlagRequest(StrictSerializer):
    secret = serializers.IntegerField(min_value=1, help_text="Secret id (secretId)")
    reason = serializers.CharField(allow_blank=True, max_length=500, help_text="Required: where or how it leaked")


class LeakClearRequest(StrictSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class GovernancePolicySerializer(serializers.Serializer):
    staleAfterDays = serializers.IntegerField(source="stale_after_days")
    maxConsumers = serializers.IntegerField(source="max_consumers")
    expiringWithinDays = serializers.IntegerField(source="expiring_within_days")
    revealedWithinDays = serializers.IntegerField(source="revealed_within_days")
    quarantineAfterDays = serializers.IntegerField(source="quarantine_after_days", allow_null=True)
    deleteAfterQuarantineDays = serializers.IntegerField(source="delete_after_quarantine_days")


POLICY_NAMES = {
    "staleAfterDays": "stale_after_days",
    "maxConsumers": "max_consumers",
    "expiringWithinDays": "expiring_within_days",
    "revealedWithinDays": "revealed_within_days",
    "quarantineAfterDays": "quarantine_after_days",
    "deleteAfterQuarantineDays": "delete_after_quarantine_days",
}


def _bounded(name: str) -> serializers.IntegerField:
    low, high, nullable = POLICY_FIELDS[POLICY_NAMES[name]]
    return serializers.IntegerField(required=False, min_value=low, max_value=high, allow_null=nullable)


class GovernancePolicyRequest(StrictSerializer):
    staleAfterDays = _bounded("staleAfterDays")
    maxConsumers = _bounded("maxConsumers")
    expiringWithinDays = _bounded("expiringWithinDays")
    revealedWithinDays = _bounded("revealedWithinDays")
    quarantineAfterDays = _bounded("quarantineAfterDays")
    deleteAfterQuarantineDays = _bounded("deleteAfterQuarantineDays")
