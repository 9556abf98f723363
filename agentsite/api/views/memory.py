"""The agent's memory: read it, and give guidance or set its focus."""

from drf_spectacular.utils import extend_schema_view

from memory.models import MemoryEntry, MemoryKind
from memory.selectors import memory_browse
from memory.services import memory_add_guidance, memory_set_focus

from ..filters import MemoryFilter
from ..serializers import MemoryCreateSerializer, MemoryEntrySerializer
from .base import ApiListCreateView, documented


@extend_schema_view(
    get=documented(
        "memory_list", "Memory entries, newest first", "memory",
        ok=MemoryEntrySerializer(many=True), errors=(400, 404),
    ),
    post=documented(
        "memory_create", "Give the agent guidance (default) or set its current focus", "memory",
        ok=MemoryEntrySerializer, ok_status=201, errors=(400, 413), request=MemoryCreateSerializer,
    ),
)
class MemoryListApi(ApiListCreateView):
    browse = staticmethod(memory_browse)
    filterset_class = MemoryFilter
    output_serializer = MemoryEntrySerializer
    serializer_class = MemoryCreateSerializer

    def create(self, data: dict, request) -> MemoryEntry:
        if data["kind"] == MemoryKind.FOCUS:
            return memory_set_focus(content=data["content"])
        return memory_add_guidance(content=data["content"], meta={"via": "api", "by": request.user.get_username()})
