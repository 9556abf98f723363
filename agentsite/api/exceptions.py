"""The API's one exception handler: every error answer is JSON `{"detail", "code", ...}`.

Application errors (`budget.errors.ApplicationError` and its subclasses, raised by the
services) are mapped by their `kind`: "not_found" -> 404, a state conflict -> 409,
anything else -> 400. DRF's own errors keep their status (401, 403, 404, 405, 415, 429)
and gain a `code`; validation errors keep their per-field messages under `errors`; a
body over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413 (Django would answer an HTML 400).
"""

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from agentsite.core.errors import ApplicationError

# `kind`s that mean "it exists, but its state forbids the change".
CONFLICT_KINDS = frozenset({"conflict", "not_runnable"})
RESERVED_KEYS = frozenset({"detail", "code", "errors"})


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body larger than the server accepts."
    default_code = "request_too_large"


def application_error_status(error: ApplicationError) -> int:
    if error.kind == "not_found":
        return status.HTTP_404_NOT_FOUND
    if error.kind in CONFLICT_KINDS:
        return status.HTTP_409_CONFLICT
    if error.kind == "unavailable":
        return status.HTTP_503_SERVICE_UNAVAILABLE
    return status.HTTP_400_BAD_REQUEST


def _application_error_response(error: ApplicationError) -> Response:
    body = {"detail": error.message, "code": error.kind}
    # The services' extras (an approval's current status, a task id) help the caller;
    # they are plain values the services wrote, never upstream response bodies.
    body.update({k: v for k, v in error.extra.items() if k not in RESERVED_KEYS})
    return Response(body, status=application_error_status(error))


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def api_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return _application_error_response(exc)
    if isinstance(exc, RequestDataTooBig):  # over DATA_UPLOAD_MAX_MEMORY_SIZE (Django's own cap)
        exc = RequestTooLarge()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500, logged
    if isinstance(exc, exceptions.ValidationError):
        errors = response.data
        if isinstance(errors, dict) and set(errors) == {"non_field_errors"}:
            detail = " ".join(str(m) for m in errors["non_field_errors"])
        else:
            detail = "Invalid input."
        response.data = {"detail": detail, "code": "invalid", "errors": errors}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"]), "code": _code_of(exc)}
    return response
