"""The agent's memory: what it did, noticed, learned and was told, between cycles."""

from django.db import models

from agentsite.core.surfaces import Surface


class MemoryKind(models.TextChoices):
    CYCLE_SUMMARY = "cycle_summary", "Cycle summary"
    WORKING = "working", "Working memory"
    AROMA = "aroma", "Prompt aroma"
    REFLECTION = "reflection", "Reflection"
    SKILL_NOTE = "skill_note", "Skill note"
    TASK_RESULT = "task_result", "Task result"
    GUIDANCE = "guidance", "Guidance from the Master"
    FOCUS = "focus", "Current focus"
    OUTCOME = "outcome", "Approval outcome"
    DIGEST = "digest", "Digest of older entries"


class RevisionField(models.TextChoices):
    CONTENT = "content", "Content"
    PINNED = "pinned", "Pinned"
    ARCHIVED = "archived", "Archived"


class MemoryEntry(models.Model):
    kind = models.CharField(max_length=32, choices=MemoryKind.choices)
    content = models.TextField()
    meta = models.JSONField(default=dict, blank=True)
    # A plain id, not a foreign key: memory sits below the decisions app in the layers.
    cycle_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The Master's shaping: a pinned entry is in every prompt; an archived one in none
    # (and out of the default lists), kept for the record and for search.
    pinned = models.BooleanField(default=False)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # By kind, newest first, ties by id (memory_recent, memory_latest): read in index order.
            models.Index(fields=["kind", "-created_at", "-id"], name="memory_kind_newest"),
            # The same for the live entries only (the prompt's and the cycle view's reads skip the
            # archived): without it PostgreSQL walks created_at back through archived rows.
            models.Index(fields=["kind", "-created_at", "-id"], condition=models.Q(archived_at__isnull=True),
                         name="memory_kind_live_newest"),
            # The few pinned entries, newest first (memory.prompting): a small partial index
            # whose condition is the very WHERE the ORM writes for pinned=True ("pinned").
            models.Index(fields=["-created_at", "-id"], condition=models.Q(pinned=True), name="memory_pinned_newest"),
        ]
        constraints = [
            # Archiving unpins (memory.shaping): an archived entry is never in a prompt.
            models.CheckConstraint(condition=~models.Q(pinned=True, archived_at__isnull=False),
                                   name="memory_archived_not_pinned"),
        ]
        verbose_name_plural = "memory entries"

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.content[:60]}"


class MemoryRevision(models.Model):
    """One audited change to an entry: which field, from what to what, by whom, through what."""

    entry = models.ForeignKey(MemoryEntry, on_delete=models.CASCADE, related_name="revisions")
    field = models.CharField(max_length=16, choices=RevisionField.choices)
    before = models.TextField(blank=True)
    after = models.TextField(blank=True)
    by = models.CharField(max_length=150, blank=True)
    via = models.CharField(max_length=16, choices=Surface.choices)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["entry", "-at"], name="memory_revision_entry")]
        constraints = [
            models.CheckConstraint(condition=models.Q(field__in=RevisionField.values), name="memory_revision_field_valid"),
            models.CheckConstraint(condition=models.Q(via__in=Surface.values), name="memory_revision_via_valid"),
        ]

    def __str__(self) -> str:
        return f"#{self.entry_id} {self.field} via {self.via}"
