"""Approval policies and change requests over REST. Thin: parse, call one service or selector,
serialize. Policies are for people; machine identities may list and read the change requests
they opened (a pipeline polling its own request) but reviewing and merging is for people."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from approvals.api.serializers import (
    ChangeRequestCloseRequest,
    ChangeRequestCommentRequest,
    ChangeRequestEmptyRequest,
    ChangeRequestListQuery,
    ChangeRequestListSerializer,
    ChangeRequestMergeRequest,
    ChangeRequestReviseRequest,
    ChangeRequestSerializer,
    ChangeReviewRequest,
    EffectivePolicySerializer,
    PolicyCreateRequest,
    PolicyDeletedSerializer,
    PolicyEffectiveQuery,
    PolicyListSerializer,
    PolicySerializer,
    PolicyUpdateRequest,
)
from approvals.models import ApprovalPolicy, ChangeRequest
from approvals.notify import review_url
from approvals.selectors.change_requests import change_request_diff, change_request_get_for, change_request_list_for
from approvals.selectors.policies import policy_for
from approvals.services.change_requests import (
    RevisedItem,
    change_request_close,
    change_request_comment,
    change_request_merge,
    change_request_rebase,
    change_request_reopen,
    change_request_review,
    change_request_revise,
)
from approvals.services.policies import (
    MemberRef,
    approval_policy_create,
    approval_policy_delete,
    approval_policy_update,
)
from approvals.shapes import change_request_shape, policy_shape
from secrets_app.api.authentication import IsPerson
from secrets_app.api.base import ApiView
from secrets_app.api.schema import PROJECT, errors
from secrets_app.errors import NotFound
from secrets_app.models import Environment
from secrets_app.paths import canonical_path
from secrets_app.selectors.access import ProjectScope

POLICY_TAGS = ["approval policies"]
REQUEST_TAGS = ["change requests"]
POLICY_ID = OpenApiParameter("policy", OpenApiTypes.UUID, OpenApiParameter.PATH)
REQUEST_ID = OpenApiParameter(
    "request_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="Change request id (UUID) or slug"
)


def _policy(scope: ProjectScope, ref: str) -> ApprovalPolicy:
    try:
        found = ApprovalPolicy.objects.filter(project=scope.project, public_id=uuid.UUID(str(ref))).first()
    except ValueError:
        found = None
    if found is None:
        raise NotFound("Approval policy not found")
    return found


def _refs(entries: list[dict[str, str]]) -> list[MemberRef]:
    return [MemberRef(kind=entry["type"], ref=entry["id"]) for entry in entries]


# --- policies ---------------------------------------------------------------------------------
class _PersonApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]


class PolicyListApi(_PersonApi):
    @extend_schema(
        operation_id="approval_policies_list",
        tags=POLICY_TAGS,
        parameters=[PROJECT],
        responses={200: PolicyListSerializer, **errors(404)},
        description="Every member of the project may see its approval policies.",
    )
    def get(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        policies = ApprovalPolicy.objects.filter(project=scope.project).order_by("name")
        return Response({"policies": [policy_shape(policy) for policy in policies]})

    @extend_schema(
        operation_id="approval_policies_create",
        tags=POLICY_TAGS,
        parameters=[PROJECT],
        request=PolicyCreateRequest,
        responses={201: PolicySerializer, **errors(400, 403, 404)},
        description="Project admins. A second policy for the same environment and path is a 400 naming `path`.",
    )
    def post(self, request: Request, project: str) -> Response:
        data = self.parse(PolicyCreateRequest, request.data)
        policy = approval_policy_create(
            scope=self.scope(project),
            name=data["name"],
            environments=data["environments"],
            path=data["path"],
            approvers=_refs(data["approvers"]),
            bypassers=_refs(data["bypassers"]),
            approvals_required=data["approvalsRequired"],
            enforcement=data["enforcement"],
            allow_self_approval=data["allowSelfApproval"],
            applies_to_identities=data["appliesToIdentities"],
            governs_changes=data["governsChanges"],
            governs_access=data["governsAccess"],
            request_ttl_hours=data["requestTtlHours"],
            max_access_hours=data["maxAccessHours"],
        )
        return Response(policy_shape(policy), status=status.HTTP_201_CREATED)


class PolicyEffectiveApi(_PersonApi):
    @extend_schema(
        operation_id="approval_policies_effective",
        tags=POLICY_TAGS,
        parameters=[PROJECT, PolicyEffectiveQuery],
        responses={200: EffectivePolicySerializer, **errors(404)},
        description="The policy that would govern a folder (exact path > glob > environment-wide), or null.",
    )
    def get(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        query = self.query(PolicyEffectiveQuery, request)
        environment = Environment.objects.filter(project=scope.project, slug=query["environment"]).first()
        if environment is None:
            raise NotFound(f"Environment '{query['environment']}' not found", fields={"environment": ["not found"]})
        policy = policy_for(
            project_id=scope.project.pk,
            environment_id=environment.pk,
            paths=[canonical_path(query["path"])],
            governs=query["governs"],
        )
        return Response({"policy": policy_shape(policy) if policy is not None else None})


class PolicyDetailApi(_PersonApi):
    @extend_schema(
        operation_id="approval_policies_retrieve",
        tags=POLICY_TAGS,
        parameters=[PROJECT, POLICY_ID],
        responses={200: PolicySerializer, **errors(404)},
    )
    def get(self, request: Request, project: str, policy: str) -> Response:
        return Response(policy_shape(_policy(self.scope(project), policy)))

    @extend_schema(
        operation_id="approval_policies_update",
        tags=POLICY_TAGS,
        parameters=[PROJECT, POLICY_ID],
        request=PolicyUpdateRequest,
        responses={200: PolicySerializer, **errors(400, 403, 404)},
        description="Project admins. Only the fields given change; `approvers`/`bypassers`/`environments` are replaced whole.",
    )
    def patch(self, request: Request, project: str, policy: str) -> Response:
        data = self.parse(PolicyUpdateRequest, request.data)
        scope = self.scope(project)
        updated = approval_policy_update(
            scope=scope,
            policy=_policy(scope, policy),
            name=data.get("name"),
            environments=data.get("environments"),
            path=data.get("path"),
            approvers=_refs(data["approvers"]) if "approvers" in data else None,
            bypassers=_refs(data["bypassers"]) if "bypassers" in data else None,
            approvals_required=data.get("approvalsRequired"),
            enforcement=data.get("enforcement"),
            allow_self_approval=data.get("allowSelfApproval"),
            applies_to_identities=data.get("appliesToIdentities"),
            governs_changes=data.get("governsChanges"),
            governs_access=data.get("governsAccess"),
            request_ttl_hours=data.get("requestTtlHours"),
            max_access_hours=data.get("maxAccessHours"),
        )
        return Response(policy_shape(updated))

    @extend_schema(
        operation_id="approval_policies_delete",
        tags=POLICY_TAGS,
        parameters=[PROJECT, POLICY_ID],
        responses={200: PolicyDeletedSerializer, **errors(403, 404)},
        description="Project admins. The policy's open change requests are closed (reason `policy deleted`).",
    )
    def delete(self, request: Request, project: str, policy: str) -> Response:
        scope = self.scope(project)
        closed = approval_policy_delete(scope=scope, policy=_policy(scope, policy))
        return Response({"closedRequests": closed})


# --- change requests --------------------------------------------------------------------------
def _shape(request: ChangeRequest, scope: ProjectScope) -> dict[str, object]:
    return change_request_shape(request, url=review_url(request), items=change_request_diff(request, scope))


class ChangeRequestListApi(ApiView):
    @extend_schema(
        operation_id="change_requests_list",
        tags=REQUEST_TAGS,
        parameters=[PROJECT, ChangeRequestListQuery],
        responses={200: ChangeRequestListSerializer, **errors(404)},
        description="Requests you may see (newest first). Machine identities see the ones they opened.",
    )
    def get(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        query = self.query(ChangeRequestListQuery, request)
        found = change_request_list_for(scope, status=query.get("status"), limit=query["limit"], offset=query["offset"])
        return Response({"changeRequests": [_shape(item, scope) for item in found]})


class ChangeRequestDetailApi(ApiView):
    @extend_schema(
        operation_id="change_requests_retrieve",
        tags=REQUEST_TAGS,
        parameters=[PROJECT, REQUEST_ID],
        responses={200: ChangeRequestSerializer, **errors(404)},
        description="Items with base and current versions and conflicts, reviews, comments. Never values.",
    )
    def get(self, request: Request, project: str, request_id: str) -> Response:
        scope = self.scope(project)
        return Response(_shape(change_request_get_for(scope, request_id), scope))


class _ActionApi(ApiView):
    def _target(self, project: str, request_id: str) -> tuple[ProjectScope, ChangeRequest]:
        scope = self.scope(project)
        return scope, change_request_get_for(scope, request_id)

    def _answer(self, scope: ProjectScope, found: ChangeRequest) -> Response:
        found.refresh_from_db()
        return Response(_shape(found, scope))


def _action_schema(operation: str, request_body: Any, description: str, codes: tuple[int, ...]) -> Any:
    return extend_schema(
        operation_id=f"change_requests_{operation}",
        tags=REQUEST_TAGS,
        parameters=[PROJECT, REQUEST_ID],
        request=request_body,
        responses={200: ChangeRequestSerializer, **errors(*codes)},
        description=description,
    )


class ChangeRequestReviewApi(_ActionApi):
    permission_classes = [IsAuthenticated, IsPerson]

    @_action_schema(
        "review",
        ChangeReviewRequest,
        "Approve or reject the current revision (policy approvers; not your own request unless the policy allows it).",
        (400, 403, 404, 409),
    )
    def post(self, request: Request, project: str, request_id: str) -> Response:
        data = self.parse(ChangeReviewRequest, request.data)
        scope, found = self._target(project, request_id)
        change_request_review(request=found, reviewer=scope, status=data["status"], comment=data["comment"])
        return self._answer(scope, found)


class ChangeRequestMergeApi(_ActionApi):
    permission_classes = [IsAuthenticated, IsPerson]

    @_action_schema(
        "merge",
        ChangeRequestMergeRequest,
        "Apply the change (committer, approver or project admin) once approved. 409 `merge_conflict` names keys "
        "changed since (rebase or close); 409 `approval_required` without quorum. `bypassReason`: break-glass "
        "under a soft policy, bypassers only.",
        (400, 403, 404, 409, 412),
    )
    def post(self, request: Request, project: str, request_id: str) -> Response:
        data = self.parse(ChangeRequestMergeRequest, request.data)
        scope, found = self._target(project, request_id)
        change_request_merge(request=found, by=scope, bypass_reason=data["bypassReason"] or None)
        return self._answer(scope, found)


class ChangeRequestCloseApi(_ActionApi):
    @_action_schema(
        "close", ChangeRequestCloseRequest, "Close without applying (committer, approver or admin).", (403, 404, 409)
    )
    def post(self, request: Request, project: str, request_id: str) -> Response:
        data = self.parse(ChangeRequestCloseRequest, request.data)
        scope, found = self._target(project, request_id)
        change_request_close(request=found, by=scope, reason=data["reason"])
        return self._answer(scope, found)


class ChangeRequestReopenApi(_ActionApi):
    @_action_schema(
        "reopen", ChangeRequestEmptyRequest, "Reopen a closed request: fresh expiry, reviews reset.", (403, 404, 409)
    )
    def post(self, request: Request, project: str, request_id: str) -> Response:
        self.parse(ChangeRequestEmptyRequest, request.data or {})
        scope, found = self._target(project, request_id)
        change_request_reopen(request=found, by=scope)
        return self._answer(scope, found)


class ChangeRequestRebaseApi(_ActionApi):
    @_action_schema(
        "rebase",
        ChangeRequestEmptyRequest,
        "Pin the request to the secrets as they are now (after a conflict): new revision, reviews reset.",
        (400, 403, 404, 409),
    )
    def post(self, request: Request, project: str, request_id: str) -> Response:
        self.parse(ChangeRequestEmptyRequest, request.data or {})
        scope, found = self._target(project, request_id)
        change_request_rebase(request=found, by=scope)
        return self._answer(scope, found)


class ChangeRequestReviseApi(_ActionApi):
    @_action_schema(
        "revise",
        ChangeRequestReviseRequest,
        "The committer proposes new values for keys of the request, or withdraws keys: new revision, reviews reset.",
        (400, 403, 404, 409),
    )
    def post(self, request: Request, project: str, request_id: str) -> Response:
        data = self.parse(ChangeRequestReviseRequest, request.data)
        scope, found = self._target(project, request_id)
        change_request_revise(
            request=found,
            by=scope,
            changes=[
                RevisedItem(
                    key=entry["key"],
                    value=entry.get("value"),
                    comment=entry.get("comment"),
                    withdraw=entry["withdraw"],
                )
                for entry in data["changes"]
            ],
        )
        return self._answer(scope, found)


class ChangeRequestCommentApi(_ActionApi):
    permission_classes = [IsAuthenticated, IsPerson]

    @_action_schema(
        "comment", ChangeRequestCommentRequest, "Add a comment (anyone who can see the request).", (400, 403, 404)
    )
    def post(self, request: Request, project: str, request_id: str) -> Response:
        data = self.parse(ChangeRequestCommentRequest, request.data)
        scope, found = self._target(project, request_id)
        change_request_comment(request=found, by=scope, body=data["body"])
        return self._answer(scope, found)
