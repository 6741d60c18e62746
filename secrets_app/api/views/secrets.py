"""Secrets: list, create, bulk upsert, read, update (check-and-set), delete, versions, rollback;
and folder commits (point-in-time) with their rollback."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from secrets_app.api.base import ApiView
from secrets_app.api.pagination import PageQuery, page_of, page_window, paginated_response
from secrets_app.api.schema import ID, IF_MATCH, KEY, PROJECT, errors
from secrets_app.api.serializers.secrets import (
    CommitRollbackRequest,
    CommitSerializer,
    FolderLocationQuery,
    SecretBulkRequest,
    SecretBulkResultSerializer,
    SecretCreateRequest,
    SecretGetQuery,
    SecretListQuery,
    SecretListSerializer,
    SecretLocationQuery,
    SecretMetadataSerializer,
    SecretRollbackRequest,
    SecretSerializer,
    SecretUpdateRequest,
    VersionListSerializer,
)
from secrets_app.errors import ValidationFailed
from secrets_app.selectors.commits import folder_commit_list
from secrets_app.selectors.secrets import secret_get, secret_list, secret_versions
from secrets_app.services.rollback import folder_rollback, secret_rollback
from secrets_app.services.secrets import (
    UNSET,
    SecretInput,
    secret_bulk_upsert,
    secret_create,
    secret_delete,
    secret_update,
)

TAGS = ["secrets"]


def _secret_input(data: dict, key: str) -> SecretInput:
    """Only the fields the client sent are set: an absent field leaves the secret's value as it is."""
    return SecretInput(
        key=key,
        value=data.get("value"),
        comment=data.get("comment"),
        tags=data.get("tags"),
        owner_label=data.get("ownerLabel"),
        purpose=data.get("purpose"),
        expires_at=data["expiresAt"] if "expiresAt" in data else UNSET,
    )


def _expected_version(request: Request, data: dict) -> int | None:
    """Check-and-set version from ``If-Match`` (``3``, ``"3"`` or ``W/"3"``) or the body's ``version``."""
    header = request.headers.get("If-Match")
    from_header = None
    if header is not None:
        text = header.strip().removeprefix("W/").strip('"')
        if not text.isdigit():
            raise ValidationFailed("If-Match", "must be the secret's version number")
        from_header = int(text)
    from_body = data.get("version")
    if from_header is not None and from_body is not None and from_header != from_body:
        raise ValidationFailed("version", "differs from the If-Match header")
    return from_header if from_header is not None else from_body


class SecretListApi(ApiView):
    @extend_schema(
        operation_id="secrets_list",
        tags=TAGS,
        parameters=[PROJECT, SecretListQuery],
        responses={200: SecretListSerializer, **errors(400, 403, 404)},
        description="Secrets at a folder. With `include_values=true` (needs secrets.read_value) each secret "
        "has `value` and `comment`; without it neither key is present. Quarantined secrets are left out and "
        "named in `warnings`.",
    )
    def get(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        query = self.query(SecretListQuery, request)
        result = secret_list(
            scope,
            environment=query["environment"],
            path=query["path"],
            include_values=query["include_values"],
            expand=query["expand"],
            include_imports=query["include_imports"],
            recursive=query["recursive"],
            tag_filter=query.get("tags") or None,
        )
        return Response(SecretListSerializer(result).data)

    @extend_schema(
        operation_id="secrets_create",
        tags=TAGS,
        parameters=[PROJECT],
        request=SecretCreateRequest,
        responses={201: SecretMetadataSerializer, **errors(400, 403, 404, 409)},
        description="Create one secret at version 1. The response never contains the value.",
    )
    def post(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        data = self.parse(SecretCreateRequest, request.data)
        secret = secret_create(
            scope=scope,
            environment=data["environment"],
            path=data["path"],
            item=_secret_input(data, data["key"]),
            secret_type=data["type"],
        )
        return Response(SecretMetadataSerializer(secret).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        operation_id="secrets_retrieve",
        parameters=[PROJECT, KEY, SecretGetQuery],
        responses={200: SecretSerializer, **errors(400, 403, 404, 423)},
        description="One secret with its value (needs secrets.read_value; `include_value=false` for metadata "
        "only). The ETag header carries the version, for `If-Match` on a later PATCH. A quarantined secret's "
        "value is refused with 423 naming the quarantine (its owner is alerted).",
    ),
    patch=extend_schema(
        operation_id="secrets_update",
        parameters=[PROJECT, KEY, SecretLocationQuery, IF_MATCH],
        request=SecretUpdateRequest,
        responses={200: SecretMetadataSerializer, **errors(400, 403, 404, 409, 412)},
        description="Change value, comment, key (`newKey`), tags or metadata; only the fields sent change. "
        "With `If-Match: <version>` (or `version`) the write happens only if the secret is still at that version.",
    ),
    delete=extend_schema(
        operation_id="secrets_delete",
        parameters=[PROJECT, KEY, SecretLocationQuery],
        responses={204: None, **errors(400, 403, 404)},
        description="Soft delete: a folder rollback can bring the secret back.",
    ),
)
@extend_schema(tags=TAGS)
class SecretDetailApi(ApiView):
    def get(self, request: Request, project: str, key: str) -> Response:
        scope = self.scope(project)
        query = self.query(SecretGetQuery, request)
        view = secret_get(
            scope,
            environment=query["environment"],
            path=query["path"],
            key=key,
            include_value=query["include_value"],
            expand=query["expand"],
            include_imports=query["include_imports"],
            version=query.get("version"),
            secret_type=query.get("type"),
        )
        headers = {"ETag": f'"{view.version}"'} if query.get("version") is None else {}
        return Response(SecretSerializer(view).data, headers=headers)

    def patch(self, request: Request, project: str, key: str) -> Response:
        scope = self.scope(project)
        query = self.query(SecretLocationQuery, request)
        data = self.parse(SecretUpdateRequest, request.data)
        secret = secret_update(
            scope=scope,
            environment=query["environment"],
            path=query["path"],
            key=key,
            item=_secret_input(data, key),
            new_key=data.get("newKey"),
            secret_type=query["type"],
            expected_version=_expected_version(request, data),
        )
        return Response(SecretMetadataSerializer(secret).data, headers={"ETag": f'"{secret.version}"'})

    def delete(self, request: Request, project: str, key: str) -> Response:
        scope = self.scope(project)
        query = self.query(SecretLocationQuery, request)
        secret_delete(
            scope=scope, environment=query["environment"], path=query["path"], key=key, secret_type=query["type"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    get=extend_schema(exclude=True), patch=extend_schema(exclude=True), delete=extend_schema(exclude=True)
)
@extend_schema(tags=TAGS)
class SecretBulkApi(SecretDetailApi):
    """``bulk/`` shadows a secret keyed ``bulk``: GET, PATCH and DELETE still reach it here."""

    @extend_schema(
        operation_id="secrets_bulk_upsert",
        parameters=[PROJECT],
        request=SecretBulkRequest,
        responses={200: SecretBulkResultSerializer, **errors(400, 403, 404)},
        description="Create missing keys and update existing ones, all or nothing, in one commit.",
    )
    def post(self, request: Request, project: str, key: str = "bulk") -> Response:
        scope = self.scope(project)
        data = self.parse(SecretBulkRequest, request.data)
        result = secret_bulk_upsert(
            scope=scope,
            environment=data["environment"],
            path=data["path"],
            items=[_secret_input(item, item["key"]) for item in data["secrets"]],
        )
        return Response(SecretBulkResultSerializer(result).data)


class SecretVersionListApi(ApiView):
    @extend_schema(
        operation_id="secrets_versions_list",
        tags=TAGS,
        parameters=[PROJECT, KEY, FolderLocationQuery],
        responses={200: VersionListSerializer, **errors(400, 403, 404)},
    )
    def get(self, request: Request, project: str, key: str) -> Response:
        scope = self.scope(project)
        query = self.query(FolderLocationQuery, request)
        versions = secret_versions(scope, environment=query["environment"], path=query["path"], key=key)
        return Response(VersionListSerializer({"versions": versions}).data)


class SecretRollbackApi(ApiView):
    @extend_schema(
        operation_id="secrets_rollback",
        tags=TAGS,
        parameters=[PROJECT, KEY],
        request=SecretRollbackRequest,
        responses={200: SecretMetadataSerializer, **errors(400, 403, 404)},
        description="Append a new version whose value and comment equal `version`'s (history is kept).",
    )
    def post(self, request: Request, project: str, key: str) -> Response:
        scope = self.scope(project)
        data = self.parse(SecretRollbackRequest, request.data)
        secret = secret_rollback(
            scope=scope, environment=data["environment"], path=data["path"], key=key, version=data["version"]
        )
        return Response(SecretMetadataSerializer(secret).data)


COMMIT_TAGS = ["commits"]


class CommitListApi(ApiView):
    @extend_schema(
        operation_id="commits_list",
        tags=COMMIT_TAGS,
        parameters=[PROJECT, FolderLocationQuery, PageQuery],
        responses={200: page_of(CommitSerializer, "CommitPage"), **errors(400, 403, 404)},
        description="The folder's point-in-time commits, newest first (needs secrets.read).",
    )
    def get(self, request: Request, project: str) -> Response:
        scope = self.scope(project)
        query = self.query(FolderLocationQuery, request)
        limit, offset = page_window(self.query(PageQuery, request))
        commits = folder_commit_list(scope, environment=query["environment"], path=query["path"])
        results = CommitSerializer(commits[offset : offset + limit], many=True).data
        return paginated_response(request, results=results, count=commits.count(), limit=limit, offset=offset)


class CommitRollbackApi(ApiView):
    @extend_schema(
        operation_id="commits_rollback",
        tags=COMMIT_TAGS,
        parameters=[PROJECT, ID],
        request=CommitRollbackRequest,
        responses={200: CommitSerializer, **errors(400, 403, 404, 409)},
        description="Make the folder's secrets equal the commit's snapshot: changed ones get a new version "
        "with the old value, deleted ones come back, newer ones are deleted. Returns the new commit.",
    )
    def post(self, request: Request, project: str, id: int) -> Response:  # noqa: A002 - the route's name
        scope = self.scope(project)
        data = self.parse(CommitRollbackRequest, request.data)
        commit = folder_rollback(scope=scope, environment=data["environment"], path=data["path"], commit_id=id)
        return Response(CommitSerializer(commit).data)
