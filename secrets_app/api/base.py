"""The base of every native API view: who is calling, in which project, and safe POST retries.

Views stay thin: parse (a serializer), call one service or selector, serialize.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from secrets_app.api.authentication import principal_of
from secrets_app.api.fields import CommaList, StrictSerializer
from secrets_app.api.idempotency import with_idempotency
from secrets_app.api.schema import IDEMPOTENCY_KEY, ErrorSerializer
from secrets_app.principals import Principal
from secrets_app.selectors.access import ProjectScope, project_scope


class ApiSchema(AutoSchema):
    """The schema says what the server does (schemathesis holds us to it, tests/security):

    - ``Idempotency-Key`` on every POST that honours it;
    - request bodies of a ``StrictSerializer`` have ``additionalProperties: false`` (unknown fields
      are a 400, never silently dropped);
    - the errors every operation can answer are listed: 401 (no or bad token), 429 (rate limit),
      503 (sealed, database, audit log or rate-limit store down), 400 where there is input to
      refuse (a body, a query string, an ``Idempotency-Key``/``If-Match`` header) and 415 where
      there is a body.
    """

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self.method == "POST" and getattr(self.view, "idempotency_storable", False):
            parameters.append(IDEMPOTENCY_KEY)
        return parameters

    def _map_serializer(self, serializer: Any, direction: Any, bypass_extensions: bool = False) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(force_instance(serializer), StrictSerializer):
            schema["additionalProperties"] = False
        return schema

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if not any(code.startswith("2") for code in responses):
            return responses
        has_body = self.method in ("POST", "PUT", "PATCH")
        has_input = has_body or bool(self._get_parameters()) or self.method == "DELETE"
        statuses = [401, 429, 503] + ([400] if has_input else []) + ([415] if has_body else [])
        for code in statuses:
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(ErrorSerializer, str(code), direction=direction)
        return dict(sorted(responses.items()))


class ApiView(APIView):
    """Every ``post`` of a subclass honours ``Idempotency-Key`` (wrapped once, here)."""

    # False for endpoints whose response holds a credential: such a response is never stored.
    idempotency_storable = True
    # True for a view that honours Idempotency-Key itself (the generic replay is skipped).
    idempotency_by_view = False
    schema = ApiSchema()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "post" in cls.__dict__:
            cls.post = with_idempotency(cls.__dict__["post"])  # type: ignore[method-assign]

    @property
    def principal(self) -> Principal:
        return principal_of(self.request.user)

    def scope(self, project: str) -> ProjectScope:
        """The caller in *project* (slug or public id); NotFound when missing or invisible."""
        return project_scope(self.principal, project)

    @staticmethod
    def parse(serializer_class: type[Serializer], data: Any, **context: Any) -> dict[str, Any]:
        """Validated data (400 naming the offending fields otherwise)."""
        serializer = serializer_class(data=data, context=context)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def query(self, serializer_class: type[Serializer], request: Request) -> dict[str, Any]:
        """Validated query parameters. A parameter given blank (``?until=``) is a 400 naming it
        unless its field takes blank text: DRF would otherwise drop it as if it were not sent, and
        the caller would get an unfiltered answer to a filtered question."""
        serializer = serializer_class(data=request.query_params)
        blank = {
            name: ["may not be blank"]
            for name, field in serializer.fields.items()
            if request.query_params.get(name, None) == ""
            and not getattr(field, "allow_blank", False)
            and not isinstance(field, CommaList)
        }
        if blank:
            raise ValidationError(blank)
        # The same instance validates (a serializer deep-copies its fields each time it is made).
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)
