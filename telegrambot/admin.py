"""The outbox in the admin: what the agent told (or failed to tell) the Master.

The Notification model belongs to `decisions`; its admin lives here, beside the delivery
service whose `notification_retry` the "Retry now" action calls (decisions must not
import the transport above it). The telegrambot app has no models of its own yet, so
messages from strangers are not stored or shown anywhere.
"""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from budget.errors import ApplicationError
from decisions.admin import pre_block
from decisions.models import Notification

from decisions.outbox import notification_retry


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = (
        "id", "created_at", "kind", "chat_id", "status", "attempts", "short_text", "short_error",
        "next_attempt_at", "sent_at",
    )
    list_filter = ("status", "kind")
    search_fields = ("text", "last_error")
    date_hierarchy = "created_at"
    actions = ("retry_now",)
    list_per_page = 50
    fieldsets = (
        (None, {"fields": ("kind", "status", "chat_id", "approval_link", "text_block")}),
        ("Delivery", {"fields": ("attempts", "last_error", "next_attempt_at", "sent_at", "sent_parts",
                                 "telegram_message_id", "reply_markup_block", "idempotency_key")}),
        (None, {"fields": ("created_at", "updated_at")}),
    )
    readonly_fields = (
        "kind", "status", "chat_id", "approval_link", "text_block", "attempts", "last_error", "next_attempt_at",
        "sent_at", "sent_parts", "telegram_message_id", "reply_markup_block", "idempotency_key", "created_at",
        "updated_at",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Model level only: it enables the "Retry now" action; rows are never edited.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="text")
    def short_text(self, obj: Notification) -> str:
        return obj.text[:80] + ("…" if len(obj.text) > 80 else "")

    @admin.display(description="last error")
    def short_error(self, obj: Notification) -> str:
        return obj.last_error[:80] + ("…" if len(obj.last_error) > 80 else "")

    @admin.display(description="text")
    def text_block(self, obj: Notification) -> str:
        return pre_block(obj.text)

    @admin.display(description="buttons")
    def reply_markup_block(self, obj: Notification) -> str:
        return pre_block(obj.reply_markup)

    @admin.display(description="approval")
    def approval_link(self, obj: Notification) -> str:
        if obj.approval_id is None:
            return "-"
        url = reverse("admin:decisions_approval_change", args=[obj.approval_id])
        return format_html('<a href="{}">Approval #{}</a>', url, obj.approval_id)

    @admin.action(description="Retry now", permissions=("change",))
    def retry_now(self, request, queryset):
        queued = []
        for notification_id in queryset.order_by("id").values_list("id", flat=True):
            try:
                notification_retry(notification_id=notification_id)
                queued.append(notification_id)
            except ApplicationError as exc:
                messages.warning(request, f"#{notification_id} not retried: {exc}")
        if queued:
            messages.success(request, f"Queued {len(queued)} notification(s) for delivery now.")
