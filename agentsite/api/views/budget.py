"""The token budget: today's state plus history, and the ledger of model calls."""

from drf_spectacular.utils import extend_schema_view
from rest_framework.response import Response

from budget.selectors import budget_cost, budget_history, budget_stats, ledger_browse

from ..filters import LedgerFilter
from ..serializers import BudgetSerializer, LedgerEntrySerializer
from .base import ApiListView, ApiView, documented

HISTORY_DAYS = 14


class BudgetApi(ApiView):
    @documented(
        "budget_retrieve", "Today's budget (the /stats payload) with 14 days of history and the cost today and "
        "this month (USD, estimated from the price table)", "budget",
        ok=BudgetSerializer,
    )
    def get(self, request):
        data = {**budget_stats(), "history": budget_history(days=HISTORY_DAYS), "cost": budget_cost()}
        return Response(BudgetSerializer(data).data)


@extend_schema_view(get=documented(
    "ledger_list", "The ledger: one entry per model call, newest first", "budget",
    ok=LedgerEntrySerializer(many=True), errors=(400, 404),
))
class LedgerListApi(ApiListView):
    browse = staticmethod(ledger_browse)
    filterset_class = LedgerFilter
    output_serializer = LedgerEntrySerializer
