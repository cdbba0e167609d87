"""Errors as JSON: field-keyed for validation, {"detail": ...} for the rest."""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler


def field_errors(error: DjangoValidationError) -> dict[str, list[str]]:
    """A model or service ValidationError as DRF's field-keyed error body."""
    non_field = api_settings.NON_FIELD_ERRORS_KEY
    if hasattr(error, "error_dict"):
        return {
            (non_field if field == NON_FIELD_ERRORS else field): messages
            for field, messages in error.message_dict.items()
        }
    return {non_field: error.messages}


def as_api_error(error: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(field_errors(error))


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, plus a rule a service enforces (a Django ValidationError
    that no view caught) answered as 400 rather than a server error."""
    if isinstance(exc, DjangoValidationError):
        exc = as_api_error(exc)
    return drf_exception_handler(exc, context)
