"""What drf-spectacular needs to describe the API fully: the error bodies,
the token authentication scheme and the error responses of each operation."""

from __future__ import annotations

import functools

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
)
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """Any error that is not about the fields sent."""

    detail = serializers.CharField()


class ValidationErrorSerializer(serializers.Serializer):
    """Field-keyed errors: each key is a field (or query parameter) that was
    refused, `non_field_errors` a rule about several, `detail` a body that was
    not JSON at all. Each value lists the messages."""


class ValidationErrorSchema(OpenApiSerializerExtension):
    target_class = ValidationErrorSerializer

    def get_name(self, auto_schema, direction) -> str:
        return "ValidationError"

    def map_serializer(self, auto_schema, direction) -> dict:
        messages = {"type": "array", "items": {"type": "string"}}
        return {
            "type": "object",
            "description": ValidationErrorSerializer.__doc__.replace("\n    ", " "),
            "additionalProperties": {"oneOf": [messages, {"type": "string"}]},
            "example": {"occurred_on": ["The date cannot be in the future."]},
        }


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema) -> dict:
        scheme = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Bearer"
        )
        scheme["description"] = (
            "A personal API token, created on your profile page (/accounts/profile/): "
            "`Authorization: Bearer cnd_…` (`Token cnd_…` works too)."
        )
        return scheme


ERRORS = {
    400: OpenApiResponse(
        ValidationErrorSerializer,
        description="Invalid input: bad JSON, wrong types, unknown or read-only fields, "
        "or a rule of the record; errors keyed by field.",
    ),
    401: OpenApiResponse(ErrorSerializer, description="No credentials, or an invalid token."),
    403: OpenApiResponse(
        ErrorSerializer, description="Your role does not allow this (or a CSRF failure)."
    ),
    404: OpenApiResponse(ErrorSerializer, description="No such record among those you can see."),
}
LIST_404 = OpenApiResponse(ErrorSerializer, description="The page number is out of range.")
RECORD_LIST_404 = OpenApiResponse(
    ErrorSerializer,
    description="No such record among those you can see, or the page number is out of range.",
)


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


@functools.cache
def conflict(serializer: type[serializers.Serializer], name: str) -> dict[int, OpenApiResponse]:
    """409: the record changed since the version the request was based on."""
    body = inline_serializer(
        name=f"{name}Conflict",
        fields={
            "detail": serializers.CharField(),
            "current": serializer(help_text="The record as it is now; nothing was saved."),
        },
    )
    return {
        409: OpenApiResponse(
            body,
            description="Someone changed the record since `version`; nothing was saved. "
            "Compare with `current` and send again with its version.",
        )
    }


def add_throttled_answers(result: dict, generator, request, public) -> dict:
    """A drf-spectacular postprocessing hook: every operation that can answer
    401 can also answer 429, once an address has sent too many invalid tokens
    (accounts.authentication), with Retry-After saying when to try again."""
    throttled = {
        "description": "Too many invalid tokens from your address; try again after "
        "`Retry-After` seconds.",
        "headers": {
            "Retry-After": {
                "schema": {"type": "integer"},
                "description": "Seconds until the address may try again.",
            }
        },
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if "401" in responses:
                responses.setdefault("429", throttled)
    return result
