"""The agent's memory in the admin: browse, search (memory.search, best match first) and
shape it. The Master adds guidance or a new focus, edits an entry's content, pins,
unpins, archives and restores entries: every change through memory.shaping, audited (the
revisions are shown read-only on the entry's page). Archived entries are hidden unless
the "archived" filter asks for them."""

from django import forms
from django.contrib import admin, messages

from agentsite.core.admin_helpers import change_link
from agentsite.core.errors import ApplicationError
from agentsite.core.surfaces import Surface

from .models import MemoryEntry, MemoryKind, MemoryRevision
from .search import memory_search_filter
from .services import MAX_CONTENT_CHARS, memory_add_guidance, memory_set_focus
from .shaping import memory_archive, memory_edit, memory_pin, memory_restore, memory_unpin

MASTER_KINDS = (MemoryKind.GUIDANCE, MemoryKind.FOCUS)


def _clean_content(form) -> str:
    content = form.cleaned_data["content"].strip()
    if not content:
        raise forms.ValidationError("Write something for the agent.")
    return content


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

    clean_content = _clean_content


class MemoryEditForm(forms.ModelForm):
    """The change form: only the content is edited (memory_edit records the old text)."""

    content = forms.CharField(
        max_length=MAX_CONTENT_CHARS, strip=False, widget=forms.Textarea(attrs={"rows": 10, "cols": 80}),
        help_text="The change is recorded with the old text below, under Revisions.",
    )

    class Meta:
        model = MemoryEntry
        fields = ("content",)

    clean_content = _clean_content


class ArchivedFilter(admin.SimpleListFilter):
    title = "archived"
    parameter_name = "archived"

    def lookups(self, request, model_admin):
        return [("yes", "Archived only"), ("all", "All")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(archived_at__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(archived_at__isnull=True)  # the default: live entries


class MemoryRevisionInline(admin.TabularInline):
    model = MemoryRevision
    fields = readonly_fields = ("at", "field", "before", "after", "by", "via")
    extra = 0
    can_delete = False
    verbose_name_plural = "revisions (newest first)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _shape(service, verb: str):
    """An admin action that applies `service` to each selected entry, via the admin."""

    def action(modeladmin, request, queryset):
        done, failed = 0, []
        for pk in queryset.values_list("pk", flat=True):
            try:
                service(entry_id=pk, by=request.user.get_username(), via=Surface.ADMIN)
                done += 1
            except ApplicationError as exc:
                failed.append(exc.message)
        if done:
            modeladmin.message_user(request, f"{verb.capitalize()} {done} entr{'y' if done == 1 else 'ies'}.")
        for message in failed:
            modeladmin.message_user(request, message, level=messages.ERROR)

    action.__name__ = f"{verb}_selected"
    return admin.action(description=f"{verb.capitalize()} the selected entries")(action)


@admin.register(MemoryEntry)
class MemoryEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "short_content", "pinned", "is_archived", "cycle_link")
    list_filter = ("kind", "pinned", ArchivedFilter)
    search_fields = ("content",)  # shows the box; get_search_results does the searching
    search_help_text = "Every word must match; the best matches come first."
    date_hierarchy = "created_at"
    list_per_page = 100
    inlines = [MemoryRevisionInline]
    actions = [_shape(memory_pin, "pin"), _shape(memory_unpin, "unpin"), _shape(memory_archive, "archive"),
               _shape(memory_restore, "restore")]
    readonly_fields = ("kind", "meta", "cycle_link", "pinned", "archived_at", "created_at", "updated_at")

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # no bulk delete
        return actions

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = MasterMemoryForm if obj is None else MemoryEditForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("kind", "content")
        return ("kind", "content", "meta", "cycle_link", "pinned", "archived_at", "created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        # Its own order (best match first) replaces the list's (the admin orders before searching).
        return memory_search_filter(queryset, query=search_term), False

    def has_delete_permission(self, request, obj=None):
        # The Master may withdraw their own guidance or focus; the agent's records stay.
        if obj is not None and obj.kind not in MASTER_KINDS:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        content = form.cleaned_data["content"]
        if change:
            entry = memory_edit(entry_id=obj.pk, content=content, by=request.user.get_username(), via=Surface.ADMIN)
        elif form.cleaned_data["kind"] == MemoryKind.FOCUS:
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

    @admin.display(description="archived", boolean=True, ordering="archived_at")
    def is_archived(self, obj: MemoryEntry) -> bool:
        return obj.archived_at is not None

    @admin.display(description="cycle", ordering="cycle_id")
    def cycle_link(self, obj: MemoryEntry) -> str:
        # By URL name only: memory sits below decisions and does not import it.
        return change_link("admin:decisions_cycle_change", obj.cycle_id, "Cycle")
