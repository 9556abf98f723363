"""Money in the API: stored as integer micro-dollars, shown as exact USD decimal strings."""

from rest_framework import serializers

from budget.pricing import usd


class UsdField(serializers.DecimalField):
    """Micro-dollars (an int) out as USD with six decimals ("0.012345"); null stays null."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(max_digits=20, decimal_places=6, **kwargs)

    def to_representation(self, value):
        return None if value is None else super().to_representation(usd(int(value)))


class CostByScopeSerializer(serializers.Serializer):
    proactive = UsdField()
    reactive = UsdField()
    total = UsdField()


class BudgetCostSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="this UTC month, YYYY-MM")
    today = CostByScopeSerializer(help_text="today's cost in USD (estimated from the price table)")
    this_month = CostByScopeSerializer(help_text="this month's cost so far in USD, today included")
    limit = UsdField(allow_null=True, help_text="PROACTIVE_DAILY_COST_LIMIT_USD; null when no cost limit is set")
