from django.contrib import admin

from .models import DailyCounter, LedgerEntry, Reservation


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "scope", "model", "input_tokens", "output_tokens",
                    "cache_creation_input_tokens", "cache_read_input_tokens")
    list_filter = ("scope", "model", "day")
    date_hierarchy = "created_at"


@admin.register(DailyCounter)
class DailyCounterAdmin(ReadOnlyAdmin):
    list_display = ("day", "scope", "used", "reserved", "updated_at")
    list_filter = ("scope",)


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "day", "scope", "amount", "status", "expires_at")
    list_filter = ("status", "scope")
