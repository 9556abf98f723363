"""The agent's memory: read it, and give guidance or set its focus."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from memory.models import MemoryEntry, MemoryKind
from memory.services import memory_add_guidance, memory_set_focus

from ..serializers import MemoryCreateSerializer, MemoryEntrySerializer, MemoryFilter
from .base import ApiListView, error_responses, validated


class MemoryListApi(ApiListView):
    serializer_class = MemoryCreateSerializer  # what OPTIONS describes for POST (DRF's metadata needs one)

    @extend_schema(
        operation_id="memory_list",
        summary="Memory entries, newest first",
        parameters=[MemoryFilter],
        responses={200: MemoryEntrySerializer(many=True), **error_responses(400, 404)},
        tags=["memory"],
    )
    def get(self, request):
        filters = self.query(MemoryFilter)
        entries = MemoryEntry.objects.order_by("-created_at", "-id")
        if "kind" in filters:
            entries = entries.filter(kind=filters["kind"])
        if filters.get("search"):
            entries = entries.filter(content__icontains=filters["search"])
        return self.paginated(entries, MemoryEntrySerializer)

    @extend_schema(
        operation_id="memory_create",
        summary="Give the agent guidance (default) or set its current focus",
        request=MemoryCreateSerializer,
        responses={201: MemoryEntrySerializer, **error_responses(400, 413)},
        tags=["memory"],
    )
    def post(self, request):
        data = validated(MemoryCreateSerializer, request.data)
        if data["kind"] == MemoryKind.FOCUS:
            entry = memory_set_focus(content=data["content"])
        else:
            entry = memory_add_guidance(content=data["content"], meta={"via": "api", "by": request.user.get_username()})
        return Response(MemoryEntrySerializer(entry).data, status=status.HTTP_201_CREATED)
