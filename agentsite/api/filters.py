"""The lists' query-string filters, as django-filter FilterSets (the schema documents them).

Strict like the input serializers: an unknown parameter or a blank value is a 400 naming
the parameter (besides the filters, only the paginator's `page` and DRF's `format`).
"""

from django import forms
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field

from actions.models import PRIORITY_LEAST_URGENT, PRIORITY_MOST_URGENT, Task, TaskStatus
from budget.models import LedgerEntry, Scope
from decisions.models import Approval, ApprovalKind, ApprovalStatus, Cycle, CycleStatus
from decisions.selectors import approval_list
from memory.models import MemoryEntry, MemoryKind
from memory.search import memory_search_filter

ALLOWED_EXTRA = frozenset({"page", "format"})
SEARCH_MAX = 200
NAME_MAX = 100
ACTION_MAX = 32


class StrictFilterForm(forms.Form):
    def full_clean(self):
        super().full_clean()
        if not self.is_bound:
            return
        for key in self.data:
            if key in ALLOWED_EXTRA:
                continue
            if key not in self.fields:
                self._errors[key] = self.error_class(["Unknown field."])
            elif self.data.get(key) == "":  # django-filter would ignore it; a typo'd value is an error
                self._errors[key] = self.error_class(["This field may not be blank."])


class StrictFilterSet(filters.FilterSet):
    class Meta:
        form = StrictFilterForm


class IntegerFilter(filters.NumberFilter):
    field_class = forms.IntegerField  # "1.5" is a 400, not a decimal


# The schema of each parameter is given explicitly, so it states what the filter checks
# (non-blank, length and range limits) and its help text.


def _schema(filter_field, *, notes: str = "", **schema):
    description = "\n\n".join(filter(None, [filter_field.extra.get("help_text", ""), notes]))
    return extend_schema_field({**schema, **({"description": description} if description else {})})(filter_field)


def choice_filter(choices, **kwargs) -> filters.ChoiceFilter:
    notes = "\n".join(f"* `{value}` - {label}" for value, label in choices)
    return _schema(
        filters.ChoiceFilter(choices=choices, **kwargs),
        notes=notes, type="string", minLength=1, enum=[value for value, _ in choices],
    )


def char_filter(max_length: int, **kwargs) -> filters.CharFilter:
    return _schema(filters.CharFilter(max_length=max_length, **kwargs), type="string", minLength=1, maxLength=max_length)


def integer_filter(*, min_value: int, max_value: int) -> filters.NumberFilter:
    return _schema(IntegerFilter(min_value=min_value, max_value=max_value), type="integer", minimum=min_value, maximum=max_value)


class LedgerFilter(StrictFilterSet):
    scope = choice_filter(Scope.choices)
    model = char_filter(NAME_MAX)
    day = filters.DateFilter(help_text="UTC day, YYYY-MM-DD")

    class Meta(StrictFilterSet.Meta):
        model = LedgerEntry
        fields = ["scope", "model", "day"]


class CycleFilter(StrictFilterSet):
    status = choice_filter(CycleStatus.choices)
    action = char_filter(ACTION_MAX)

    class Meta(StrictFilterSet.Meta):
        model = Cycle
        fields = ["status", "action"]


class ApprovalFilter(StrictFilterSet):
    status = choice_filter(
        ApprovalStatus.choices,
        method="filter_status",
        help_text="`pending` leaves out approvals already past their deadline; `expired` includes them",
    )
    kind = choice_filter(ApprovalKind.choices)

    class Meta(StrictFilterSet.Meta):
        model = Approval
        fields = ["status", "kind"]

    def filter_status(self, queryset, name, value):
        # The effective-status rules live in the selector, once.
        return queryset & approval_list(status=value)


class TaskFilter(StrictFilterSet):
    status = choice_filter(TaskStatus.choices)
    priority = integer_filter(min_value=PRIORITY_MOST_URGENT, max_value=PRIORITY_LEAST_URGENT)

    class Meta(StrictFilterSet.Meta):
        model = Task
        fields = ["status", "priority"]


class MemoryFilter(StrictFilterSet):
    kind = choice_filter(MemoryKind.choices)
    search = char_filter(
        SEARCH_MAX, field_name="content", lookup_expr="icontains",
        help_text="case-insensitive substring of the content",
    )
    q = char_filter(
        SEARCH_MAX, method="filter_q",
        help_text="full-text search: entries matching every word, best match first "
        "(PostgreSQL: stemmed English full text; SQLite: each word as a substring)",
    )
    include_archived = choice_filter(
        [("true", "archived entries too"), ("false", "live entries only (the default)")],
        method="filter_include_archived", help_text="archived entries are left out unless `true`",
    )

    class Meta(StrictFilterSet.Meta):
        model = MemoryEntry
        fields = ["kind", "search", "q", "include_archived"]

    def filter_q(self, queryset, name, value):
        return memory_search_filter(queryset, query=value)

    def filter_include_archived(self, queryset, name, value):
        return queryset  # applied in filter_queryset, which also sees it absent

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if self.form.cleaned_data.get("include_archived") != "true":
            queryset = queryset.filter(archived_at__isnull=True)
        return queryset
