"""Members, roles, the audit log, personal tokens and ``/me/``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from secrets_app.api.authentication import IsPerson
from secrets_app.api.base import ApiView
from secrets_app.api.pagination import page_of, page_window, paginated_response
from secrets_app.api.schema import ID, PROJECT, SLUG, errors
from secrets_app.api.serializers.access import (
    AuditEventQuery,
    AuditEventSerializer,
    MemberAddRequest,
    MemberListSerializer,
    MemberSerializer,
    MemberUpdateRequest,
    RoleCreateRequest,
    RoleListSerializer,
    RoleSerializer,
    RoleUpdateRequest,
    TokenCreatedSerializer,
    TokenCreateRequest,
    TokenListSerializer,
    TokenSerializer,
)
from secrets_app.api.serializers.projects import MeSerializer
from secrets_app.errors import ValidationFailed
from secrets_app.selectors.audit_reads import audit_event_search
from secrets_app.selectors.members import member_list, role_list
from secrets_app.selectors.organizations import organization_membership_list
from secrets_app.selectors.personal_tokens import personal_token_list
from secrets_app.services.members import member_add, member_remove, member_update, role_create, role_delete, role_update
from secrets_app.services.personal_tokens import personal_token_create, personal_token_revoke

MEMBER_TAGS = ["members"]


@extend_schema(tags=MEMBER_TAGS, parameters=[PROJECT])
class MemberListApi(ApiView):
    @extend_schema(operation_id="members_list", responses={200: MemberListSerializer, **errors(403, 404)})
    def get(self, request: Request, project: str) -> Response:
        return Response(MemberListSerializer({"members": member_list(self.scope(project))}).data)

    @extend_schema(
        operation_id="members_add",
        request=MemberAddRequest,
        responses={201: MemberSerializer, **errors(400, 403, 404, 409)},
        description="Add a person of the project's organization with a built-in (admin, member, viewer, "
        "no-access) or custom role. Only admins grant admin.",
    )
    def post(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        data = self.parse(MemberAddRequest, request.data)
        membership = member_add(scope=scope, email=data["email"], role=data["role"])
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    patch=extend_schema(
        operation_id="members_update",
        request=MemberUpdateRequest,
        responses={200: MemberSerializer, **errors(400, 403, 404)},
    ),
    delete=extend_schema(operation_id="members_remove", responses={204: None, **errors(403, 404, 409)}),
)
@extend_schema(tags=MEMBER_TAGS, parameters=[PROJECT, ID])
class MemberDetailApi(ApiView):
    def patch(self, request: Request, project: str, id: int) -> Response:  # noqa: A002 - the route's name
        scope = self.scope(project)
        data = self.parse(MemberUpdateRequest, request.data)
        return Response(MemberSerializer(member_update(scope=scope, membership_id=id, role=data["role"])).data)

    def delete(self, request: Request, project: str, id: int) -> Response:  # noqa: A002
        member_remove(scope=self.scope(project), membership_id=id)
        return Response(status=status.HTTP_204_NO_CONTENT)


ROLE_TAGS = ["roles"]


def _role_create(view: ApiView, request: Request, project: str, *, url_slug: str | None) -> Response:
    scope = view.scope(project)
    data = view.parse(RoleCreateRequest, request.data)
    slug = data.get("slug") or url_slug
    if url_slug is not None and slug != url_slug:
        raise ValidationFailed("slug", "differs from the slug in the URL")
    if not slug:
        raise ValidationFailed("slug", "is required")
    role = role_create(scope=scope, slug=slug, name=data["name"], description=data["description"], rules=data["rules"])
    return Response(RoleSerializer(role).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=ROLE_TAGS, parameters=[PROJECT])
class RoleListApi(ApiView):
    @extend_schema(
        operation_id="roles_list",
        responses={200: RoleListSerializer, **errors(403, 404)},
        description="Built-in roles with the rules they stand for, then the project's custom roles.",
    )
    def get(self, request: Request, project: str) -> Response:
        return Response(RoleListSerializer({"roles": role_list(self.scope(project))}).data)

    @extend_schema(
        operation_id="roles_create",
        request=RoleCreateRequest,
        responses={201: RoleSerializer, **errors(400, 403, 404, 409)},
    )
    def post(self, request: Request, project: str) -> Response:
        return _role_create(self, request, project, url_slug=None)


@extend_schema_view(
    post=extend_schema(
        operation_id="roles_create_at",
        parameters=[PROJECT, SLUG],
        request=RoleCreateRequest,
        responses={201: RoleSerializer, **errors(400, 403, 404, 409)},
        description="Same as POST /roles/ with the slug taken from the URL.",
    ),
    patch=extend_schema(
        operation_id="roles_update",
        parameters=[PROJECT, SLUG],
        request=RoleUpdateRequest,
        responses={200: RoleSerializer, **errors(400, 403, 404)},
        description="Rename a custom role or replace its rules (members holding it are affected at once).",
    ),
    delete=extend_schema(
        operation_id="roles_delete",
        parameters=[PROJECT, SLUG],
        responses={204: None, **errors(403, 404, 409)},
        description="Delete a custom role nobody holds.",
    ),
)
@extend_schema(tags=ROLE_TAGS)
class RoleDetailApi(ApiView):
    def post(self, request: Request, project: str, slug: str) -> Response:
        return _role_create(self, request, project, url_slug=slug)

    def patch(self, request: Request, project: str, slug: str) -> Response:
        scope = self.scope(project)
        data = self.parse(RoleUpdateRequest, request.data)
        role = role_update(scope=scope, slug=slug, name=data.get("name"), rules=data.get("rules"))
        return Response(RoleSerializer(role).data)

    def delete(self, request: Request, project: str, slug: str) -> Response:
        role_delete(scope=self.scope(project), slug=slug)
        return Response(status=status.HTTP_204_NO_CONTENT)


AUDIT_FILTERS = ("action", "actor", "outcome", "environment", "resource", "since", "until")


class AuditEventListApi(ApiView):
    @extend_schema(
        operation_id="audit_events_list",
        tags=["audit"],
        parameters=[AuditEventQuery],
        responses={200: page_of(AuditEventSerializer, "AuditEventPage"), **errors(400, 403, 404)},
        description="Audit events you may read, newest first: projects where you hold audit.read, and "
        "everything of organizations you administer. Reading the log is itself recorded (`audit.log_read`).",
    )
    def get(self, request: Request) -> Response:
        query = self.query(AuditEventQuery, request)
        limit, offset = page_window(query)
        filters = {name: query[name] for name in AUDIT_FILTERS if name in query}
        page = audit_event_search(
            self.principal, project=query.get("project"), filters=filters, limit=limit, offset=offset
        )
        results = AuditEventSerializer(page.events, many=True, context={"projects": page.projects}).data
        return paginated_response(request, results=results, count=page.count, limit=limit, offset=offset)


TOKEN_TAGS = ["tokens"]


class TokenListApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]
    # The creation response holds the token: it must never be stored for an idempotent replay.
    idempotency_storable = False

    @extend_schema(operation_id="tokens_list", tags=TOKEN_TAGS, responses={200: TokenListSerializer, **errors()})
    def get(self, request: Request) -> Response:
        return Response(TokenListSerializer({"tokens": personal_token_list(user=request.user)}).data)

    @extend_schema(
        operation_id="tokens_create",
        tags=TOKEN_TAGS,
        request=TokenCreateRequest,
        responses={201: TokenCreatedSerializer, **errors(400)},
        description="Create a personal API token. The token is in this response only. "
        "`Idempotency-Key` is refused here (400): the response holds a credential and is never stored.",
    )
    def post(self, request: Request) -> Response:
        data = self.parse(TokenCreateRequest, request.data)
        token, raw = personal_token_create(
            user=request.user, name=data["name"], expires_in_days=data.get("expiresInDays")
        )
        return Response({**TokenSerializer(token).data, "token": raw}, status=status.HTTP_201_CREATED)


class TokenDetailApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]

    @extend_schema(operation_id="tokens_revoke", tags=TOKEN_TAGS, parameters=[ID], responses={204: None, **errors(404)})
    def delete(self, request: Request, id: int) -> Response:  # noqa: A002 - the route's name
        personal_token_revoke(user=request.user, token_id=id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(ApiView):
    permission_classes = [IsAuthenticated, IsPerson]

    @extend_schema(operation_id="me", tags=["me"], responses={200: MeSerializer, **errors()})
    def get(self, request: Request) -> Response:
        user = request.user
        return Response(
            MeSerializer(
                {
                    "id": user.pk,
                    "email": user.email,
                    "username": user.get_username(),
                    "organizations": organization_membership_list(user),
                }
            ).data
        )
