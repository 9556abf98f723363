"""What every API view shares: JSON bodies, guarded ids, error docs, and the three shapes
of endpoint (a filtered page of a selector, with or without a POST that creates; one
object by id).

A resource view names its selector or service and its serializers; the shape does the rest.
"""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from agentsite.core.errors import NotFound

from ..exceptions import NOT_FOUND_DETAIL
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


def documented(operation_id: str, summary: str, tag: str, *, ok, errors=(), ok_status: int = 200, **more):
    """One operation's OpenAPI description: its answer, its documented errors, its tag."""
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        responses={ok_status: ok, **error_responses(*errors)},
        tags=[tag],
        **more,
    )


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
            raise NotFound(NOT_FOUND_DETAIL)


class ApiView(ApiMixin, APIView):
    pass


class ApiListView(ApiMixin, GenericAPIView):
    # GET: a page (REST_FRAMEWORK["PAGE_SIZE"]) of `browse()`, a selector's lazy queryset,
    # filtered by `filterset_class` (django-filter). (Comments, not docstrings:
    # drf-spectacular would publish them on every list.)
    filter_backends = [DjangoFilterBackend]
    output_serializer = None

    @staticmethod
    def browse():
        raise NotImplementedError

    def get_queryset(self):
        return self.browse()

    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.output_serializer(page, many=True).data)


class ApiListCreateView(ApiListView):
    # POST: `create(data, request)` with the body validated by `serializer_class` (also what
    # OPTIONS describes); answers 201 with the new object in `output_serializer`.

    def create(self, data: dict, request):
        raise NotImplementedError

    def post(self, request):
        created = self.create(validated(self.serializer_class, request.data), request)
        return Response(self.output_serializer(created).data, status=status.HTTP_201_CREATED)


class ApiDetailView(ApiView):
    # GET: one object from `fetch(pk)`, a selector raising the app's NotFound.
    output_serializer = None

    def fetch(self, pk: int):
        raise NotImplementedError

    def get(self, request, pk: int):
        return Response(self.output_serializer(self.fetch(pk)).data)
