"""Serializer building blocks shared by the API: strict bodies, strict query flags, exact text."""

from __future__ import annotations

from typing import Any

from django.core.validators import ProhibitNullCharactersValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


def _json_type_error(field: serializers.Field, value: Any) -> Any:
    """What is wrong with the JSON type of *value* for *field*, or None.

    DRF coerces on input: a CharField takes ``0`` as ``"0"``, a BooleanField takes ``"yes"`` and
    ``1``, an IntegerField takes ``"5"``. A JSON body has real types, and the schema we publish says
    which: a number where a string is documented is the client's mistake, answered 400 — never
    guessed at. Returns a message, a ``{index: message}`` dict for list items, or None.
    """
    if value is None:
        return None if field.allow_null else "This field may not be null."
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be a JSON boolean (true or false)."
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "Must be a JSON integer."
    if isinstance(field, serializers.FloatField):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "Must be a JSON number."
    if isinstance(field, serializers.CharField | serializers.ChoiceField):
        return None if isinstance(value, str) else "Must be a JSON string."
    if isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return "Must be a JSON array."
        items = {index: _json_type_error(field.child, item) for index, item in enumerate(value)}
        items = {
            index: [problem] if isinstance(problem, str) else problem for index, problem in items.items() if problem
        }
        return items or None
    if isinstance(field, serializers.DictField | serializers.Serializer) and not isinstance(
        field, serializers.ListSerializer
    ):
        return None if isinstance(value, dict) else "Must be a JSON object."
    return None


class StrictSerializer(serializers.Serializer):
    """A request body: unknown fields are refused (400 naming them), never silently dropped, and
    every field takes only its documented JSON type (``{"name": 0}`` is a 400, not ``"0"``).

    A typo such as ``expires_at`` for ``expiresAt`` would otherwise be ignored without a word, and a
    field like ``projectId`` or ``createdBy`` must never reach a model.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "Meta" not in cls.__dict__:
            # OpenAPI component name: drf-spectacular appends "Request" to request bodies itself.
            name = cls.__name__.removesuffix("Serializer").removesuffix("Request")
            cls.Meta = type("Meta", (), {"ref_name": name})  # type: ignore[misc]

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - {name for name, field in self.fields.items() if not field.read_only})
            if unknown:
                raise serializers.ValidationError({name: ["is not a field of this request"] for name in unknown})
            wrong: dict[str, Any] = {}
            for name, field in self.fields.items():
                if field.read_only or name not in data:
                    continue
                problem = _json_type_error(field, data[name])
                if problem:
                    wrong[name] = [problem] if isinstance(problem, str) else problem
            if wrong:
                raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.BOOL)
class QueryBoolean(serializers.Field):
    """``true`` or ``false`` (any case); anything else is a 400 naming the parameter."""

    default_error_messages = {"invalid": "must be 'true' or 'false'"}

    def get_value(self, dictionary: Any) -> Any:
        # DRF treats a blank form value as "not sent"; ``?flag=`` is a mistake worth naming.
        if hasattr(dictionary, "getlist") and self.field_name in dictionary:
            return dictionary[self.field_name]
        return super().get_value(dictionary)

    def to_internal_value(self, data: Any) -> bool:
        text = str(data).strip().lower()
        if text == "true":
            return True
        if text == "false":
            return False
        self.fail("invalid")
        raise AssertionError("unreachable")

    def to_representation(self, value: Any) -> Any:
        return bool(value)


@extend_schema_field(OpenApiTypes.STR)
class CommaList(serializers.Field):
    """``a,b,c`` in a query string → ``["a", "b", "c"]`` (blank items dropped)."""

    def to_internal_value(self, data: Any) -> list[str]:
        return [item.strip() for item in str(data).split(",") if item.strip()]

    def to_representation(self, value: Any) -> Any:
        return ",".join(value)


class SortedStrings(serializers.ListField):
    """Output of a set of strings (e.g. a rule's environments) as a sorted list, for stable answers."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.CharField())
        super().__init__(**kwargs)

    def to_representation(self, data: Any) -> list[Any]:
        return sorted(super().to_representation(data))


class ExactText(serializers.CharField):
    """A string kept byte for byte: no trimming, blank allowed, NUL allowed (values are opaque).

    Size limits are the service's business (it names the field and counts UTF-8 bytes).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)]

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return data
