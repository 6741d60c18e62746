"""Rotation policies of ordinary secrets and the project's list of secrets due for rotation."""

from __future__ import annotations

from rest_framework import serializers

from secrets_app.api.fields import StrictSerializer


class RotationPolicyRequest(StrictSerializer):
    intervalDays = serializers.IntegerField(
        min_value=1, max_value=3650, allow_null=True, help_text="Rotate every N days; null: no schedule"
    )
    ownerId = serializers.IntegerField(
        allow_null=True, required=False, default=None, help_text="User id of a person of the organization"
    )


class RotationPolicySerializer(serializers.Serializer):
    key = serializers.CharField()
    environment = serializers.CharField(source="environment.slug")
    path = serializers.CharField(source="folder.path")
    intervalDays = serializers.IntegerField(source="rotation_interval_days", allow_null=True)
    ownerId = serializers.IntegerField(source="rotation_owner_id", allow_null=True)
    markedDueAt = serializers.DateTimeField(source="rotation_due_at", allow_null=True)


class DueSecretSerializer(serializers.Serializer):
    key = serializers.CharField()
    environment = serializers.CharField()
    path = serializers.CharField()
    intervalDays = serializers.IntegerField(source="interval_days", allow_null=True)
    owner = serializers.CharField(help_text="Username of the rotation owner; empty when none")
    ownerId = serializers.IntegerField(source="owner_id", allow_null=True)
    lastChangedAt = serializers.DateTimeField(source="last_changed_at", allow_null=True)
    markedDueAt = serializers.DateTimeField(source="marked_at", allow_null=True)
    dueAt = serializers.DateTimeField(source="due_at")
    status = serializers.ChoiceField(choices=["overdue", "due_soon"])


class SecretsDueSerializer(serializers.Serializer):
    secrets = DueSecretSerializer(many=True)
