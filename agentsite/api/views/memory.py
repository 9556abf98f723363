"""The agent's memory: read and search it, give guidance or set its focus, and shape
entries (edit, pin, archive; each change audited)."""

from drf_spectacular.utils import extend_schema_view
from rest_framework.response import Response

from agentsite.core.surfaces import Surface
from memory.models import MemoryEntry, MemoryKind
from memory.selectors import memory_browse, memory_get
from memory.services import memory_add_guidance, memory_set_focus
from memory.shaping import memory_update

from ..filters import MemoryFilter
from ..memory_serializers import MemoryDetailSerializer, MemoryUpdateSerializer
from ..serializers import MemoryCreateSerializer, MemoryEntrySerializer
from .base import ApiDetailView, ApiListCreateView, documented, validated


def _every_entry():
    # The filter leaves archived entries out unless `include_archived=true`.
    return memory_browse(include_archived=True)


@extend_schema_view(
    get=documented(
        "memory_list", "Memory entries, newest first; with `q`, the best matches first", "memory",
        ok=MemoryEntrySerializer(many=True), errors=(400, 404),
    ),
    post=documented(
        "memory_create", "Give the agent guidance (default) or set its current focus", "memory",
        ok=MemoryEntrySerializer, ok_status=201, errors=(400, 413), request=MemoryCreateSerializer,
    ),
)
class MemoryListApi(ApiListCreateView):
    browse = staticmethod(_every_entry)
    filterset_class = MemoryFilter
    output_serializer = MemoryEntrySerializer
    serializer_class = MemoryCreateSerializer

    def create(self, data: dict, request) -> MemoryEntry:
        if data["kind"] == MemoryKind.FOCUS:
            return memory_set_focus(content=data["content"])
        return memory_add_guidance(content=data["content"], meta={"via": "api", "by": request.user.get_username()})


@extend_schema_view(get=documented(
    "memory_retrieve", "One memory entry (archived too), with its revisions, newest first", "memory",
    ok=MemoryDetailSerializer, errors=(404,),
))
class MemoryDetailApi(ApiDetailView):
    output_serializer = MemoryDetailSerializer

    def fetch(self, pk: int):
        return memory_get(entry_id=pk)

    @documented(
        "memory_partial_update", "Edit, pin/unpin, archive/restore an entry (all or nothing, audited)", "memory",
        ok=MemoryDetailSerializer, errors=(400, 413, 404, 409), request=MemoryUpdateSerializer,
    )
    def patch(self, request, pk: int):
        data = validated(MemoryUpdateSerializer, request.data)
        memory_update(entry_id=pk, by=request.user.get_username(), via=Surface.API, **data)
        return Response(MemoryDetailSerializer(memory_get(entry_id=pk)).data)
