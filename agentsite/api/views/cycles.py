"""The audit trail of cycles: what the agent was told, answered, decided and did."""

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from decisions.models import Cycle

from ..serializers import CycleDetailSerializer, CycleFilter, CycleSerializer
from .base import ApiListView, ApiView, error_responses


class CycleListApi(ApiListView):
    @extend_schema(
        operation_id="cycles_list",
        summary="Cycles, newest first",
        parameters=[CycleFilter],
        responses={200: CycleSerializer(many=True), **error_responses(400, 404)},
        tags=["cycles"],
    )
    def get(self, request):
        filters = self.query(CycleFilter)
        cycles = Cycle.objects.filter(**filters).order_by("-started_at", "-id")
        return self.paginated(cycles, CycleSerializer)


class CycleDetailApi(ApiView):
    @extend_schema(
        operation_id="cycles_retrieve",
        summary="One cycle: prompt, raw response, decision, result, tokens, timings",
        responses={200: CycleDetailSerializer, **error_responses(404)},
        tags=["cycles"],
    )
    def get(self, request, pk: int):
        cycle = Cycle.objects.filter(pk=pk).first()
        if cycle is None:
            raise NotFound(f"Cycle #{pk} does not exist")
        return Response(CycleDetailSerializer(cycle).data)
