"""The audit trail of cycles: what the agent was told, answered, decided and did."""

from drf_spectacular.utils import extend_schema_view

from decisions.selectors import cycle_browse, cycle_get

from ..filters import CycleFilter
from ..serializers import CycleDetailSerializer, CycleSerializer
from .base import ApiDetailView, ApiListView, documented


@extend_schema_view(get=documented(
    "cycles_list", "Cycles, newest first", "cycles", ok=CycleSerializer(many=True), errors=(400, 404),
))
class CycleListApi(ApiListView):
    browse = staticmethod(cycle_browse)
    filterset_class = CycleFilter
    output_serializer = CycleSerializer


@extend_schema_view(get=documented(
    "cycles_retrieve", "One cycle: prompt, raw response, decision, result, tokens, timings", "cycles",
    ok=CycleDetailSerializer, errors=(404,),
))
class CycleDetailApi(ApiDetailView):
    output_serializer = CycleDetailSerializer

    def fetch(self, pk: int):
        return cycle_get(cycle_id=pk)
