"""Request and response bodies. Connection credentials appear only in requests (write-only):
no response ever carries them, not even masked."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from secrets_app.api.fields import QueryBoolean, StrictSerializer
from syncs.models import InitialBehavior
from syncs.providers.registry import PROVIDERS, destinations_summary, methods_summary


# --- connections ------------------------------------------------------------------------------
class ConnectionSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    organization = serializers.CharField(source="organization.slug")
    kind = serializers.CharField()
    method = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    config = serializers.DictField(help_text="Non-secret settings (e.g. organization_url, tenant_id)")
    createdBy = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    lastTestedAt = serializers.DateTimeField(source="last_tested_at", allow_null=True)
    lastTestStatus = serializers.CharField(source="last_test_status")
    lastTestMessage = serializers.CharField(source="last_test_message")

    def get_createdBy(self, obj: Any) -> str:  # noqa: N802
        return obj.created_by.email if obj.created_by else ""


class ConnectionListSerializer(serializers.Serializer):
    connections = ConnectionSerializer(many=True)


class _ConnectionFields:
    """Kinds, methods and their fields described from the providers' declarations (set per
    instance, so a kind registered later is documented and accepted too)."""

    fields: Any

    def describe_connection_fields(self) -> None:
        if "kind" in self.fields:
            self.fields["kind"].choices = list(PROVIDERS.modules)
        self.fields["method"].help_text = "Per kind: " + methods_summary()
        self.fields["credentials"].help_text = (
            self.fields["credentials"].help_text + ". Per kind/method: " + methods_summary(group="credentials")
        )
        self.fields["config"].help_text = (
            self.fields["config"].help_text + ". Per kind/method (? = optional): " + methods_summary(group="config")
        )


class ConnectionCreateRequest(_ConnectionFields, StrictSerializer):
    organization = serializers.CharField(
        required=False, allow_blank=True, help_text="Slug; needed if you manage several"
    )
    kind = serializers.ChoiceField(choices=[], help_text="The destination kind")
    method = serializers.CharField()
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    credentials = serializers.DictField(
        child=serializers.CharField(trim_whitespace=False),
        help_text="Secret fields of the method (write-only, never returned)",
    )
    config = serializers.DictField(required=False, default=dict, help_text="Non-secret settings of the method")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.describe_connection_fields()


class ConnectionUpdateRequest(_ConnectionFields, StrictSerializer):
    name = serializers.CharField(required=False, max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, max_length=500)
    method = serializers.CharField(required=False)
    credentials = serializers.DictField(
        child=serializers.CharField(trim_whitespace=False),
        required=False,
        help_text="Replaces the secret fields as a whole (write-only, never returned)",
    )
    config = serializers.DictField(required=False, help_text="Replaces the non-secret settings")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.describe_connection_fields()


class EmptyRequest(StrictSerializer):
    """No fields (an empty JSON object, or no body)."""


class ConnectionTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()


# --- syncs ------------------------------------------------------------------------------------
class SyncSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    environment = serializers.CharField(source="environment.slug")
    path = serializers.CharField()
    recursive = serializers.BooleanField()
    connection = serializers.UUIDField(source="connection.public_id")
    kind = serializers.CharField(source="connection.kind")
    destination = serializers.DictField()
    autoSync = serializers.BooleanField(source="auto_sync")
    initialBehavior = serializers.CharField(source="initial_behavior")
    keyNameTemplate = serializers.CharField(source="key_name_template")
    deleteOnSourceRemoval = serializers.BooleanField(source="delete_on_source_removal")
    owner = serializers.CharField(source="owner.email")
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    lastSuccessAt = serializers.DateTimeField(source="last_success_at", allow_null=True)
    lastError = serializers.CharField(source="last_error", help_text="Sanitised, ≤ 240 characters, never a secret")
    lastErrorAt = serializers.DateTimeField(source="last_error_at", allow_null=True)
    nextAttemptAt = serializers.DateTimeField(source="next_attempt_at", allow_null=True)
    createdContainer = serializers.BooleanField(
        source="created_container", help_text="This sync created the destination group (only then may it delete it)"
    )
    managedKeys = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")

    def get_managedKeys(self, obj: Any) -> int:  # noqa: N802
        return obj.managed_keys.count()


class SyncListSerializer(serializers.Serializer):
    syncs = SyncSerializer(many=True)


class SyncCreateRequest(StrictSerializer):
    name = serializers.CharField(max_length=120)
    environment = serializers.CharField()
    path = serializers.CharField(required=False, default="/")
    recursive = serializers.BooleanField(required=False, default=False)
    connection = serializers.UUIDField()
    destination = serializers.DictField(help_text="Where the sync writes, per destination kind")
    autoSync = serializers.BooleanField(required=False, default=True)
    initialBehavior = serializers.ChoiceField(
        choices=InitialBehavior.values, default=InitialBehavior.OVERWRITE_DESTINATION
    )
    confirmOverwrite = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Required with overwrite_destination: existing keys of the same name are taken over",
    )
    keyNameTemplate = serializers.CharField(required=False, default="{{secretKey}}", max_length=200)
    deleteOnSourceRemoval = serializers.BooleanField(required=False, default=True)
    options = serializers.DictField(required=False, default=dict, help_text="Destination-specific options")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # From the providers' declarations when the serializer is built (a kind registered later too).
        # Azure DevOps also takes organization_url? (must be the connection's) and description?.
        self.fields["destination"].help_text = "Per kind (? = optional): " + destinations_summary()
        self.fields["options"].help_text = "Per kind (? = optional): " + destinations_summary(options=True)


class SyncUpdateRequest(StrictSerializer):
    name = serializers.CharField(required=False, max_length=120)
    environment = serializers.CharField(required=False)
    path = serializers.CharField(required=False)
    recursive = serializers.BooleanField(required=False)
    autoSync = serializers.BooleanField(required=False)
    initialBehavior = serializers.ChoiceField(choices=InitialBehavior.values, required=False)
    confirmOverwrite = serializers.BooleanField(required=False, default=False)
    keyNameTemplate = serializers.CharField(required=False, max_length=200)
    deleteOnSourceRemoval = serializers.BooleanField(required=False)


class SyncTriggerRequest(StrictSerializer):
    overwrite = serializers.BooleanField(
        required=False, default=False, help_text="Rewrite every managed value, even those our records say are current"
    )


class SyncTriggerSerializer(serializers.Serializer):
    queued = serializers.BooleanField(help_text="False: a run was already queued or running; it includes this request")
    status = serializers.CharField()


class SyncRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    trigger = serializers.CharField()
    attempt = serializers.IntegerField()
    final = serializers.BooleanField()
    startedAt = serializers.DateTimeField(source="started_at")
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
    counts = serializers.DictField()
    warnings = serializers.ListField(child=serializers.DictField())
    error = serializers.CharField()
    retryAt = serializers.DateTimeField(source="retry_at", allow_null=True)


class SyncRunListSerializer(serializers.Serializer):
    runs = SyncRunSerializer(many=True)


class DriftEntrySerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    detail = serializers.CharField()
    adoptable = serializers.BooleanField()
    detectedAt = serializers.DateTimeField(source="detected_at")


class DriftSerializer(serializers.Serializer):
    checkedAt = serializers.DateTimeField(allow_null=True)
    items = DriftEntrySerializer(many=True)
    note = serializers.CharField()


class DriftAdoptRequest(StrictSerializer):
    name = serializers.CharField(help_text="The remote name whose destination value becomes a new Strongroom version")


class SyncDeleteQuery(StrictSerializer):
    removeManaged = QueryBoolean(
        required=False,
        default=False,
        help_text="Also delete the keys this sync manages at the destination (never others)",
    )


class SyncDeleteWarningSerializer(serializers.Serializer):
    name = serializers.CharField()
    message = serializers.CharField()


class SyncDeletedSerializer(serializers.Serializer):
    removed = serializers.ListField(child=serializers.CharField())
    left = serializers.ListField(child=serializers.CharField())
    warnings = SyncDeleteWarningSerializer(many=True, help_text="Managed keys deliberately left at the destination")
