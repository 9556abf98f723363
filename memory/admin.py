from django.contrib import admin

from .models import MemoryEntry


@admin.register(MemoryEntry)
class MemoryEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "short_content", "cycle_id")
    list_filter = ("kind",)
    search_fields = ("content",)
    date_hierarchy = "created_at"

    @admin.display(description="content")
    def short_content(self, obj):
        return obj.content[:120]
