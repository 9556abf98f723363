"""Small pieces every app's admin uses: a read-only admin, an escaped pre-formatted block,
and a link to another app's change page by URL name (so no app imports a higher app's
admin to link to it)."""

import json

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

PRE_STYLE = "white-space: pre-wrap; word-break: break-word; max-height: 36em; overflow: auto; margin: 0"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records the agent wrote: staff may look, never add, edit or delete."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def pre_block(value) -> str:
    """Text or JSON as an escaped, pre-formatted block ("-" when empty)."""
    if value in (None, "", {}, []):
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return format_html('<pre style="{}">{}</pre>', PRE_STYLE, text)


def change_link(viewname: str, pk: int | None, label: str) -> str:
    """A link to `pk`'s admin change page ("-" without one; "label #pk" if the page is not
    registered)."""
    if pk is None:
        return "-"
    try:
        url = reverse(viewname, args=[pk])
    except NoReverseMatch:
        return f"{label} #{pk}"
    return format_html('<a href="{}">{} #{}</a>', url, label, pk)
