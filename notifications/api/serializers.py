"""Request and response bodies. Channel credentials appear only in requests (write-only): a
response says which secret fields are set (``{"bot_token": "set"}``), never their values."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from notifications.channels.registry import CHANNELS
from notifications.models import DeliveryStatus, NotificationChannel
from secrets_app.api.fields import StrictSerializer
from secrets_app.plugins import registered_kind_field


class RouteSerializer(serializers.Serializer):
    project = serializers.SerializerMethodField()
    events = serializers.ListField(child=serializers.CharField(), source="event_kinds")
    digest = serializers.BooleanField()

    def get_project(self, obj: Any) -> str | None:
        return obj.project.slug if obj.project_id else None


class ChannelSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    organization = serializers.CharField(source="organization.slug")
    kind = serializers.CharField()
    name = serializers.CharField()
    enabled = serializers.BooleanField()
    config = serializers.DictField(help_text="Non-secret settings (e.g. channel, addresses)")
    credentials = serializers.SerializerMethodField(
        help_text='Which secret fields hold a value: {"bot_token": "set"}. Values are never returned.'
    )
    routes = RouteSerializer(many=True, source="routes.all")
    createdBy = serializers.SerializerMethodField()  # noqa: N815
    createdAt = serializers.DateTimeField(source="created_at")  # noqa: N815
    lastTestedAt = serializers.DateTimeField(source="last_tested_at", allow_null=True)  # noqa: N815
    lastTestStatus = serializers.CharField(source="last_test_status")  # noqa: N815
    lastTestMessage = serializers.CharField(source="last_test_message")  # noqa: N815

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string", "enum": ["set", "unset"]}})
    def get_credentials(self, obj: NotificationChannel) -> dict[str, str]:
        try:
            declared = CHANNELS.get(obj.kind).secret_fields
        except Exception:
            return {}
        names = set(obj.credential_names or [])
        return {field.name: ("set" if field.name in names else "unset") for field in declared}

    def get_createdBy(self, obj: NotificationChannel) -> str:  # noqa: N802
        return obj.created_by.email if obj.created_by else ""


class ChannelListSerializer(serializers.Serializer):
    channels = ChannelSerializer(many=True)


class RouteRequest(StrictSerializer):
    project = serializers.CharField(
        required=False, allow_null=True, default=None, help_text="Project slug or id; null = every project"
    )
    events = serializers.ListField(
        child=serializers.CharField(max_length=120),
        min_length=1,
        max_length=50,
        help_text="Event kinds, prefix matching: approvals.*, approvals.change_request, syncs.failed, *",
    )
    digest = serializers.BooleanField(required=False, default=False, help_text="One message a day instead")


class ChannelCreateRequest(StrictSerializer):
    organization = serializers.CharField(
        required=False, allow_blank=True, help_text="Slug; needed if you administer several"
    )
    kind = registered_kind_field(CHANNELS)
    name = serializers.CharField(max_length=120)
    enabled = serializers.BooleanField(required=False, default=True)
    config = serializers.DictField(required=False, default=dict, help_text="Non-secret settings of the kind")
    credentials = serializers.DictField(
        child=serializers.CharField(trim_whitespace=False),
        required=False,
        default=dict,
        help_text="Secret fields of the kind (write-only, never returned)",
    )
    routes = RouteRequest(many=True, required=False, default=list)


class ChannelUpdateRequest(StrictSerializer):
    name = serializers.CharField(required=False, max_length=120)
    enabled = serializers.BooleanField(required=False)
    config = serializers.DictField(required=False, help_text="Replaces the non-secret settings")
    credentials = serializers.DictField(
        child=serializers.CharField(trim_whitespace=False),
        required=False,
        help_text="Secret fields to replace; a field left out keeps its stored value",
    )
    routes = RouteRequest(many=True, required=False, help_text="Replaces the routes as a whole")


class EmptyRequest(StrictSerializer):
    """No fields (an empty JSON object, or no body)."""


class ChannelTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()


class DeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    organization = serializers.CharField(source="notification.organization.slug")
    project = serializers.SerializerMethodField()
    eventKind = serializers.CharField(source="notification.event_kind")  # noqa: N815
    subjectRef = serializers.CharField(source="notification.subject_ref")  # noqa: N815
    title = serializers.CharField(source="notification.title")
    channel = serializers.SerializerMethodField()
    channelKind = serializers.SerializerMethodField()  # noqa: N815
    recipient = serializers.CharField(source="target_label", help_text="Channel name or e-mail address")
    action = serializers.CharField()
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    lastError = serializers.CharField(source="last_error")  # noqa: N815
    createdAt = serializers.DateTimeField(source="created_at")  # noqa: N815
    sentAt = serializers.DateTimeField(source="sent_at", allow_null=True)  # noqa: N815
    nextAttemptAt = serializers.DateTimeField(source="next_attempt_at", allow_null=True)  # noqa: N815

    def get_project(self, obj: Any) -> str | None:
        return obj.notification.project.slug if obj.notification.project_id else None

    def get_channel(self, obj: Any) -> str | None:
        return str(obj.channel.public_id) if obj.channel_id else None

    def get_channelKind(self, obj: Any) -> str:  # noqa: N802
        return obj.channel.kind if obj.channel_id else "email"


class DeliveryListSerializer(serializers.Serializer):
    deliveries = DeliverySerializer(many=True)


class DeliveryListQuery(StrictSerializer):
    status = serializers.ChoiceField(choices=DeliveryStatus.values, required=False)
    organization = serializers.CharField(required=False, help_text="Slug; default: every organization you administer")
    limit = serializers.IntegerField(required=False, default=100, min_value=1, max_value=500)
