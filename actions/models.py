"""What the agent works on (tasks) and what it is learning (skills)."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

PRIORITY_MOST_URGENT = 1
PRIORITY_LEAST_URGENT = 5
PRIORITY_DEFAULT = 3
# The one length limit of a task title and of a skill name: the model fields use them,
# and so do the services and the action schemas that check input before it gets here.
TITLE_MAX_CHARS = 200
SKILL_NAME_MAX_CHARS = 200


class TaskStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = (TaskStatus.PENDING, TaskStatus.RUNNING)
# The rest (task_status_valid allows no other value): "not closed" is "open".
CLOSED_STATUSES = (TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.CANCELLED)


class TaskSource(models.TextChoices):
    API = "api", "API"
    TELEGRAM = "telegram", "Telegram"
    ADMIN = "admin", "Admin"
    AGENT = "agent", "Agent"
    CLI = "cli", "Command line"


class Task(models.Model):
    title = models.CharField(max_length=TITLE_MAX_CHARS)
    description = models.TextField(blank=True)
    priority = models.PositiveSmallIntegerField(
        default=PRIORITY_DEFAULT,
        validators=[MinValueValidator(PRIORITY_MOST_URGENT), MaxValueValidator(PRIORITY_LEAST_URGENT)],
        help_text="1 = most urgent … 5 = least",
    )
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    result = models.TextField(blank=True)
    error = models.TextField(blank=True)
    source = models.CharField(max_length=16, choices=TaskSource.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["priority", "created_at", "id"]
        indexes = [
            models.Index(fields=["status", "priority"], name="task_status_priority"),
            # The open tasks in the prompt's order (task_list_open reads it in index order, no
            # sort). Not partial: SQLite can't match a partial index to a bound IN (?, ?).
            models.Index(fields=["priority", "created_at", "id"], name="task_open_queue"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(priority__gte=PRIORITY_MOST_URGENT, priority__lte=PRIORITY_LEAST_URGENT),
                name="task_priority_range",
            ),
            models.CheckConstraint(condition=Q(status__in=TaskStatus.values), name="task_status_valid"),
            models.CheckConstraint(condition=Q(source__in=TaskSource.values), name="task_source_valid"),
            models.CheckConstraint(condition=~Q(title=""), name="task_title_not_empty"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


def skill_key(name: str) -> str:
    """Case- and spacing-insensitive identity of a skill name ("Rust  " == "rust")."""
    return " ".join(name.split()).casefold()[:255]


class Skill(models.Model):
    name = models.CharField(max_length=SKILL_NAME_MAX_CHARS, help_text="display name, as first written")
    # Unique normalised name, so "Python" and "python " are one skill on every database.
    key = models.CharField(max_length=255, unique=True, editable=False)
    description = models.TextField(blank=True)
    practice_count = models.PositiveIntegerField(default=0)
    notes = models.TextField(blank=True, help_text="the latest study notes, oldest trimmed first")
    last_practised_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(practice_count__gte=0), name="skill_practice_count_non_negative"),
            models.CheckConstraint(condition=~Q(key=""), name="skill_key_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.name = " ".join(self.name.split())
        self.key = skill_key(self.name)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        # `key` is not a form field, so forms (the admin) would not check its uniqueness.
        key = skill_key(self.name or "")
        if not key:
            raise ValidationError({"name": "A skill needs a name."})
        if Skill.objects.filter(key=key).exclude(pk=self.pk).exists():
            raise ValidationError({"name": f"A skill named {self.name!r} already exists."})
