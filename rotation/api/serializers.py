"""Request and response shapes of the rotation API (camelCase, as the rest of the API)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from rotation.kinds.registry import KINDS
from rotation.models import Rotation, RotationMode
from secrets_app.api.fields import StrictSerializer
from secrets_app.plugins import kinds_described


class RotateAtUtcSerializer(StrictSerializer):
    hours = serializers.IntegerField(min_value=0, max_value=23, default=0)
    minutes = serializers.IntegerField(min_value=0, max_value=59, default=0)


class PendingResetSerializer(serializers.Serializer):
    userIndex = serializers.IntegerField(source="reset_user_index")  # noqa: N815
    username = serializers.CharField(source="reset_username")
    keyId = serializers.CharField(source="reset_key_id", help_text="Issued kinds: the key to delete; else empty")  # noqa: N815
    dueAt = serializers.DateTimeField(source="reset_due_at")  # noqa: N815
    failures = serializers.IntegerField(source="reset_failures", help_text="Failed attempts so far (retried)")


class RotationListQuery(StrictSerializer):
    environment = serializers.CharField(max_length=64, required=False)
    path = serializers.CharField(max_length=1024, required=False)


class RotationCreateRequest(StrictSerializer):
    environment = serializers.CharField(max_length=64)
    path = serializers.CharField(max_length=1024, default="/")
    name = serializers.CharField(max_length=64)
    description = serializers.CharField(max_length=256, required=False, allow_blank=True, default="")
    kind = serializers.CharField(max_length=32, help_text=kinds_described("One of: ", lambda: ", ".join(KINDS.modules)))
    config = serializers.DictField(
        help_text="The kind's settings (its `config.*` fields in the operation's description)"
    )
    credentials = serializers.DictField(
        child=serializers.CharField(trim_whitespace=False),
        write_only=True,
        help_text="The kind's root credentials (its `credentials.*` fields in the operation's description). "
        "Encrypted, never returned",
    )
    mode = serializers.ChoiceField(
        choices=RotationMode.values,
        default=RotationMode.ALTERNATE,
        help_text="alternate (two users take turns) or single (SQL kinds only: brief downtime). aws_iam_access_key "
        "and azure_client_secret always alternate two keys of one user or application",
    )
    usernames = serializers.ListField(
        child=serializers.CharField(max_length=64),
        min_length=1,
        max_length=2,
        help_text="Per kind: see the operation's description (SQL kinds: two pre-existing users, one in single mode)",
    )
    secretsMapping = serializers.DictField(  # noqa: N815
        child=serializers.CharField(max_length=255),
        help_text="Owned secret key per mapping field of the kind (see the operation's description), e.g. "
        '{"username": "DB_USERNAME", "password": "DB_PASSWORD"}',
    )
    intervalDays = serializers.IntegerField(required=False, allow_null=True, default=30)  # noqa: N815
    rotateAtUtc = RotateAtUtcSerializer(required=False)  # noqa: N815
    cron = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")


class RotationUpdateRequest(StrictSerializer):
    description = serializers.CharField(max_length=256, required=False, allow_blank=True)
    credentials = serializers.DictField(
        child=serializers.CharField(trim_whitespace=False), required=False, write_only=True
    )
    intervalDays = serializers.IntegerField(required=False)  # noqa: N815
    rotateAtUtc = RotateAtUtcSerializer(required=False)  # noqa: N815
    cron = serializers.CharField(max_length=120, required=False, allow_blank=True)


class RotationSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.CharField()
    environment = serializers.CharField(source="environment.slug")
    path = serializers.CharField(source="folder.path")
    config = serializers.DictField()
    mode = serializers.CharField()
    usernames = serializers.ListField(child=serializers.CharField())
    activeIndex = serializers.IntegerField(source="active_index", allow_null=True)  # noqa: N815
    issuedKeys = serializers.DictField(  # noqa: N815
        source="issued_keys",
        child=serializers.CharField(),
        help_text="Kinds whose target issues the credential: the ids (not secrets) of the active and previous key",
    )
    secretsMapping = serializers.DictField(source="secrets_mapping", child=serializers.CharField())  # noqa: N815
    intervalDays = serializers.IntegerField(source="interval_days", allow_null=True)  # noqa: N815
    rotateAtUtc = serializers.SerializerMethodField()  # noqa: N815
    cron = serializers.CharField()
    paused = serializers.BooleanField()
    status = serializers.CharField()
    nextRunAt = serializers.DateTimeField(source="next_run_at", allow_null=True)  # noqa: N815
    lastRotatedAt = serializers.DateTimeField(source="last_rotated_at", allow_null=True)  # noqa: N815
    lastAttemptedAt = serializers.DateTimeField(source="last_attempted_at", allow_null=True)  # noqa: N815
    lastError = serializers.CharField(source="last_error")  # noqa: N815
    revealRequestedAt = serializers.DateTimeField(  # noqa: N815
        source="reveal_requested_at",
        allow_null=True,
        help_text="A person revealed an owned value where reveals schedule rotations; the next run is a reveal run",
    )
    pendingReset = serializers.SerializerMethodField(  # noqa: N815
        help_text="After a reveal-triggered run: the previously active user (or key) reset when the grace period ends"
    )
    createdAt = serializers.DateTimeField(source="created_at")  # noqa: N815

    def get_rotateAtUtc(self, rotation: object) -> dict[str, int]:  # noqa: N802
        return {"hours": getattr(rotation, "rotate_at_hour", 0), "minutes": getattr(rotation, "rotate_at_minute", 0)}

    @extend_schema_field(PendingResetSerializer(allow_null=True))
    def get_pendingReset(self, rotation: Rotation) -> dict[str, object] | None:  # noqa: N802
        if rotation.reset_due_at is None:
            return None
        return PendingResetSerializer(rotation).data


class RotationListSerializer(serializers.Serializer):
    rotations = RotationSerializer(many=True)


class RotationAttemptSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    trigger = serializers.CharField()
    outcome = serializers.CharField()
    userIndex = serializers.IntegerField(source="user_index", allow_null=True)  # noqa: N815
    username = serializers.CharField()
    rolledForward = serializers.BooleanField(source="rolled_forward")  # noqa: N815
    error = serializers.CharField()
    startedAt = serializers.DateTimeField(source="started_at")  # noqa: N815
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)  # noqa: N815


class RotationAttemptListSerializer(serializers.Serializer):
    attempts = RotationAttemptSerializer(many=True)


class RotationQueuedSerializer(serializers.Serializer):
    queued = serializers.BooleanField()
    rotation = RotationSerializer()


class EmptyRequest(StrictSerializer):
    pass
