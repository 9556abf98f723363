"""The API's one exception handler: every error answer is JSON `{"detail", "code", ...}`.

Application errors (`agentsite.core.errors.ApplicationError` and its subclasses, raised by
the services and selectors) answer with the status their class declares (`http_status`).
"Not found" has one path: Django's Http404, a model's DoesNotExist and DRF's NotFound (a
page past the end, an id no database could hold) become `agentsite.core.errors.NotFound`,
so every 404 body has the same shape. DRF's other errors keep their status (401, 403, 405,
415, 429) and gain a `code`; validation errors keep their per-field messages under
`errors`; a body over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413 (Django would answer an HTML 400).
"""

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from agentsite.core.errors import ApplicationError, NotFound

RESERVED_KEYS = frozenset({"detail", "code", "errors"})
NOT_FOUND_DETAIL = "Not found."


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body larger than the server accepts."
    default_code = "request_too_large"


def error_body(error: ApplicationError) -> dict:
    body = {"detail": error.message, "code": error.kind}
    # The services' extras (an approval's current status, a task id) help the caller;
    # they are plain values the services wrote, never upstream response bodies.
    body.update({k: v for k, v in error.extra.items() if k not in RESERVED_KEYS})
    return body


def as_not_found(exc: Exception) -> NotFound:
    """Any "no such thing" as the one NotFound (Http404's own text is Django's, not ours)."""
    if isinstance(exc, exceptions.NotFound):
        return NotFound(str(exc.detail))
    return NotFound(NOT_FOUND_DETAIL)


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def api_exception_handler(exc, context):
    if isinstance(exc, (Http404, ObjectDoesNotExist, exceptions.NotFound)):
        exc = as_not_found(exc)
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc), status=exc.http_status)
    if isinstance(exc, RequestDataTooBig):  # over DATA_UPLOAD_MAX_MEMORY_SIZE (Django's own cap)
        exc = RequestTooLarge()
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
