"""The base of every native API view: who is calling, in which project, and safe POST retries.

Views stay thin: parse (a serializer), call one service or selector, serialize.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework.request import Request
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from secrets_app.api.authentication import principal_of
from secrets_app.api.idempotency import with_idempotency
from secrets_app.api.schema import IDEMPOTENCY_KEY
from secrets_app.principals import Principal
from secrets_app.selectors.access import ProjectScope, project_scope


class ApiSchema(AutoSchema):
    """Documents ``Idempotency-Key`` on every POST that honours it."""

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self.method == "POST" and getattr(self.view, "idempotency_storable", False):
            parameters.append(IDEMPOTENCY_KEY)
        return parameters


class ApiView(APIView):
    """Every ``post`` of a subclass honours ``Idempotency-Key`` (wrapped once, here)."""

    # False for endpoints whose response holds a credential: such a response is never stored.
    idempotency_storable = True
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
        return self.parse(serializer_class, request.query_params)
