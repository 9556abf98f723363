from django.contrib import admin

from .models import Skill, Task, TaskSource


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "priority", "status", "source", "created_at", "finished_at")
    list_filter = ("status", "priority", "source")
    search_fields = ("title",)
    readonly_fields = ("source", "created_at", "updated_at", "started_at", "finished_at")
    date_hierarchy = "created_at"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.source = TaskSource.ADMIN
        super().save_model(request, obj, form, change)


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ("name", "practice_count", "last_practised_at")
    search_fields = ("name", "description")
    readonly_fields = ("key", "created_at", "updated_at")
