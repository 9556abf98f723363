"""Input and output serializers of the API, with explicit fields (HackSoft style).

Input serializers subclass `StrictInputSerializer`: an unknown key is a 400, not silently
dropped as DRF does by default, and every string has a length cap. Where a model already
states a rule (the task title's 200 characters, the priority's range), a
`StrictModelInputSerializer` takes it from the model instead of typing it again.
Query-string filters are FilterSets (agentsite/api/filters.py). Output serializers only
shape what the selectors and services return.
"""

from collections.abc import Mapping

from django.conf import settings as django_settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from django.db import models
from rest_framework import serializers

from actions.models import Skill, Task, TaskStatus
from budget.models import LedgerEntry
from .money import BudgetCostSerializer, UsdField
from decisions.models import Approval, ApprovalStatus, Cycle, CycleStatus, Surface
from decisions.rules import APPROVAL_TIMEOUT_MAX_SECONDS, FLOORS as POLICY_FLOORS, PolicyMode
from decisions.selectors import approval_effective_status
from memory.models import MemoryEntry, MemoryKind

DESCRIPTION_MAX = 10_000
NOTE_MAX = 2_000
ANSWER_MAX = 4_000
MEMORY_CONTENT_MAX = 10_000


class StrictInputSerializer(serializers.Serializer):
    # Rejects keys it does not declare, so a typo is an error instead of a no-op.
    # (Comments, not docstrings: drf-spectacular would publish them on every subclass.)

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A JSON string only: DRF's CharField would turn 12 or 1.5 into "12" / "1.5"."""

    default_error_messages = {"invalid": "Not a valid string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: DRF's IntegerField would accept "3" and 3.0."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictModelInputSerializer(StrictInputSerializer, serializers.ModelSerializer):
    # An input serializer whose fields (and their limits) come from the model; strings
    # and integers are strict JSON types, as in every other input.
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.PositiveSmallIntegerField: StrictIntegerField,
    }


# --- errors ---------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """Every error answer: a human message and a machine code (plus context for some)."""

    detail = serializers.CharField()
    code = serializers.CharField(help_text="e.g. not_authenticated, permission_denied, not_found, conflict, invalid, throttled")
    errors = serializers.DictField(
        required=False, help_text="per-field messages of a validation error (code `invalid`)"
    )
    status = serializers.CharField(required=False, help_text="the current status, on a 409 conflict")


# --- budget -----------------------------------------------------------------------------


class TokenUsageTodaySerializer(serializers.Serializer):
    proactive = serializers.IntegerField()
    reactive = serializers.IntegerField()


class ProactiveBudgetSerializer(serializers.Serializer):
    limit = serializers.IntegerField()
    used = serializers.IntegerField()
    reserved = serializers.IntegerField()
    remaining = serializers.IntegerField()
    usage_ratio = serializers.FloatField()
    level = serializers.ChoiceField(choices=["ok", "warning", "critical", "exhausted"])
    cost_used_usd = UsdField(source="cost_used_micros")
    cost_reserved_usd = UsdField(source="cost_reserved_micros")
    cost_limit_usd = UsdField(source="cost_limit_micros", allow_null=True, help_text="null: no daily cost limit")
    cost_remaining_usd = UsdField(source="cost_remaining_micros", allow_null=True)
    cost_usage_ratio = serializers.FloatField(allow_null=True)


class BudgetDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    proactive = serializers.IntegerField()
    reactive = serializers.IntegerField()


class BudgetSerializer(serializers.Serializer):
    date = serializers.DateField(help_text="today (UTC)")
    token_usage_today = TokenUsageTodaySerializer()
    proactive = ProactiveBudgetSerializer()
    history = BudgetDaySerializer(many=True, help_text="the last 14 UTC days, oldest first")
    cost = BudgetCostSerializer()


class LedgerEntrySerializer(serializers.ModelSerializer):
    total_tokens = serializers.IntegerField(read_only=True)
    cost_usd = UsdField(source="cost_micros", help_text="estimated from the price table when the row was written")

    class Meta:
        model = LedgerEntry
        fields = [
            "id", "scope", "day", "provider", "model", "input_tokens", "output_tokens",
            "cache_creation_input_tokens", "cache_read_input_tokens", "total_tokens",
            "request_id", "meta", "estimated", "over_reservation", "created_at", "cost_usd",
        ]
        read_only_fields = fields


# --- cycles -------------------------------------------------------------------------------


class CycleTokensSerializer(serializers.Serializer):
    input = serializers.IntegerField()
    output = serializers.IntegerField()
    cache_creation = serializers.IntegerField()
    cache_read = serializers.IntegerField()


class CycleTimingsSerializer(serializers.Serializer):
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    next_run_at = serializers.DateTimeField(allow_null=True)


class CycleSerializer(serializers.ModelSerializer):
    """A cycle's outline; the detail adds what the model was told and answered."""

    tokens = CycleTokensSerializer(read_only=True)
    cost_usd = UsdField(source="cost_micros", help_text="all the cycle's model calls, like its tokens")

    class Meta:
        model = Cycle
        fields = [
            "id", "status", "reason", "trigger", "action", "certainty", "significance", "executed",
            "tokens", "started_at", "finished_at", "duration_ms", "cost_usd",
        ]
        read_only_fields = fields


class CycleDetailSerializer(serializers.ModelSerializer):
    # A plain string here: a second `status` enum of the same choices in another component
    # makes drf-spectacular warn about enum naming unless ENUM_NAME_OVERRIDES is set.
    status = serializers.CharField(
        read_only=True, help_text="one of: " + ", ".join(CycleStatus.values) + " (see CycleStatusEnum)"
    )
    tokens = CycleTokensSerializer(read_only=True)
    cost_usd = UsdField(source="cost_micros", help_text="all the cycle's model calls, like its tokens")
    timings = CycleTimingsSerializer(source="*", read_only=True)

    class Meta:
        model = Cycle
        fields = [
            "id", "status", "reason", "trigger", "action", "certainty", "significance", "executed",
            "prompt", "raw_response", "decision", "result", "error", "tokens", "timings", "cost_usd",
        ]
        read_only_fields = fields


# --- approvals ----------------------------------------------------------------------------


class ApprovalSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField(
        help_text="the effective status: a pending approval past its deadline is `expired`"
    )
    cycle_id = serializers.IntegerField(read_only=True, allow_null=True)
    # Declared: a read-only model field would lose `allow_blank` (empty until decided).
    decided_via = serializers.ChoiceField(choices=Surface.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Approval
        fields = [
            "id", "kind", "status", "action", "question", "options", "payload", "edited_details", "cycle_id",
            "decided_by", "decided_via", "note", "answer", "result", "expires_at", "decided_at",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=ApprovalStatus.choices))
    def get_status(self, approval: Approval) -> str:
        return approval_effective_status(approval)


class ApprovalNoteSerializer(StrictInputSerializer):
    note = StrictCharField(
        max_length=NOTE_MAX, required=False, allow_blank=True, default="",
        help_text="why: remembered by the agent",
    )


class ApprovalApproveSerializer(ApprovalNoteSerializer):
    details = serializers.DictField(
        required=False,
        help_text="your edit of the decision's details, e.g. {\"message\": \"...\"}: the fields given replace "
        "the decision's, the others stay; validated by the action's schema (400 naming the field when invalid). "
        "The original stays in `payload`, the edit is `edited_details`, and it is what runs.",
    )


class ApprovalRejectSerializer(ApprovalNoteSerializer):
    feedback = StrictCharField(
        max_length=NOTE_MAX, required=False, allow_blank=True, default="",
        help_text="why not, for the agent: its next prompt shows it as the Master's guidance "
        "(`note` is accepted as the same)",
    )


class ApprovalAnswerSerializer(StrictInputSerializer):
    answer = StrictCharField(max_length=ANSWER_MAX)


# --- tasks --------------------------------------------------------------------------------


class TaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = Task
        fields = [
            "id", "title", "description", "priority", "status", "result", "error", "source",
            "created_at", "updated_at", "started_at", "finished_at",
        ]
        read_only_fields = fields


class TaskCreateSerializer(StrictModelInputSerializer):
    class Meta:
        model = Task
        fields = ["title", "description", "priority"]
        extra_kwargs = {
            "description": {"max_length": DESCRIPTION_MAX, "default": ""},
            "priority": {"default": Task._meta.get_field("priority").default},
        }


class TaskUpdateSerializer(StrictModelInputSerializer):
    """Edit a pending task, or cancel it with `{"status": "cancelled"}` (not both at once)."""

    status = serializers.ChoiceField(
        choices=[(TaskStatus.CANCELLED.value, TaskStatus.CANCELLED.label)], required=False,
        help_text="only `cancelled`: cancels a pending task",
    )

    class Meta:
        model = Task
        fields = ["title", "description", "priority", "status"]
        extra_kwargs = {
            "title": {"required": False},
            "description": {"max_length": DESCRIPTION_MAX},
            "priority": {"required": False},
        }

    def validate(self, attrs):
        if "status" in attrs and len(attrs) > 1:
            raise serializers.ValidationError("Cancel a task on its own, without editing other fields.")
        return attrs


# --- skills -------------------------------------------------------------------------------


class SkillSerializer(serializers.ModelSerializer):
    class Meta:
        model = Skill
        fields = [
            "id", "name", "description", "practice_count", "notes", "last_practised_at",
            "created_at", "updated_at",
        ]
        read_only_fields = fields


# --- memory -------------------------------------------------------------------------------


class MemoryEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = MemoryEntry
        fields = ["id", "kind", "content", "meta", "cycle_id", "pinned", "archived_at", "created_at", "updated_at"]
        read_only_fields = fields


class MemoryCreateSerializer(StrictInputSerializer):
    content = StrictCharField(max_length=MEMORY_CONTENT_MAX)
    kind = serializers.ChoiceField(
        choices=[
            (MemoryKind.GUIDANCE.value, MemoryKind.GUIDANCE.label),
            (MemoryKind.FOCUS.value, MemoryKind.FOCUS.label),
        ],
        required=False,
        default=MemoryKind.GUIDANCE.value,
        help_text="`guidance` (default) adds advice; `focus` sets the agent's current focus",
    )


# --- agent --------------------------------------------------------------------------------


class LastCycleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    action = serializers.CharField(allow_blank=True)
    result_status = serializers.CharField(allow_null=True)


@extend_schema_field(OpenApiTypes.DATETIME)
class IsoDateTimeField(serializers.Field):
    """A datetime as Python's isoformat (microseconds kept, "+00:00"), as the agent's status
    has always been given; DRF's DateTimeField would write "Z"."""

    def to_representation(self, value):
        return value.isoformat()


class AgentStatusSerializer(serializers.Serializer):
    paused = serializers.BooleanField()
    next_cycle_at = IsoDateTimeField(allow_null=True)
    last_cycle_at = IsoDateTimeField(allow_null=True)
    consecutive_failures = serializers.IntegerField()
    last_cycle = LastCycleSerializer(allow_null=True)
    pending_approvals = serializers.IntegerField()


class RunCycleSerializer(serializers.Serializer):
    task_id = serializers.CharField(help_text="the Django-Q2 task id of the queued cycle")


# --- action policies ------------------------------------------------------------------------


class ActionPolicySerializer(serializers.Serializer):
    action = serializers.CharField()
    mode = serializers.ChoiceField(choices=PolicyMode.choices)
    min_certainty = serializers.FloatField(help_text="mode act_at: act alone at or above this certainty")
    approval_timeout_seconds = serializers.IntegerField(
        allow_null=True, help_text="how long its approvals wait; null: APPROVAL_TIMEOUT_SECONDS"
    )
    effective_timeout_seconds = serializers.SerializerMethodField()
    floor = serializers.SerializerMethodField(help_text="what no policy changes for this action, if anything")
    is_default = serializers.BooleanField()
    updated_at = serializers.DateTimeField(allow_null=True)
    updated_by = serializers.CharField()

    def get_effective_timeout_seconds(self, policy) -> int:
        return policy.approval_timeout_seconds or django_settings.APPROVAL_TIMEOUT_SECONDS

    def get_floor(self, policy) -> str | None:
        return POLICY_FLOORS.get(policy.action)


class ActionPolicyInputSerializer(StrictInputSerializer):
    mode = serializers.ChoiceField(choices=PolicyMode.choices)
    min_certainty = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    approval_timeout_seconds = StrictIntegerField(
        required=False, allow_null=True, min_value=1, max_value=APPROVAL_TIMEOUT_MAX_SECONDS
    )

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and isinstance(data.get("min_certainty"), (bool, str)):
            raise serializers.ValidationError({"min_certainty": ["A number from 0 to 1."]})
        return super().to_internal_value(data)

