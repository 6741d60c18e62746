"""E-mail invitations into an organization (never their link: it exists only in the e-mail)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from secrets_app.api.fields import StrictSerializer
from secrets_app.models import Invitation, OrgRole
from secrets_app.services.invitations import invitation_state


class InvitationSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    email = serializers.EmailField()
    role = serializers.CharField(help_text="Organization role given on acceptance: admin or member")
    status = serializers.SerializerMethodField(help_text="pending, expired, accepted or revoked")
    invitedBy = serializers.EmailField(source="invited_by.email", allow_null=True, default=None)
    createdAt = serializers.DateTimeField(source="created_at")
    expiresAt = serializers.DateTimeField(source="expires_at", help_text="The link stops working at this time")
    sentAt = serializers.DateTimeField(source="sent_at", allow_null=True, help_text="When the last e-mail went out")
    sendError = serializers.CharField(
        source="send_error", help_text="Why the last e-mail could not be sent (empty when it was sent)"
    )

    def get_status(self, invitation: Invitation) -> str:
        return invitation_state(invitation)


class InvitationListSerializer(serializers.Serializer):
    invitations = InvitationSerializer(many=True)


class InvitationCreateRequest(StrictSerializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=OrgRole.values, default=OrgRole.MEMBER)


class InvitationResendRequest(StrictSerializer):
    """No fields: the invitation is in the path (an empty body, or none, is fine)."""

    def to_internal_value(self, data: Any) -> Any:
        return super().to_internal_value(data or {})
