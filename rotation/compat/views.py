"""``/api/v2/secret-rotations`` as Infisical serves it, onto ``rotation.selectors`` and
``rotation.services``. Thin: parse, call, shape — who may see or rotate what is decided there
(``secrets.read`` at the folder to see, ``rotations.rotate`` or ``rotations.manage`` to rotate), as on
/api/v1.

Infisical's routes by id carry no project: the selector finds the rotation's project and answers
404 alike for a missing rotation, another project's and another organization's. A rotation whose
kind is not the type in the URL is a 404 too (Infisical answers 400 there).

"Rotate" queues a run, as our own API does, and answers Infisical's 200 ``{secretRotation}`` at
once (Infisical rotates inside the request) with ``rotationStatus: "queued"``; the run's outcome
shows in ``rotationStatus``, ``lastRotatedAt`` and ``lastRotationMessage`` afterwards. While a run holds the rotation the answer
is Infisical's 400, with our message.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from rotation.compat.responses import rotation_shape, rotation_type, served_type, served_type_names
from rotation.models import Rotation
from rotation.selectors import rotation_by_name, rotation_find, rotation_list
from rotation.services.rotations import rotation_request_now
from secrets_app.compat.http import CompatError, CompatView, Params
from secrets_app.principals import Principal
from secrets_app.selectors.access import ProjectScope, project_scope

PROJECT_PARAMS = ("projectId", "workspaceId", "projectSlug", "workspaceSlug")


def _supported(kind_type: str) -> str:
    """The rotation type of the URL, or 404 as for a route that does not exist."""
    if served_type(kind_type) is None:
        supported = ", ".join(served_type_names())
        raise CompatError(404, f"Secret rotation type '{kind_type}' is not supported here ({supported})")
    return kind_type


def _scope(principal: Principal, params: Params) -> ProjectScope:
    project = params.string(*PROJECT_PARAMS, required=True)
    params.check()
    return project_scope(principal, project or "")


def _of_type(rotation: Rotation, kind_type: str, rotation_id: str) -> Rotation:
    if rotation_type(rotation) != kind_type:
        raise CompatError(404, f"Secret Rotation with ID '{rotation_id}' not found for type {kind_type}")
    return rotation


class SecretRotationListView(CompatView):
    """GET /api/v2/secret-rotations?projectId= — every type."""

    def get(self, request: HttpRequest, principal: Principal, params: Params) -> dict[str, Any]:
        rotations = rotation_list(_scope(principal, params))
        return {"secretRotations": [rotation_shape(rotation) for rotation in rotations]}


class TypedRotationListView(CompatView):
    """GET /api/v2/secret-rotations/{type}?projectId=."""

    def get(self, request: HttpRequest, principal: Principal, params: Params, kind_type: str) -> dict[str, Any]:
        _supported(kind_type)
        rotations = rotation_list(_scope(principal, params))
        return {
            "secretRotations": [
                rotation_shape(rotation) for rotation in rotations if rotation_type(rotation) == kind_type
            ]
        }


class TypedRotationItemView(CompatView):
    """GET /api/v2/secret-rotations/{type}/{rotationId}."""

    def get(
        self, request: HttpRequest, principal: Principal, params: Params, kind_type: str, rotation_id: str
    ) -> dict[str, Any]:
        _supported(kind_type)
        _, rotation = rotation_find(principal, rotation_id)
        return {"secretRotation": rotation_shape(_of_type(rotation, kind_type, rotation_id))}


class TypedRotationByNameView(CompatView):
    """GET /api/v2/secret-rotations/{type}/rotation-name/{name}?projectId=&environment=&secretPath=."""

    def get(
        self, request: HttpRequest, principal: Principal, params: Params, kind_type: str, name: str
    ) -> dict[str, Any]:
        _supported(kind_type)
        environment = params.string("environment", required=True) or ""
        path = params.string("secretPath", required=True) or "/"
        scope = _scope(principal, params)
        rotation = rotation_by_name(scope, environment=environment, path=path, name=name)
        if rotation_type(rotation) != kind_type:
            raise CompatError(404, f"Secret Rotation with name '{name}' not found for type {kind_type}")
        return {"secretRotation": rotation_shape(rotation)}


class TypedRotationRotateView(CompatView):
    """POST /api/v2/secret-rotations/{type}/{rotationId}/rotate-secrets: queue a run."""

    def post(
        self, request: HttpRequest, principal: Principal, params: Params, kind_type: str, rotation_id: str
    ) -> dict[str, Any]:
        _supported(kind_type)
        scope, rotation = rotation_find(principal, rotation_id)
        _of_type(rotation, kind_type, rotation_id)
        rotation_request_now(scope=scope, rotation=rotation)
        rotation.refresh_from_db()
        return {"secretRotation": rotation_shape(rotation, queued=True)}
