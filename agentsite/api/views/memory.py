"""The agent's memory: read it, and give guidance or set its focus."""

from drf_spectacular.utils import extend_schema_view
from rest_framework import status
from rest_framework.response import Response

from memory.models import MemoryKind
from memory.selectors import memory_browse
from memory.services import memory_add_guidance, memory_set_focus

from ..filters import MemoryFilter
from ..serializers import MemoryCreateSerializer, MemoryEntrySerializer
from .base import ApiListView, documented, validated


@extend_schema_view(get=documented(
    "memory_list", "Memory entries, newest first", "memory", ok=MemoryEntrySerializer(many=True), errors=(400, 404),
))
class MemoryListApi(ApiListView):
    browse = staticmethod(memory_browse)
    filterset_class = MemoryFilter
    output_serializer = MemoryEntrySerializer
    serializer_class = MemoryCreateSerializer  # what OPTIONS describes for POST (DRF's metadata needs one)

    @documented(
        "memory_create", "Give the agent guidance (default) or set its current focus", "memory",
        ok=MemoryEntrySerializer, ok_status=201, errors=(400, 413), request=MemoryCreateSerializer,
    )
    def post(self, request):
        data = validated(MemoryCreateSerializer, request.data)
        if data["kind"] == MemoryKind.FOCUS:
            entry = memory_set_focus(content=data["content"])
        else:
            entry = memory_add_guidance(content=data["content"], meta={"via": "api", "by": request.user.get_username()})
        return Response(MemoryEntrySerializer(entry).data, status=status.HTTP_201_CREATED)
