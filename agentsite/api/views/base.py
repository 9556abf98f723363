"""What every API view shares: JSON bodies, guarded ids, filter validation, error docs."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from ..serializers import ErrorSerializer

# Ids above this can't exist in a 64-bit primary key; answering 404 keeps them away
# from the database driver (SQLite raises OverflowError on them).
MAX_ID = 2**63 - 1

ERROR_DESCRIPTIONS = {
    400: "Invalid input: unknown fields, wrong types, values out of range or too long.",
    401: "Not authenticated: send `Authorization: Token <key>` or log in as staff.",
    403: "Authenticated, but not a staff user; deciding approvals and controlling the agent "
    "also need the decisions.decide_approval / decisions.control_agent permission.",
    404: "No such object.",
    409: "The object's state forbids the change (e.g. the approval is no longer pending).",
    413: "Request body larger than the server accepts (DATA_UPLOAD_MAX_MEMORY_SIZE).",
    429: "Too many requests (throttled); see the Retry-After header.",
    503: "The task queue is unavailable; nothing was queued.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Documented error answers; 401, 403 and 429 apply to every endpoint."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in sorted({401, 403, 429, *codes})
    }


def validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ApiMixin:
    # JSON in, JSON out: people use the Swagger UI at /api/docs/ (DRF's browsable API
    # would need querysets and forms these thin views don't have).
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, permissions, throttles
        if kwargs.get("pk", 0) > MAX_ID:
            raise NotFound()

    def query(self, serializer_class) -> dict:
        """The validated query-string filters (a bad value is a 400)."""
        return validated(serializer_class, self.request.query_params)


class ApiView(ApiMixin, APIView):
    pass


class ApiListView(ApiMixin, GenericAPIView):
    # A view with a paginated GET list (page size from REST_FRAMEWORK["PAGE_SIZE"]).
    # (A comment, not a docstring: drf-spectacular would publish it on every list.)

    def paginated(self, queryset, serializer_class):
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)
