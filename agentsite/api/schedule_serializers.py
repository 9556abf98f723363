"""The Master's schedules over the API: output and strict inputs (see serializers.py)."""

from rest_framework import serializers

from decisions.master_schedules import TEXT_MAX_CHARS
from decisions.models import MasterSchedule, ScheduleKind
from decisions.schedule_cron import CRON_MAX_CHARS

from .serializers import StrictCharField, StrictInputSerializer


class StrictBooleanField(serializers.BooleanField):
    """A JSON true/false only: DRF's BooleanField would take "yes", 1 or "0"."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


_KIND_HELP = "one of: " + ", ".join(ScheduleKind.values) + " (task: queue a task; digest: send a digest)"


class MasterScheduleSerializer(serializers.ModelSerializer):
    # Plain strings: another `kind` / surface enum of other choices in other components makes
    # drf-spectacular warn about enum naming (see CycleDetailSerializer).
    kind = serializers.CharField(read_only=True, help_text=_KIND_HELP)
    created_via = serializers.CharField(read_only=True, help_text="admin, api, telegram, cli or system")

    class Meta:
        model = MasterSchedule
        fields = [
            "id", "text", "cron", "kind", "enabled", "next_run_at", "last_run_at", "runs", "last_error",
            "created_by", "created_via", "created_at", "updated_at",
        ]
        read_only_fields = fields


_CRON_HELP = ('5-field cron in UTC ("0 8 * * 1-5") or words: "hour", "day 08:00", "weekday 08:00", '
              '"monday 09:30"; stored as the cron')


class MasterScheduleCreateSerializer(StrictInputSerializer):
    cron = StrictCharField(max_length=CRON_MAX_CHARS, help_text=_CRON_HELP)
    text = StrictCharField(max_length=TEXT_MAX_CHARS, required=False, default="", allow_blank=True,
                           help_text="what the agent should do (a task's first line is its title); a digest's heading")
    kind = StrictCharField(max_length=16, default=ScheduleKind.TASK.value, help_text=_KIND_HELP)
    enabled = StrictBooleanField(default=True)


class MasterScheduleUpdateSerializer(StrictInputSerializer):
    cron = StrictCharField(max_length=CRON_MAX_CHARS, required=False, help_text=_CRON_HELP)
    text = StrictCharField(max_length=TEXT_MAX_CHARS, required=False, allow_blank=True)
    kind = StrictCharField(max_length=16, required=False, help_text=_KIND_HELP)
    enabled = StrictBooleanField(required=False)
