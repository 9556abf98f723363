"""Telegram in the admin: the outbox (what the agent told, or failed to tell, the Master;
a row held for missing configuration shows "waiting: ..." rather than a failure),
the conversations (strangers' messages included: filter by "is master"), the stored
updates and each bot's delivery state (a flood-control pause, the current request timeout;
keyed by the bot's public id, never its token). The Notification model belongs to
`decisions`; its admin sits here with the transport that delivers it. "Retry now" calls
`decisions.outbox.notification_retry`.
"""

from django.contrib import admin, messages

from agentsite.core.errors import ApplicationError
from agentsite.core.admin_helpers import ReadOnlyAdmin, change_link, pre_block
from decisions.models import Notification, NotificationStatus
from decisions.outbox import WAITING_NO_TELEGRAM, notification_retry

from .models import BotState, ChatMessage, TelegramUpdate, UpdateStatus
from .taps import notification_keyboard
from .updates import update_retry


class RetryOnlyAdmin(admin.ModelAdmin):
    """Rows are read, and put back in their queue by a "Retry now" action, never edited."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Model level only: it enables the "Retry now" action; rows are never edited.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(RetryOnlyAdmin):
    list_display = (
        "id", "created_at", "kind", "chat_id", "state", "attempts", "short_text", "short_error",
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
                                 "telegram_message_id", "buttons_block", "idempotency_key")}),
        (None, {"fields": ("created_at", "updated_at")}),
    )
    readonly_fields = (
        "kind", "status", "chat_id", "approval_link", "text_block", "attempts", "last_error", "next_attempt_at",
        "sent_at", "sent_parts", "telegram_message_id", "buttons_block", "idempotency_key", "created_at",
        "updated_at",
    )

    @admin.display(description="status", ordering="status")
    def state(self, obj: Notification) -> str:
        """The status, or what a held row waits for (a waiting row is not a failed one)."""
        if obj.chat_id is None and obj.status == NotificationStatus.PENDING:
            return "waiting: no Master chat configured"
        if obj.status == NotificationStatus.PENDING and obj.last_error == WAITING_NO_TELEGRAM:
            return "waiting: Telegram not configured"
        return obj.get_status_display()

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
    def buttons_block(self, obj: Notification) -> str:
        keyboard = notification_keyboard(obj)  # derived as delivery does: nothing stored
        return pre_block(keyboard.to_dict() if keyboard else None)

    @admin.display(description="approval")
    def approval_link(self, obj: Notification) -> str:
        return change_link("admin:decisions_approval_change", obj.approval_id, "Approval")

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


# --- the Telegram app's own models ------------------------------------------------------


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    """Every chat's messages, strangers' included (filter "is master: No" to see who knocked)."""

    list_display = ("id", "created_at", "chat_id", "direction", "is_master", "kind", "sender", "short_text")
    list_filter = ("is_master", "direction", "kind")
    search_fields = ("text", "username", "first_name", "=chat_id")
    date_hierarchy = "created_at"
    list_per_page = 50
    readonly_fields = (
        "chat_id", "direction", "kind", "is_master", "text", "user_id", "username", "first_name",
        "telegram_message_id", "reply_to_message_id", "update_id", "created_at",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="from")
    def sender(self, obj: ChatMessage) -> str:
        if obj.username:
            return f"@{obj.username}"
        return obj.first_name or (str(obj.user_id) if obj.user_id else "-")

    @admin.display(description="text")
    def short_text(self, obj: ChatMessage) -> str:
        return obj.text[:80] + ("…" if len(obj.text) > 80 else "")


@admin.register(TelegramUpdate)
class TelegramUpdateAdmin(RetryOnlyAdmin):
    """The inbox of updates, read-only; a failed one can be put back for another try."""

    list_display = ("update_id", "received_at", "source", "update_kind", "status", "attempts", "short_error",
                    "processed_at")
    list_filter = ("status", "source")
    search_fields = ("=update_id", "last_error")
    date_hierarchy = "received_at"
    list_per_page = 50
    actions = ("retry_now",)
    fields = ("update_id", "source", "status", "attempts", "last_error", "next_attempt_at", "processing_until",
              "received_at", "processed_at", "payload_block")
    readonly_fields = fields

    @admin.display(description="kind")
    def update_kind(self, obj: TelegramUpdate) -> str:
        return obj.kind

    @admin.display(description="last error")
    def short_error(self, obj: TelegramUpdate) -> str:
        return obj.last_error[:80] + ("…" if len(obj.last_error) > 80 else "")

    @admin.display(description="payload")
    def payload_block(self, obj: TelegramUpdate) -> str:
        return pre_block(obj.payload)

    @admin.action(description="Retry now", permissions=("change",))
    def retry_now(self, request, queryset):
        queued, refused = 0, 0
        for update_id in queryset.exclude(status=UpdateStatus.PROCESSED).values_list("update_id", flat=True):
            try:
                update_retry(update_id=update_id)
            except ApplicationError as exc:  # being processed right now, or processed meanwhile
                messages.warning(request, f"Update {update_id} not retried: {exc.message}.")
                refused += 1
                continue
            queued += 1
        if queued:
            messages.success(request, f"Queued {queued} update(s) for another try.")
        elif not refused:
            messages.info(request, "Nothing to retry: the selected updates were processed.")


@admin.register(BotState)
class BotStateAdmin(ReadOnlyAdmin):
    """Each bot's delivery state, read-only: a flood-control pause and the request timeout in force
    (empty: TELEGRAM_REQUEST_TIMEOUT_SECONDS). Written only by `telegrambot.bot_state`."""

    list_display = ("bot_id", "paused_until", "pause_reason", "request_timeout", "updated_at")
    fields = ("bot_id", "paused_until", "pause_reason", "request_timeout", "updated_at")
    readonly_fields = fields
