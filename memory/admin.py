"""The agent's memory in the admin: browse and search everything; the Master adds only
guidance or a new focus (through the memory services), and edits nothing the agent wrote."""

from django import forms
from django.contrib import admin
from django.utils.html import format_html

from agentsite.core.admin_helpers import change_link

from .models import MemoryEntry, MemoryKind
from .services import memory_add_guidance, memory_set_focus

MASTER_KINDS = (MemoryKind.GUIDANCE, MemoryKind.FOCUS)


class MasterMemoryForm(forms.ModelForm):
    """The add form: guidance for the agent, or its new focus (the newest focus counts)."""

    kind = forms.ChoiceField(
        choices=[(kind.value, kind.label) for kind in MASTER_KINDS],
        initial=MemoryKind.GUIDANCE,
        help_text="Guidance is shown to the agent with its next prompts; the newest focus replaces the last.",
    )

    class Meta:
        model = MemoryEntry
        fields = ("kind", "content")
        widgets = {"content": forms.Textarea(attrs={"rows": 6, "cols": 80})}

    def clean_content(self):
        content = self.cleaned_data["content"].strip()
        if not content:
            raise forms.ValidationError("Write something for the agent.")
        return content


@admin.register(MemoryEntry)
class MemoryEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "short_content", "cycle_link")
    list_filter = ("kind",)
    search_fields = ("content",)
    date_hierarchy = "created_at"
    list_per_page = 100
    readonly_fields = ("kind", "content_block", "meta", "cycle_link", "created_at")
    actions = None  # no bulk delete

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = MasterMemoryForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("kind", "content")
        return ("kind", "content_block", "meta", "cycle_link", "created_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # The Master may withdraw their own guidance or focus; the agent's records stay.
        if obj is not None and obj.kind not in MASTER_KINDS:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change:  # never reached: entries are read-only
            return
        content = form.cleaned_data["content"]
        if form.cleaned_data["kind"] == MemoryKind.FOCUS:
            entry = memory_set_focus(content=content)
        else:
            entry = memory_add_guidance(content=content, meta={"source": "admin", "by": request.user.get_username()})
        # The admin goes on with `obj` (log entry, redirect): make it the saved entry.
        obj.pk, obj.kind, obj.content, obj.meta, obj.created_at = (
            entry.pk, entry.kind, entry.content, entry.meta, entry.created_at,
        )

    @admin.display(description="content")
    def short_content(self, obj: MemoryEntry) -> str:
        return obj.content[:120] + ("…" if len(obj.content) > 120 else "")

    @admin.display(description="content")
    def content_block(self, obj: MemoryEntry) -> str:
        return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', obj.content)

    @admin.display(description="cycle", ordering="cycle_id")
    def cycle_link(self, obj: MemoryEntry) -> str:
        # By URL name only: memory sits below decisions and does not import it.
        return change_link("admin:decisions_cycle_change", obj.cycle_id, "Cycle")
