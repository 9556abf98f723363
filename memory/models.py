"""The agent's memory: what it did, noticed, learned and was told, between cycles."""

from django.db import models


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


class MemoryEntry(models.Model):
    kind = models.CharField(max_length=32, choices=MemoryKind.choices)
    content = models.TextField()
    meta = models.JSONField(default=dict, blank=True)
    # A plain id, not a foreign key: memory sits below the decisions app in the layers.
    cycle_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # By kind, newest first, ties by id (memory_recent, memory_latest): read in index order.
        indexes = [models.Index(fields=["kind", "-created_at", "-id"], name="memory_kind_newest")]
        verbose_name_plural = "memory entries"

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.content[:60]}"
