"""Least-privilege proposals over the API: the project's identities with granted vs delivered and
a proposal each, one identity's, and applying one. Thin: parse, call, serialize."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from governance.api.views_dashboard import CSV, _CsvIsAParameter, csv_download, wants_csv
from governance.selectors.least_privilege import (
    MAX_DAYS,
    IdentityAccess,
    identity_access,
    least_privilege_proposals,
    proposal_rows_csv,
)
from governance.services.least_privilege import least_privilege_apply
from secrets_app.api.base import ApiView
from secrets_app.api.fields import StrictSerializer
from secrets_app.api.schema import PROJECT, errors
from secrets_app.policy import Rule

TAGS = ["governance"]
IDENTITY = OpenApiParameter("identity", str, OpenApiParameter.PATH, description="Machine identity id (UUID)")
DAYS = OpenApiParameter(
    "days", int, OpenApiParameter.QUERY, description=f"Window in days (default 30, at most {MAX_DAYS})"
)


class DaysQuery(serializers.Serializer):
    days = serializers.IntegerField(required=False, default=30, min_value=1, max_value=MAX_DAYS)


class ApplyRequest(StrictSerializer):
    days = serializers.IntegerField(required=False, default=30, min_value=1, max_value=MAX_DAYS)
    fingerprint = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="The proposal's fingerprint as you read it"
    )


class RuleSerializer(serializers.Serializer):
    effect = serializers.CharField()
    action = serializers.CharField()
    environments = serializers.ListField(child=serializers.CharField(), help_text="Empty: every environment")
    path = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField(), help_text="Empty: whatever the tags")
    description = serializers.CharField()


class DeliveredFolderSerializer(serializers.Serializer):
    environment = serializers.CharField()
    path = serializers.CharField()
    keys = serializers.ListField(child=serializers.CharField())
    deliveries = serializers.IntegerField()
    lastDeliveredAt = serializers.DateTimeField()


class WrittenFolderSerializer(serializers.Serializer):
    environment = serializers.CharField()
    path = serializers.CharField()
    actions = serializers.ListField(child=serializers.CharField(), help_text="secret.created, secret.updated, …")
    events = serializers.IntegerField()
    lastAt = serializers.DateTimeField()


class ProposalSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["narrow", "remove", "keep"])
    rules = RuleSerializer(many=True)
    reasons = serializers.ListField(child=serializers.CharField())
    fingerprint = serializers.CharField(help_text="Pass it to apply: a proposal changed since is refused (409)")


class IdentityRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class IdentityAccessSerializer(serializers.Serializer):
    identity = IdentityRefSerializer()
    role = serializers.CharField()
    days = serializers.IntegerField()
    granted = RuleSerializer(many=True, help_text="What its role grants")
    delivered = DeliveredFolderSerializer(many=True, help_text="Folders whose values were delivered to it")
    written = WrittenFolderSerializer(many=True, help_text="Folders it wrote to")
    proposal = ProposalSerializer()


class IdentityAccessListSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    identities = IdentityAccessSerializer(many=True)


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "effect": rule.effect,
        "action": rule.action,
        "environments": sorted(rule.environments),
        "path": rule.path,
        "tags": sorted(rule.tags),
        "description": rule.describe(),
    }


def access_data(access: IdentityAccess) -> dict[str, Any]:
    to_text = serializers.DateTimeField().to_representation
    return {
        "identity": {"id": str(access.identity.public_id), "name": access.identity.name},
        "role": access.role,
        "days": access.days,
        "granted": [_rule(rule) for rule in access.granted],
        "delivered": [
            {
                "environment": folder.environment,
                "path": folder.path,
                "keys": folder.keys,
                "deliveries": folder.deliveries,
                "lastDeliveredAt": to_text(folder.last_delivered_at),
            }
            for folder in access.delivered
        ],
        "written": [
            {
                "environment": folder.environment,
                "path": folder.path,
                "actions": folder.actions,
                "events": folder.events,
                "lastAt": to_text(folder.last_at),
            }
            for folder in access.written
        ],
        "proposal": {
            "kind": access.proposal.kind,
            "rules": [_rule(rule) for rule in access.proposal.rules],
            "reasons": access.proposal.reasons,
            "fingerprint": access.proposal.fingerprint,
        },
    }


@extend_schema(tags=TAGS, parameters=[PROJECT])
class LeastPrivilegeListApi(ApiView):
    content_negotiation_class = _CsvIsAParameter

    @extend_schema(
        operation_id="governance_least_privilege_list",
        parameters=[DAYS],
        responses={
            (200, "application/json"): IdentityAccessListSerializer,
            (200, "text/csv"): CSV,
            **errors(400, 403, 404),
        },
        description=(
            "Every machine identity of the project: what its role grants, what was delivered to it and "
            "what it wrote over `days`, and a narrower rule set (`narrow`), removal (`remove`: nothing "
            "delivered) or `keep`. Needs `governance.read`. `?format=csv` or `Accept: text/csv`: one row "
            "per identity."
        ),
    )
    def get(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        days = self.query(DaysQuery, request)["days"]
        accesses = least_privilege_proposals(scope, days=days)
        if wants_csv(request):
            filename = f"{scope.project.slug}-least-privilege-{days}d.csv"
            return csv_download(proposal_rows_csv(accesses), filename)  # type: ignore[return-value]
        return Response({"days": days, "identities": [access_data(access) for access in accesses]})


@extend_schema(tags=TAGS, parameters=[PROJECT, IDENTITY])
class LeastPrivilegeDetailApi(ApiView):
    @extend_schema(
        operation_id="governance_least_privilege_get",
        parameters=[DAYS],
        responses={200: IdentityAccessSerializer, **errors(400, 403, 404)},
        description="One identity's granted vs delivered and its proposal. Needs `governance.read`.",
    )
    def get(self, request: Request, project: str, identity: str) -> Response:
        scope = self.scope(project)
        days = self.query(DaysQuery, request)["days"]
        return Response(access_data(identity_access(scope, identity, days=days)))


@extend_schema(tags=TAGS, parameters=[PROJECT, IDENTITY])
class LeastPrivilegeApplyApi(ApiView):
    @extend_schema(
        operation_id="governance_least_privilege_apply",
        request=ApplyRequest,
        responses={200: IdentityAccessSerializer, **errors(400, 403, 404, 409)},
        description=(
            "Apply the identity's current proposal: its membership moves to the custom role "
            "`lp-<identity name>` holding exactly the proposed rules (or to `no-access`). Needs "
            "`members.manage` and `roles.manage`; never grants more than you hold. 409 when there is "
            "nothing to narrow or the proposal changed since `fingerprint`. Audited as "
            "`identity.least_privilege_applied`."
        ),
    )
    def post(self, request: Request, project: str, identity: str) -> Response:
        scope = self.scope(project)
        data = self.parse(ApplyRequest, request.data)
        after = least_privilege_apply(
            scope=scope, identity=identity, days=data["days"], fingerprint=data["fingerprint"] or None
        )
        return Response(access_data(after))
