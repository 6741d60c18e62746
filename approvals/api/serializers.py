"""Request and response bodies of the approvals API (policies, change requests). Responses are
the dicts of ``approvals.shapes``; these classes document them (OpenAPI) and parse requests."""

from __future__ import annotations

from rest_framework import serializers

from approvals.models import Enforcement, RequestStatus, ReviewStatus
from secrets_app.api.fields import StrictSerializer
from secrets_app.api.pagination import MAX_OFFSET


# --- policies ---------------------------------------------------------------------------------
class PolicyMemberRefSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=["user", "group"])
    id = serializers.CharField(help_text="user: e-mail or user id; group: slug or id (UUID)", max_length=255)


class PolicyMemberSerializer(serializers.Serializer):
    type = serializers.CharField()
    id = serializers.CharField()
    name = serializers.CharField()


class PolicySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    environments = serializers.ListField(child=serializers.CharField())
    path = serializers.CharField(help_text="Folder path or glob; `/**` is the whole environment")
    approvers = PolicyMemberSerializer(many=True)
    bypassers = PolicyMemberSerializer(many=True)
    approverCount = serializers.IntegerField(help_text="Distinct people among the approvers (groups expanded)")
    approvalsRequired = serializers.IntegerField()
    enforcement = serializers.ChoiceField(choices=Enforcement.values)
    allowSelfApproval = serializers.BooleanField()
    appliesToIdentities = serializers.BooleanField()
    governsChanges = serializers.BooleanField()
    governsAccess = serializers.BooleanField()
    requestTtlHours = serializers.IntegerField()
    maxAccessHours = serializers.IntegerField()
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()


class PolicyListSerializer(serializers.Serializer):
    policies = PolicySerializer(many=True)


class EffectivePolicySerializer(serializers.Serializer):
    policy = PolicySerializer(allow_null=True)


class PolicyEffectiveQuery(StrictSerializer):
    environment = serializers.CharField(max_length=64)
    path = serializers.CharField(max_length=512, required=False, default="/")
    governs = serializers.ChoiceField(choices=["changes", "access"], required=False, default="changes")


class PolicyCreateRequest(StrictSerializer):
    name = serializers.CharField(max_length=120)
    environments = serializers.ListField(child=serializers.CharField(max_length=64), min_length=1, max_length=50)
    path = serializers.CharField(max_length=512, required=False, default="/**")
    approvers = PolicyMemberRefSerializer(many=True)
    bypassers = PolicyMemberRefSerializer(many=True, required=False, default=list)
    approvalsRequired = serializers.IntegerField(required=False, default=1, min_value=0, max_value=100)
    enforcement = serializers.ChoiceField(choices=Enforcement.values, required=False, default=Enforcement.HARD)
    allowSelfApproval = serializers.BooleanField(required=False, default=False)
    appliesToIdentities = serializers.BooleanField(required=False, default=True)
    governsChanges = serializers.BooleanField(required=False, default=True)
    governsAccess = serializers.BooleanField(required=False, default=True)
    requestTtlHours = serializers.IntegerField(required=False, default=168, min_value=1, max_value=2160)
    maxAccessHours = serializers.IntegerField(required=False, default=8, min_value=1, max_value=720)


class PolicyUpdateRequest(StrictSerializer):
    name = serializers.CharField(max_length=120, required=False)
    environments = serializers.ListField(
        child=serializers.CharField(max_length=64), min_length=1, max_length=50, required=False
    )
    path = serializers.CharField(max_length=512, required=False)
    approvers = PolicyMemberRefSerializer(many=True, required=False)
    bypassers = PolicyMemberRefSerializer(many=True, required=False)
    approvalsRequired = serializers.IntegerField(required=False, min_value=0, max_value=100)
    enforcement = serializers.ChoiceField(choices=Enforcement.values, required=False)
    allowSelfApproval = serializers.BooleanField(required=False)
    appliesToIdentities = serializers.BooleanField(required=False)
    governsChanges = serializers.BooleanField(required=False)
    governsAccess = serializers.BooleanField(required=False)
    requestTtlHours = serializers.IntegerField(required=False, min_value=1, max_value=2160)
    maxAccessHours = serializers.IntegerField(required=False, min_value=1, max_value=720)


class PolicyDeletedSerializer(serializers.Serializer):
    closedRequests = serializers.IntegerField(help_text="Open change requests closed with the policy")


# --- change requests --------------------------------------------------------------------------
class ChangeRequestPolicySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    enforcement = serializers.CharField()
    approvalsRequired = serializers.IntegerField()
    allowSelfApproval = serializers.BooleanField()


class ChangeRequestCommitterSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["user", "identity"])
    id = serializers.CharField(allow_null=True)
    name = serializers.CharField()


class ChangeReviewSerializer(serializers.Serializer):
    reviewer = serializers.CharField()
    status = serializers.ChoiceField(choices=ReviewStatus.values)
    comment = serializers.CharField()
    revision = serializers.IntegerField()
    current = serializers.BooleanField(help_text="Given on the current revision (older ones do not count)")
    createdAt = serializers.DateTimeField()


class ChangeRequestCommentSerializer(serializers.Serializer):
    author = serializers.CharField(allow_null=True)
    body = serializers.CharField()
    createdAt = serializers.DateTimeField()


class ChangeRequestItemSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    op = serializers.CharField(help_text="create, update, delete, rollback_secret, rollback_folder, folder_delete")
    key = serializers.CharField()
    newKey = serializers.CharField(allow_null=True)
    baseVersion = serializers.IntegerField(allow_null=True, help_text="The version the change was based on")
    currentVersion = serializers.IntegerField(allow_null=True, help_text="The live version now")
    targetVersion = serializers.IntegerField(allow_null=True)
    commitId = serializers.IntegerField(allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(), allow_null=True)
    changesValue = serializers.BooleanField()
    changesComment = serializers.BooleanField()
    conflict = serializers.BooleanField()
    conflictReason = serializers.CharField(allow_null=True)
    oldValue = serializers.CharField(allow_null=True, help_text="Always null here (values are revealed in the UI)")
    newValue = serializers.CharField(allow_null=True, help_text="Always null here (values are revealed in the UI)")


class ChangeRequestConflictSerializer(serializers.Serializer):
    key = serializers.CharField()
    op = serializers.CharField()
    reason = serializers.CharField()


class ChangeRequestSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    slug = serializers.CharField()
    status = serializers.ChoiceField(choices=RequestStatus.values)
    project = serializers.CharField()
    environment = serializers.CharField()
    path = serializers.CharField()
    operation = serializers.CharField()
    policy = ChangeRequestPolicySerializer(allow_null=True)
    committer = ChangeRequestCommitterSerializer()
    revision = serializers.IntegerField()
    approvals = serializers.IntegerField()
    approvalsRequired = serializers.IntegerField()
    rejectedBy = serializers.ListField(child=serializers.CharField())
    mergeable = serializers.BooleanField()
    reviews = ChangeReviewSerializer(many=True)
    comments = ChangeRequestCommentSerializer(many=True)
    items = ChangeRequestItemSerializer(many=True)
    conflicts = ChangeRequestConflictSerializer(many=True)
    bypassed = serializers.BooleanField()
    settledReason = serializers.CharField(allow_null=True)
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()
    expiresAt = serializers.DateTimeField()
    settledAt = serializers.DateTimeField(allow_null=True)
    url = serializers.URLField(help_text="The review page")


class ChangeRequestListSerializer(serializers.Serializer):
    changeRequests = ChangeRequestSerializer(many=True)


class HeldWriteSerializer(serializers.Serializer):
    """What a write answers (202) when a change policy holds it."""

    status = serializers.ChoiceField(choices=["pending_approval"])
    changeRequest = ChangeRequestSerializer()


class ChangeRequestListQuery(StrictSerializer):
    status = serializers.ChoiceField(choices=RequestStatus.values, required=False)
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=200)
    offset = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_OFFSET)


class ChangeReviewRequest(StrictSerializer):
    status = serializers.ChoiceField(choices=ReviewStatus.values)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ChangeRequestMergeRequest(StrictSerializer):
    bypassReason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=1000,
        help_text="Break-glass under a soft policy: why (≥ 10 characters; kept in Strongroom only)",
    )


class ChangeRequestCloseRequest(StrictSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class ChangeRequestEmptyRequest(StrictSerializer):
    pass


class ChangeRequestRevisedItemRequest(StrictSerializer):
    key = serializers.CharField(max_length=255)
    value = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, allow_null=True)
    comment = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, allow_null=True)
    withdraw = serializers.BooleanField(required=False, default=False)


class ChangeRequestReviseRequest(StrictSerializer):
    changes = ChangeRequestRevisedItemRequest(many=True)


class ChangeRequestCommentRequest(StrictSerializer):
    body = serializers.CharField(max_length=5000)
