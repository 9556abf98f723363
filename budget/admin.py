"""The budget in the admin: read-only records; today's totals come from the counters."""

from django.contrib import admin

from agentsite.core.admin_helpers import ReadOnlyAdmin

from .models import DailyCounter, LedgerEntry, Reservation
from .selectors import budget_stats


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    change_list_template = "admin/budget/ledgerentry/change_list.html"
    list_display = ("created_at", "day", "scope", "model", "input_tokens", "output_tokens",
                    "cache_creation_input_tokens", "cache_read_input_tokens", "total", "estimated",
                    "over_reservation", "request_id")
    list_filter = ("scope", "model", "day", "estimated", "over_reservation")
    search_fields = ("request_id",)
    date_hierarchy = "created_at"
    list_per_page = 100

    @admin.display(description="total")
    def total(self, obj: LedgerEntry) -> int:
        return obj.total_tokens

    def changelist_view(self, request, extra_context=None):
        # Today's totals per scope, read from the DailyCounter rows (one per scope),
        # not by summing the ledger.
        return super().changelist_view(request, {**(extra_context or {}), "budget": budget_stats()})


@admin.register(DailyCounter)
class DailyCounterAdmin(ReadOnlyAdmin):
    list_display = ("day", "scope", "used", "reserved", "updated_at")
    list_filter = ("scope",)
    date_hierarchy = "day"


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "day", "scope", "amount", "status", "expires_at", "closed_at")
    list_filter = ("status", "scope")
