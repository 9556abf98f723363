"""The Master's console for decisions: approvals (decided only through the approval
services, exactly as from Telegram) and the cycles' audit trail (read-only).

The outbox (Notification) is administered in telegrambot/admin.py, next to the delivery
service its "Retry now" action calls, so this app never imports the transport above it.
"""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from agentsite.core.errors import ApplicationError
from agentsite.core.admin_helpers import ReadOnlyAdmin, change_link, pre_block
from budget.pricing import money_text

from .admin_edit import approval_edit_form, approval_edit_posted
from .approvals import approval_answer, approval_approve, approval_reject
from .errors import ApprovalNotFound
from .models import Approval, ApprovalKind, ApprovalStatus, Cycle, Surface
from .selectors import approval_effective_status, approval_list, approval_status_q

# The admin index links to the agent dashboard (agentsite/admin_views.py). The template
# lives in the agentsite app, which comes after django.contrib.admin in INSTALLED_APPS,
# so it can't shadow admin/index.html: it is named explicitly instead.
admin.site.index_template = "admin/agent_index.html"

def mapping_table(mapping: dict) -> str:
    """A flat dict as a small two-column table, every key and value escaped."""
    if not mapping:
        return "-"
    rows = format_html_join(
        "",
        "<tr><th>{}</th><td>{}</td></tr>",
        (
            (key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
            for key, value in mapping.items()
        ),
    )
    return format_html('<table class="agent-details">{}</table>', rows)


def _ratio(value) -> str:
    try:
        return f"{float(value):.2f}"
    except (TypeError, ValueError):
        return "-"


class EffectiveStatusFilter(admin.SimpleListFilter):
    """Status as the Master sees it: a pending approval past its deadline is expired."""

    title = "status"
    parameter_name = "effective_status"

    def lookups(self, request, model_admin):
        return [
            (ApprovalStatus.PENDING, "Pending"),
            (ApprovalStatus.EXPIRED, "Expired"),
            (ApprovalStatus.APPROVED, "Approved"),
            (ApprovalStatus.EXECUTED, "Executed"),
            (ApprovalStatus.FAILED, "Failed"),
            (ApprovalStatus.REJECTED, "Rejected"),
            (ApprovalStatus.ANSWERED, "Answered"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        # The selector owns the status rules; the list keeps its own other filters.
        return queryset.filter(pk__in=approval_list(status=value).values("pk"))


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    """Read-only records; the Master decides with the Approve / Reject (or Answer)
    buttons on the page and the list's actions, which call the approval services. Staff
    without `decisions.decide_approval` see neither, and their posts are refused (403)."""

    change_form_template = "admin/decisions/approval/change_form.html"
    list_display = (
        "id", "kind", "what", "status_display", "certainty", "significance", "created_at", "expires_at",
        "decided_by", "decided_via",
    )
    list_display_links = ("id", "what")
    list_filter = (EffectiveStatusFilter, "kind", "action", "decided_via")
    search_fields = ("action", "question", "note", "answer")
    date_hierarchy = "created_at"
    actions = ("approve_selected", "reject_selected")
    list_per_page = 50

    # --- permissions: view and decide, never edit, add or delete (ReadOnlyAdmin) --------
    # A record is never edited through a form, pending or not: deciding is its own
    # permission (decide_approval), not "change".

    def has_decide_permission(self, request) -> bool:
        """Approve, reject, answer: the buttons, their views and the bulk actions."""
        return request.user.has_perm(f"{self.opts.app_label}.decide_approval")

    def can_decide(self, request) -> bool:
        return self.has_decide_permission(request)

    # --- list ----------------------------------------------------------------------------

    def get_queryset(self, request):
        pending_now = When(approval_status_q(status=ApprovalStatus.PENDING), then=Value(0))
        # Not super(): it orders by get_ordering() before the annotation exists.
        return (
            self.model._default_manager.get_queryset()
            .select_related("cycle")
            .annotate(pending_first=Case(pending_now, default=Value(1), output_field=IntegerField()))
            .order_by(*self.get_ordering(request))
        )

    def get_ordering(self, request):
        return ("pending_first", "-created_at", "-id")

    @admin.display(description="action / question")
    def what(self, obj: Approval) -> str:
        if obj.kind == ApprovalKind.QUESTION:
            question = obj.question or obj.payload.get("question", "")
            return f"question: {question[:80]}"
        return obj.action

    @admin.display(description="status")
    def status_display(self, obj: Approval) -> str:
        status = approval_effective_status(obj)
        return format_html('<span class="approval-status approval-status-{}">{}</span>', status, status)

    @admin.display(description="certainty")
    def certainty(self, obj: Approval) -> str:
        return _ratio(obj.payload.get("certainty")) if obj.kind == ApprovalKind.DECISION else "-"

    @admin.display(description="significance")
    def significance(self, obj: Approval) -> str:
        return _ratio(obj.payload.get("significance")) if obj.kind == ApprovalKind.DECISION else "-"

    # --- detail --------------------------------------------------------------------------

    def get_fieldsets(self, request, obj=None):
        if obj is not None and obj.kind == ApprovalKind.QUESTION:
            asked = ("kind", "status_display", "question_text", "question_context", "options_list")
        else:
            asked = ("kind", "status_display", "action", "certainty", "significance", "reasoning", "details_table",
                     "edited_details_table")
        return (
            (None, {"fields": asked}),
            ("Outcome", {"fields": ("decided_by", "decided_via", "decided_at", "note", "answer", "result_block")}),
            ("Context", {"fields": ("cycle_link", "notifications_link", "created_at", "expires_at", "payload_block")}),
        )

    def get_readonly_fields(self, request, obj=None):
        return (
            "kind", "status_display", "action", "certainty", "significance", "reasoning", "details_table",
            "edited_details_table", "question_text", "question_context", "options_list", "decided_by", "decided_via",
            "decided_at",
            "note", "answer", "result_block", "cycle_link", "notifications_link", "created_at", "expires_at",
            "payload_block",
        )

    @admin.display(description="reasoning")
    def reasoning(self, obj: Approval) -> str:
        return pre_block(obj.payload.get("reasoning", ""))

    @admin.display(description="details")
    def details_table(self, obj: Approval) -> str:
        details = obj.payload.get("details")
        return mapping_table(details) if isinstance(details, dict) else pre_block(details)

    @admin.display(description="details as the Master edited them")
    def edited_details_table(self, obj: Approval) -> str:
        return mapping_table(obj.edited_details) if obj.edited_details is not None else "-"

    @admin.display(description="question")
    def question_text(self, obj: Approval) -> str:
        return pre_block(obj.question or obj.payload.get("question", ""))

    @admin.display(description="context")
    def question_context(self, obj: Approval) -> str:
        return pre_block(obj.payload.get("context", ""))

    @admin.display(description="options")
    def options_list(self, obj: Approval) -> str:
        if not obj.options:
            return "-"
        return format_html("<ol>{}</ol>", format_html_join("", "<li>{}</li>", ((o,) for o in obj.options)))

    @admin.display(description="result")
    def result_block(self, obj: Approval) -> str:
        return pre_block(obj.result)

    @admin.display(description="full payload")
    def payload_block(self, obj: Approval) -> str:
        return pre_block(obj.payload)

    @admin.display(description="cycle")
    def cycle_link(self, obj: Approval) -> str:
        return change_link("admin:decisions_cycle_change", obj.cycle_id, "Cycle")

    @admin.display(description="messages")
    def notifications_link(self, obj: Approval) -> str:
        url = reverse("admin:decisions_notification_changelist")
        return format_html('<a href="{}?approval__id__exact={}">Messages about this approval</a>', url, obj.pk)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {})}
        obj = self.get_object(request, object_id)
        if obj is not None:
            can_decide = self.can_decide(request) and approval_effective_status(obj) == ApprovalStatus.PENDING
            extra_context.update(
                can_decide=can_decide,
                edit_form=approval_edit_form(obj) if can_decide else None,
                is_question=obj.kind == ApprovalKind.QUESTION,
                options=list(enumerate(obj.options or [])),
                effective_status=approval_effective_status(obj),
            )
        return super().change_view(request, object_id, form_url, extra_context)

    # --- deciding ------------------------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/approve/", wrap(self.approve_view), name="%s_%s_approve" % info),
            path("<path:object_id>/reject/", wrap(self.reject_view), name="%s_%s_reject" % info),
            path("<path:object_id>/answer/", wrap(self.answer_view), name="%s_%s_answer" % info),
        ] + super().get_urls()

    def _decide(self, request: HttpRequest, object_id: str, verb: str) -> HttpResponseRedirect:
        if not self.can_decide(request):
            raise PermissionDenied
        try:
            approval_id = int(object_id)
        except ValueError:
            approval_id = None
        by, note = request.user.get_username(), request.POST.get("note", "").strip()
        try:
            if approval_id is None:
                raise ApprovalNotFound(f"approval {object_id!r} does not exist")
            if verb == "approve":
                approval = Approval.objects.filter(pk=approval_id).first()
                details = approval_edit_posted(approval, request.POST) if approval else None
                approval = approval_approve(approval_id=approval_id, by=by, via=Surface.ADMIN, note=note,
                                            details=details)
                edited = " with your edit" if approval.edited_details is not None else ""
                messages.success(request, f"Approved #{approval_id}{edited}; its execution has been queued.")
            elif verb == "reject":
                feedback = request.POST.get("feedback", "").strip() or note
                approval_reject(approval_id=approval_id, by=by, via=Surface.ADMIN, feedback=feedback)
                messages.success(request, f"Rejected #{approval_id}" + (
                    "; your feedback is the agent's guidance next cycle." if feedback else "."))
            else:
                answer = request.POST.get("option") or request.POST.get("answer", "")
                approval_answer(approval_id=approval_id, answer=answer, by=by, via=Surface.ADMIN)
                messages.success(request, f"Answered #{approval_id}.")
        except ApplicationError as exc:
            messages.error(request, f"Nothing changed: {exc}")
        if approval_id is not None and Approval.objects.filter(pk=approval_id).exists():
            return HttpResponseRedirect(reverse("admin:decisions_approval_change", args=[approval_id]))
        return HttpResponseRedirect(reverse("admin:decisions_approval_changelist"))

    def approve_view(self, request, object_id):
        return require_POST(lambda r: self._decide(r, object_id, "approve"))(request)

    def reject_view(self, request, object_id):
        return require_POST(lambda r: self._decide(r, object_id, "reject"))(request)

    def answer_view(self, request, object_id):
        return require_POST(lambda r: self._decide(r, object_id, "answer"))(request)

    def _decide_selected(self, request, queryset, *, service, done_word: str) -> None:
        """One service call (one transaction) per approval; a refusal is a message."""
        by, done = request.user.get_username(), []
        for approval_id in queryset.order_by("id").values_list("id", flat=True):
            try:
                service(approval_id=approval_id, by=by, via=Surface.ADMIN)
                done.append(approval_id)
            except ApplicationError as exc:
                messages.error(request, f"#{approval_id} not {done_word}: {exc}")
        if done:
            ids = ", ".join(f"#{i}" for i in done)
            messages.success(request, f"{done_word.capitalize()} {len(done)} approval(s): {ids}.")

    @admin.action(description="Approve selected decisions", permissions=("decide",))
    def approve_selected(self, request, queryset):
        self._decide_selected(request, queryset, service=approval_approve, done_word="approved")

    @admin.action(description="Reject selected approvals", permissions=("decide",))
    def reject_selected(self, request, queryset):
        self._decide_selected(request, queryset, service=approval_reject, done_word="rejected")


@admin.register(Cycle)
class CycleAdmin(ReadOnlyAdmin):
    """The audit trail: what was asked, answered, decided and done. Read-only."""

    list_display = (
        "id", "started_at", "status", "reason", "action", "certainty", "significance", "executed",
        "total_tokens", "cost", "duration_ms", "approvals_link",
    )
    list_filter = ("status", "action", "trigger", "executed")
    search_fields = ("reason", "action", "error")
    date_hierarchy = "started_at"
    ordering = ("-started_at", "-id")
    list_per_page = 50
    fieldsets = (
        (None, {"fields": ("status", "reason", "trigger", "action", "certainty", "significance", "executed",
                           "approvals_link")}),
        ("Prompt sent", {"fields": ("prompt_block",)}),
        ("Raw response", {"fields": ("raw_response_block",)}),
        ("Parsed decision", {"fields": ("decision_block",)}),
        ("Result", {"fields": ("result_block", "error_block")}),
        ("Tokens and timings", {"fields": ("tokens_table", "started_at", "finished_at", "duration_ms",
                                           "next_run_at")}),
    )
    readonly_fields = (
        "status", "reason", "trigger", "action", "certainty", "significance", "executed", "approvals_link",
        "prompt_block", "raw_response_block", "decision_block", "result_block", "error_block", "tokens_table",
        "started_at", "finished_at", "duration_ms", "next_run_at",
    )

    @admin.display(description="tokens")
    def total_tokens(self, obj: Cycle) -> int:
        return sum(obj.tokens.values())  # every call of the cycle, its action's own included

    @admin.display(description="cost (est.)", ordering="cost_micros")
    def cost(self, obj: Cycle) -> str:
        return money_text(obj.cost_micros)

    @admin.display(description="approvals")
    def approvals_link(self, obj: Cycle) -> str:
        url = reverse("admin:decisions_approval_changelist")
        return format_html('<a href="{}?cycle__id__exact={}">approvals</a>', url, obj.pk)

    @admin.display(description="prompt")
    def prompt_block(self, obj: Cycle) -> str:
        return pre_block(obj.prompt)

    @admin.display(description="raw response")
    def raw_response_block(self, obj: Cycle) -> str:
        return pre_block(obj.raw_response)

    @admin.display(description="decision")
    def decision_block(self, obj: Cycle) -> str:
        return pre_block(obj.decision)

    @admin.display(description="result")
    def result_block(self, obj: Cycle) -> str:
        return pre_block(obj.result)

    @admin.display(description="error")
    def error_block(self, obj: Cycle) -> str:
        return pre_block(obj.error)

    @admin.display(description="tokens")
    def tokens_table(self, obj: Cycle) -> str:
        total = sum(obj.tokens.values())
        return mapping_table({**obj.tokens, "total": total, "cost (est.)": money_text(obj.cost_micros)})


from . import admin_schedules  # noqa: E402,F401  (the MasterSchedule admin, in its own module)
from . import admin_policy  # noqa: E402, F401  (registers the ActionPolicy admin)
