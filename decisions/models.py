"""The agent's state, its cycles (the audit trail), approvals and the outbox."""

from django.db import models
from django.db.models import Q


class AgentState(models.Model):
    """A singleton row (pk=1): pause flag, schedule, and the cross-process cycle lock."""

    SINGLETON_ID = 1

    paused = models.BooleanField(default=False)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_cycle_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    lock_token = models.UUIDField(null=True, blank=True)
    lock_expires_at = models.DateTimeField(null=True, blank=True)
    # The due time a proactive tick is waiting for (so the other ticks leave it to that one);
    # cleared when a cycle takes the lock.
    tick_waiting_for = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "agent state"
        # Controlling the agent is a permission of its own, not "change": the admin never
        # edits this row, and staff status alone must not be enough to steer the agent.
        permissions = [("control_agent", "Can pause and resume the agent and start a cycle")]
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="agent_state_singleton"),
        ]

    def __str__(self) -> str:
        return "paused" if self.paused else "running"


class CycleStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


class Cycle(models.Model):
    status = models.CharField(max_length=24, choices=CycleStatus.choices, default=CycleStatus.RUNNING)
    reason = models.CharField(max_length=64, blank=True)
    trigger = models.CharField(max_length=16, default="schedule")
    prompt = models.TextField(blank=True)
    raw_response = models.TextField(blank=True)
    decision = models.JSONField(null=True, blank=True)
    action = models.CharField(max_length=32, blank=True, db_index=True)
    certainty = models.FloatField(null=True, blank=True)
    significance = models.FloatField(null=True, blank=True)
    executed = models.BooleanField(default=False)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_creation_input_tokens = models.PositiveIntegerField(default=0)
    cache_read_input_tokens = models.PositiveIntegerField(default=0)
    # Every model call of the cycle (the decision's and its action's own), summed from the ledger
    # rows as they were written; the tokens above likewise.
    cost_micros = models.BigIntegerField(default=0, help_text="Estimated cost of all the cycle's calls, in micro-dollars")
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["status", "started_at"], name="cycle_status_started")]
        constraints = [
            models.CheckConstraint(
                condition=Q(certainty__isnull=True) | Q(certainty__gte=0, certainty__lte=1),
                name="cycle_certainty_range",
            ),
            models.CheckConstraint(
                condition=Q(significance__isnull=True) | Q(significance__gte=0, significance__lte=1),
                name="cycle_significance_range",
            ),
            models.CheckConstraint(condition=Q(cost_micros__gte=0), name="cycle_cost_non_negative"),
        ]

    def __str__(self) -> str:
        return f"Cycle {self.pk} {self.status} {self.action}".strip()

    @property
    def tokens(self) -> dict[str, int]:
        return {
            "input": self.input_tokens,
            "output": self.output_tokens,
            "cache_creation": self.cache_creation_input_tokens,
            "cache_read": self.cache_read_input_tokens,
        }


class ApprovalKind(models.TextChoices):
    DECISION = "decision", "Decision awaiting consent"
    QUESTION = "question", "Question for the Master"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    ANSWERED = "answered", "Answered"
    EXPIRED = "expired", "Expired"
    EXECUTED = "executed", "Executed"
    FAILED = "failed", "Failed"


class Surface(models.TextChoices):
    ADMIN = "admin", "Admin"
    API = "api", "API"
    TELEGRAM = "telegram", "Telegram"
    CLI = "cli", "Command line"
    SYSTEM = "system", "System"


class Approval(models.Model):
    kind = models.CharField(max_length=16, choices=ApprovalKind.choices)
    status = models.CharField(max_length=16, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING)
    action = models.CharField(max_length=32, blank=True)
    payload = models.JSONField(default=dict, blank=True, help_text="the decision, or the question and options")
    question = models.TextField(blank=True)
    options = models.JSONField(default=list, blank=True)
    cycle = models.ForeignKey(Cycle, null=True, blank=True, on_delete=models.SET_NULL, related_name="approvals")
    decided_by = models.CharField(max_length=150, blank=True)
    decided_via = models.CharField(max_length=16, choices=Surface.choices, blank=True)
    note = models.TextField(blank=True)
    answer = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Deciding (approve, reject, answer) in the admin and the API. On Telegram the Masters
        # are the chats in MASTER_CHAT_IDS; the command line trusts whoever has the shell.
        permissions = [("decide_approval", "Can approve, reject and answer approvals")]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="approval_status_expiry"),
            # approval_list by status, newest first (the prompt's pending approvals).
            models.Index(fields=["status", "-created_at", "-id"], name="approval_status_recent"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ApprovalStatus.values), name="approval_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(kind=ApprovalKind.QUESTION) | ~Q(status__in=["approved", "executed", "failed"]),
                name="approval_question_statuses",
            ),
        ]

    def __str__(self) -> str:
        what = self.action if self.kind == ApprovalKind.DECISION else "question"
        return f"Approval #{self.pk} {what} ({self.status})"


class NotificationKind(models.TextChoices):
    STARTUP = "startup", "Agent online"
    APPROVAL_REQUEST = "approval_request", "Approval request"
    SIGNIFICANT_RESULT = "significant_result", "Significant result"
    BUDGET_EXHAUSTED = "budget_exhausted", "Budget exhausted"
    APPROVAL_EXPIRED = "approval_expired", "Approval expired"
    MESSAGE = "message", "Message"
    BUDGET_ALERT = "budget_alert", "Budget alert"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Notification(models.Model):
    """The outbox: written with the change that caused it, delivered later, never lost."""

    chat_id = models.BigIntegerField(null=True, blank=True, help_text="empty when no Master is configured")
    text = models.TextField()
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    status = models.CharField(max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    telegram_message_id = models.BigIntegerField(null=True, blank=True)
    sent_parts = models.PositiveIntegerField(default=0, help_text="parts of a long message already delivered")
    idempotency_key = models.CharField(max_length=200, unique=True)
    approval = models.ForeignKey(
        Approval, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due")]

    def __str__(self) -> str:
        kind = self.get_kind_display()
        if self.chat_id is None:  # written while no Master chat was configured
            state = "waiting" if self.status == NotificationStatus.PENDING else self.status
            return f"{kind} ({state}: no Master chat configured)"
        if self.status == NotificationStatus.PENDING and self.last_error.startswith("waiting: Telegram"):
            return f"{kind} to {self.chat_id} (waiting: Telegram not configured)"
        return f"{kind} to {self.chat_id} ({self.status})"
