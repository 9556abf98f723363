"""The budget in the admin: read-only records; today's totals come from the counters."""

from django.contrib import admin

from agentsite.core.admin_helpers import ReadOnlyAdmin

from .models import DailyCounter, LedgerEntry, Reservation
from .pricing import money_text
from .selectors import budget_cost, budget_stats


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    change_list_template = "admin/budget/ledgerentry/change_list.html"
    list_display = ("created_at", "day", "scope", "model", "input_tokens", "output_tokens",
                    "cache_creation_input_tokens", "cache_read_input_tokens", "total", "cost", "estimated",
                    "over_reservation", "request_id")
    list_filter = ("scope", "model", "day", "estimated", "over_reservation")
    search_fields = ("request_id",)
    date_hierarchy = "created_at"
    list_per_page = 100

    @admin.display(description="total")
    def total(self, obj: LedgerEntry) -> int:
        return obj.total_tokens

    @admin.display(description="cost (est.)", ordering="cost_micros")
    def cost(self, obj: LedgerEntry) -> str:
        return money_text(obj.cost_micros)

    def changelist_view(self, request, extra_context=None):
        # Today's totals per scope, read from the DailyCounter rows (one per scope),
        # not by summing the ledger.
        cost = {name: {scope: money_text(micros) for scope, micros in by_scope.items()}
                for name, by_scope in budget_cost().items() if name in ("today", "this_month")}
        return super().changelist_view(request, {**(extra_context or {}), "budget": budget_stats(), "cost": cost})


@admin.register(DailyCounter)
class DailyCounterAdmin(ReadOnlyAdmin):
    list_display = ("day", "scope", "used", "reserved", "cost_used", "cost_reserved", "updated_at")
    list_filter = ("scope",)
    date_hierarchy = "day"

    @admin.display(description="cost used (est.)", ordering="used_cost_micros")
    def cost_used(self, obj: DailyCounter) -> str:
        return money_text(obj.used_cost_micros)

    @admin.display(description="cost reserved", ordering="reserved_cost_micros")
    def cost_reserved(self, obj: DailyCounter) -> str:
        return money_text(obj.reserved_cost_micros)


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "day", "scope", "amount", "cost_bound", "status", "expires_at", "closed_at")
    list_filter = ("status", "scope")

    @admin.display(description="cost bound", ordering="cost_micros")
    def cost_bound(self, obj: Reservation) -> str:
        return money_text(obj.cost_micros)
