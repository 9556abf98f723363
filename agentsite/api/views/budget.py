"""The token budget: today's state plus history, and the ledger of model calls."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from budget.models import LedgerEntry
from budget.selectors import budget_history, budget_stats

from ..serializers import BudgetSerializer, LedgerEntrySerializer, LedgerFilter
from .base import ApiListView, ApiView, error_responses

HISTORY_DAYS = 14


class BudgetApi(ApiView):
    @extend_schema(
        operation_id="budget_retrieve",
        summary="Today's budget (the /stats payload) with 14 days of history",
        responses={200: BudgetSerializer, **error_responses()},
        tags=["budget"],
    )
    def get(self, request):
        data = {**budget_stats(), "history": budget_history(days=HISTORY_DAYS)}
        return Response(BudgetSerializer(data).data)


class LedgerListApi(ApiListView):
    @extend_schema(
        operation_id="ledger_list",
        summary="The ledger: one entry per model call, newest first",
        parameters=[LedgerFilter],
        responses={200: LedgerEntrySerializer(many=True), **error_responses(400, 404)},
        tags=["budget"],
    )
    def get(self, request):
        filters = self.query(LedgerFilter)
        entries = LedgerEntry.objects.filter(**filters).order_by("-created_at", "-id")
        return self.paginated(entries, LedgerEntrySerializer)
