from collections.abc import Callable

from django.contrib import admin, messages

from agentsite.core.errors import ApplicationError

from .models import Skill, Task, TaskSource
from .services import task_cancel, task_complete, task_fail, task_requeue


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    """Status, result and error change only through the task services (the admin actions),
    so the admin keeps the state machine's rules, locks and memories."""

    list_display = ("id", "title", "priority", "status", "source", "created_at", "finished_at")
    list_filter = ("status", "priority", "source")
    search_fields = ("title",)
    readonly_fields = (
        "status", "result", "error", "source", "created_at", "updated_at", "started_at", "finished_at",
    )
    date_hierarchy = "created_at"
    actions = ("mark_done", "mark_failed", "put_back_in_queue", "cancel")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.source = TaskSource.ADMIN
        super().save_model(request, obj, form, change)

    def _each(self, request, queryset, *, service: Callable[..., Task], done_word: str) -> None:
        """Run one transition per selected task; a refusal is an error message, not a 500."""
        done = []
        for task_id in queryset.order_by("id").values_list("id", flat=True):
            try:
                service(task_id=task_id)
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                done.append(f"#{task_id}")
        if done:
            messages.success(request, f"{done_word.capitalize()} {len(done)} task(s): {', '.join(done)}.")

    @admin.action(description="Mark selected running tasks done", permissions=("change",))
    def mark_done(self, request, queryset):
        result = f"Marked done in the admin by {request.user.get_username()}."
        self._each(request, queryset, service=lambda task_id: task_complete(task_id=task_id, result=result),
                   done_word="marked done")

    @admin.action(description="Mark selected open tasks failed", permissions=("change",))
    def mark_failed(self, request, queryset):
        error = f"Marked failed in the admin by {request.user.get_username()}."
        self._each(request, queryset, service=lambda task_id: task_fail(task_id=task_id, error=error),
                   done_word="marked failed")

    @admin.action(description="Put selected running tasks back in the queue", permissions=("change",))
    def put_back_in_queue(self, request, queryset):
        self._each(request, queryset, service=task_requeue, done_word="put back in the queue")

    @admin.action(description="Cancel selected pending tasks", permissions=("change",))
    def cancel(self, request, queryset):
        self._each(request, queryset, service=task_cancel, done_word="cancelled")


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ("name", "practice_count", "last_practised_at")
    search_fields = ("name", "description")
    readonly_fields = ("key", "created_at", "updated_at")
