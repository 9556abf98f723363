"""What Telegram brought in (updates, as received) and the conversation (chat messages).

`TelegramUpdate` is the inbox: every update, from the webhook or from polling, is stored
first (idempotently on Telegram's `update_id`) and handled afterwards, so one that fails
is retried by the sweep rather than lost. `ChatMessage` is the conversation with every
chat, strangers included (so the admin shows who knocked), and the history the reactive
chat gives Claude. `BotState` and `NotificationDelivery` hold the outbox delivery's shared
state (flood control, the grown request timeout, leases, restarted expiry windows).
"""

from django.db import models
from django.db.models import Q


class UpdateStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"


class UpdateSource(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    POLLING = "polling", "Polling"


class TelegramUpdate(models.Model):
    """One update as Telegram sent it; handled once, retried on failure, never dropped."""

    update_id = models.BigIntegerField(unique=True)
    payload = models.JSONField()
    source = models.CharField(max_length=16, choices=UpdateSource.choices, default=UpdateSource.WEBHOOK)
    status = models.CharField(max_length=16, choices=UpdateStatus.choices, default=UpdateStatus.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="when the retry sweep may take it (if still received)"
    )
    processing_until = models.DateTimeField(
        null=True, blank=True, help_text="claimed by a worker until then (a crashed worker's claim expires)"
    )
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-update_id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="tg_update_due")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=UpdateStatus.values), name="tg_update_status_valid"),
        ]

    def __str__(self) -> str:
        return f"Update {self.update_id} ({self.status})"

    @property
    def kind(self) -> str:
        """'message', 'callback_query', ...: the update's one optional field."""
        return next((key for key in self.payload if key != "update_id"), "") if isinstance(self.payload, dict) else ""


class Direction(models.TextChoices):
    IN = "in", "Received"
    OUT = "out", "Sent"


class MessageKind(models.TextChoices):
    CHAT = "chat", "Chat"  # the conversation with Claude (the only kind given to it as history)
    COMMAND = "command", "Command"
    ANSWER = "answer", "Answer to a question"
    NOTICE = "notice", "Notice to a stranger"
    ERROR = "error", "Error reply"
    OTHER = "other", "Other"


class ChatMessage(models.Model):
    """A message of a chat: received (with its sender) or sent (queued in the outbox)."""

    chat_id = models.BigIntegerField()
    direction = models.CharField(max_length=3, choices=Direction.choices)
    kind = models.CharField(max_length=16, choices=MessageKind.choices, default=MessageKind.CHAT)
    text = models.TextField(blank=True)
    user_id = models.BigIntegerField(null=True, blank=True, help_text="the sender (received messages)")
    username = models.CharField(max_length=64, blank=True)
    first_name = models.CharField(max_length=128, blank=True)
    is_master = models.BooleanField(default=False, help_text="a Master chat (MASTER_CHAT_IDS)")
    telegram_message_id = models.BigIntegerField(null=True, blank=True)
    reply_to_message_id = models.BigIntegerField(null=True, blank=True)
    update_id = models.BigIntegerField(
        null=True, blank=True, help_text="the update it came in with, or the one it answers"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["chat_id", "created_at"], name="chat_message_chat_created")]
        constraints = [
            models.CheckConstraint(condition=Q(direction__in=Direction.values), name="chat_message_direction_valid"),
            models.CheckConstraint(condition=Q(kind__in=MessageKind.values), name="chat_message_kind_valid"),
            # One message in and at most one reply out per update, so a retried update
            # neither stores its message twice nor answers it twice.
            models.UniqueConstraint(
                fields=["update_id", "direction"],
                condition=Q(update_id__isnull=False),
                name="chat_message_one_per_update_direction",
            ),
        ]

    def __str__(self) -> str:
        arrow = "←" if self.direction == Direction.IN else "→"
        return f"{arrow} {self.chat_id}: {self.text[:60]}"


# --- outbox delivery state (the outbox rows themselves are decisions.Notification) ------------


class BotState(models.Model):
    """One row per bot, shared by every delivery worker through the database.

    Flood control is Telegram's per bot: a 429's retry_after pauses every send of the bot
    (`paused_until`), not only the message that met it. `request_timeout` grows after a
    request timed out, so a slow Telegram is waited for instead of being sent the same
    message again and again; it settles back once answers are quick again.
    """

    bot_id = models.CharField(
        max_length=32, primary_key=True, help_text="the numeric id before the token's colon (never its secret)"
    )
    paused_until = models.DateTimeField(null=True, blank=True, help_text="no send before this (flood control)")
    pause_reason = models.CharField(max_length=200, blank=True)
    request_timeout = models.FloatField(
        null=True, blank=True, help_text="seconds per request phase; empty: TELEGRAM_REQUEST_TIMEOUT_SECONDS"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "bot delivery state"

    def __str__(self) -> str:
        return f"Bot {self.bot_id}"


class NotificationDelivery(models.Model):
    """What delivery knows about one outbox row beyond the row itself (created on demand).

    `leased_until`: a worker is sending it until then ("Retry now" waits for that rather
    than letting a second worker send it at once). `window_started_at`: set by "Retry now",
    so a retried row gets a fresh NOTIFICATION_MAX_AGE_SECONDS instead of the age it had.
    """

    notification = models.OneToOneField(
        "decisions.Notification", primary_key=True, on_delete=models.CASCADE, related_name="delivery"
    )
    leased_until = models.DateTimeField(null=True, blank=True)
    window_started_at = models.DateTimeField(
        null=True, blank=True, help_text="expiry counts from here (else from when the row was written)"
    )

    def __str__(self) -> str:
        return f"Delivery of notification #{self.notification_id}"
