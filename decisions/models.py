"""The agent's state, its cycles (the audit trail), approvals and the outbox."""

from django.db import models
from django.db.models import Q

from agentsite.core.surfaces import Surface  # noqa: F401  (re-exported: decisions.models.Surface)

from .rules import DEFAULT_MIN_CERTAINTY, PolicyMode


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
    # Changed (a new random value) with every change of the action policy, in the same
    # transaction: the cycle's one read carries it, and the policy is re-read only when it
    # differs from the process's cached one. None: no policy was ever set (the defaults).
    policy_version = models.UUIDField(null=True, blank=True)
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
    note = models.TextField(blank=True)  # on a rejection: the Master's feedback for the agent
    answer = models.TextField(blank=True)
    # The Master's edit of a decision's details, validated by the action's schema; the
    # original stays in `payload`. Execution runs these when set (`details_to_run`).
    edited_details = models.JSONField(null=True, blank=True, help_text="the details as the Master edited them")
    # A Telegram "Edit" tap waiting for the Master's next text in this chat.
    edit_chat_id = models.BigIntegerField(null=True, blank=True)
    edit_requested_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True, help_text="when the one reminder was queued")
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
            # Only an approved decision carries an edit (approving is what applies it).
            models.CheckConstraint(
                condition=Q(edited_details__isnull=True)
                | Q(kind=ApprovalKind.DECISION, status__in=["approved", "executed", "failed"]),
                name="approval_edit_only_approved_decisions",
            ),
            models.CheckConstraint(
                condition=Q(edit_chat_id__isnull=True, edit_requested_at__isnull=True)
                | Q(edit_chat_id__isnull=False, edit_requested_at__isnull=False),
                name="approval_edit_request_whole",
            ),
        ]

    @property
    def details_to_run(self) -> dict:
        """What execution runs: the Master's edit when there is one, else the decision's own."""
        if self.edited_details is not None:
            return self.edited_details
        return (self.payload or {}).get("details") or {}

    def __str__(self) -> str:
        what = self.action if self.kind == ApprovalKind.DECISION else "question"
        return f"Approval #{self.pk} {what} ({self.status})"


class ActionPolicy(models.Model):
    """The Master's policy for one action (decisions.policy). No row: act at 0.8."""

    action = models.CharField(max_length=32, unique=True)
    mode = models.CharField(max_length=16, choices=PolicyMode.choices, default=PolicyMode.ACT_AT)
    min_certainty = models.FloatField(
        default=DEFAULT_MIN_CERTAINTY, help_text="act alone at or above this certainty (mode act_at)"
    )
    approval_timeout_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="how long its approvals wait; empty: APPROVAL_TIMEOUT_SECONDS"
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["action"]
        verbose_name_plural = "action policies"
        constraints = [
            models.CheckConstraint(condition=Q(mode__in=PolicyMode.values), name="action_policy_mode_valid"),
            models.CheckConstraint(
                condition=Q(min_certainty__gte=0, min_certainty__lte=1), name="action_policy_certainty_range"
            ),
            models.CheckConstraint(
                condition=Q(approval_timeout_seconds__isnull=True) | Q(approval_timeout_seconds__gt=0),
                name="action_policy_timeout_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action}: {self.mode}"


class NotificationKind(models.TextChoices):
    STARTUP = "startup", "Agent online"
    APPROVAL_REQUEST = "approval_request", "Approval request"
    SIGNIFICANT_RESULT = "significant_result", "Significant result"
    BUDGET_EXHAUSTED = "budget_exhausted", "Budget exhausted"
    APPROVAL_EXPIRED = "approval_expired", "Approval expired"
    APPROVAL_REMINDER = "approval_reminder", "Approval reminder"
    MESSAGE = "message", "Message"
    DIGEST = "digest", "Digest"
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


# --- the Master's own schedules (decisions/master_schedules.py) -----------------------------


class ScheduleKind(models.TextChoices):
    TASK = "task", "Queue a task"
    DIGEST = "digest", "Send a digest"


class MasterSchedule(models.Model):
    """Recurring work the Master defines: a 5-field cron in UTC; each run queues a Task or
    sends a digest. `next_run_at` is set whenever it is enabled (a constraint)."""

    text = models.TextField(blank=True, help_text="what to do (a task's first line is its title); a digest's heading")
    cron = models.CharField(max_length=100, help_text="5 fields, UTC: minute hour day-of-month month day-of-week")
    kind = models.CharField(max_length=16, choices=ScheduleKind.choices, default=ScheduleKind.TASK)
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    runs = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_via = models.CharField(max_length=16, choices=Surface.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["enabled", "next_run_at"], name="master_schedule_due")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ScheduleKind.values), name="master_schedule_kind_valid"),
            models.CheckConstraint(condition=Q(created_via__in=Surface.values), name="master_schedule_via_valid"),
            models.CheckConstraint(condition=~Q(cron=""), name="master_schedule_cron_not_empty"),
            models.CheckConstraint(
                condition=~Q(kind=ScheduleKind.TASK) | ~Q(text=""), name="master_schedule_task_has_text"
            ),
            models.CheckConstraint(
                condition=Q(enabled=False) | Q(next_run_at__isnull=False), name="master_schedule_enabled_has_next_run"
            ),
        ]

    def __str__(self) -> str:
        what = self.text.splitlines()[0][:60] if self.text else self.get_kind_display()
        return f"Schedule #{self.pk} {self.cron}: {what}"


class ScheduleSeed(models.Model):
    """A default schedule created once (e.g. the daily digest): once recorded, a deleted
    default is never created again."""

    key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key
