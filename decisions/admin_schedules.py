"""The Master's schedules in the admin: created, changed, enabled/disabled and deleted only
through the services (decisions/master_schedules.py), the time validated on the form (a
cron or words such as "weekday 08:00"), the next run shown. Registered from admin.py."""

from django import forms
from django.contrib import admin, messages

from agentsite.core.errors import ApplicationError

from .errors import ScheduleInvalid
from .master_schedules import (
    master_schedule_create,
    master_schedule_delete,
    master_schedule_update,
    master_schedule_validate,
)
from .models import MasterSchedule, Surface
from .schedule_cron import cron_clean


class MasterScheduleForm(forms.ModelForm):
    class Meta:
        model = MasterSchedule
        fields = ["cron", "kind", "text", "enabled"]
        help_texts = {
            "cron": 'UTC. A 5-field cron ("0 8 * * 1-5": weekdays 08:00) or words: "hour", "day 08:00", '
                    '"weekday 08:00", "weekend 10:00", "monday 09:30".',
        }

    def clean_cron(self) -> str:
        try:
            return cron_clean(self.cleaned_data["cron"])
        except ScheduleInvalid as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean(self):
        data = super().clean()
        if "cron" in data and "kind" in data:  # the time is valid: what is left is the text
            try:
                data["cron"], data["text"] = master_schedule_validate(
                    cron=data["cron"], text=data.get("text", ""), kind=data["kind"]
                )
            except ScheduleInvalid as exc:
                self.add_error("text", exc.message)
        return data


@admin.register(MasterSchedule)
class MasterScheduleAdmin(admin.ModelAdmin):
    form = MasterScheduleForm
    list_display = ("id", "cron", "kind", "short_text", "enabled", "next_run_at", "last_run_at", "runs", "created_via")
    list_display_links = ("id", "cron")
    list_filter = ("enabled", "kind", "created_via")
    search_fields = ("text", "cron")
    readonly_fields = ("next_run_at", "last_run_at", "runs", "last_error", "created_by", "created_via", "created_at")
    actions = ("enable_selected", "disable_selected")

    @admin.display(description="text")
    def short_text(self, obj: MasterSchedule) -> str:
        text = " ".join(obj.text.split())
        return text if len(text) <= 80 else text[:79] + "…"

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in ("cron", "kind", "text", "enabled")}
        if change:
            saved = master_schedule_update(schedule_id=obj.pk, **fields)
        else:
            saved = master_schedule_create(**fields, by=request.user.get_username(), via=Surface.ADMIN)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        master_schedule_delete(schedule_id=obj.pk)

    def delete_queryset(self, request, queryset):
        for schedule_id in list(queryset.values_list("pk", flat=True)):
            master_schedule_delete(schedule_id=schedule_id)

    def _set_enabled(self, request, queryset, *, enabled: bool) -> None:
        done = 0
        for schedule_id in list(queryset.values_list("pk", flat=True)):
            try:
                master_schedule_update(schedule_id=schedule_id, enabled=enabled)
                done += 1
            except ApplicationError as exc:
                self.message_user(request, f"#{schedule_id}: {exc.message}", messages.ERROR)
        self.message_user(request, f"{'Enabled' if enabled else 'Disabled'} {done} schedule(s).", messages.SUCCESS)

    @admin.action(description="Enable the selected schedules (next run from now)", permissions=["change"])
    def enable_selected(self, request, queryset):
        self._set_enabled(request, queryset, enabled=True)

    @admin.action(description="Disable the selected schedules", permissions=["change"])
    def disable_selected(self, request, queryset):
        self._set_enabled(request, queryset, enabled=False)
