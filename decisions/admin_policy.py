"""The Master's per-action policy in the admin: one row per action (the missing ones are
created, with the default policy, when the list is opened), each saved through
`policy.action_policy_set`, so the policy version, and with it the agent's prompt, moves."""

from django import forms
from django.contrib import admin
from django.db import IntegrityError

from actions.schemas import ACTIONS

from .models import ActionPolicy, Surface
from .policy import PolicyInvalid, action_policy_set, policy_values_check
from .rules import FLOORS


class ActionPolicyForm(forms.ModelForm):
    class Meta:
        model = ActionPolicy
        fields = ["mode", "min_certainty", "approval_timeout_seconds"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            policy_values_check(mode=data.get("mode"), min_certainty=data.get("min_certainty"),
                                approval_timeout_seconds=data.get("approval_timeout_seconds"))
        except PolicyInvalid as exc:
            raise forms.ValidationError(exc.message) from None
        return data


@admin.register(ActionPolicy)
class ActionPolicyAdmin(admin.ModelAdmin):
    form = ActionPolicyForm
    list_display = ["action", "mode", "min_certainty", "timeout", "floor", "updated_at", "updated_by"]
    fields = ["action", "mode", "min_certainty", "approval_timeout_seconds", "floor", "updated_at", "updated_by"]
    readonly_fields = ["action", "floor", "updated_at", "updated_by"]

    def has_add_permission(self, request):
        return False  # one row per action, made by the list

    def has_delete_permission(self, request, obj=None):
        return False  # "back to the default" is a mode, saved through the service

    def changelist_view(self, request, extra_context=None):
        missing = set(ACTIONS) - set(ActionPolicy.objects.values_list("action", flat=True))
        if missing:
            # Rows with the default policy change nothing the agent sees: no new version.
            try:
                ActionPolicy.objects.bulk_create([ActionPolicy(action=a) for a in missing], ignore_conflicts=True)
            except IntegrityError:  # pragma: no cover  (a racing list view made them)
                pass
        return super().changelist_view(request, extra_context)

    @admin.display(description="approval timeout")
    def timeout(self, obj: ActionPolicy) -> str:
        return f"{obj.approval_timeout_seconds:,} s" if obj.approval_timeout_seconds else "default"

    @admin.display(description="hard floor (no policy changes it)")
    def floor(self, obj: ActionPolicy) -> str:
        return FLOORS.get(obj.action, "-")

    def save_model(self, request, obj: ActionPolicy, form, change):
        action_policy_set(
            action=obj.action, mode=obj.mode, min_certainty=obj.min_certainty,
            approval_timeout_seconds=obj.approval_timeout_seconds,
            by=request.user.get_username(), via=Surface.ADMIN,
        )
        obj.refresh_from_db()
