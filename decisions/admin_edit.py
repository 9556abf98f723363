"""The approval page's edit form: one field per detail of the action's schema
(actions/schemas.py), prefilled with the decision's details; a long text is a textarea, a
fixed set of values a select. The form only carries what the Master typed: the schema
itself (through `approval_approve(details=...)`) validates it, exactly as it validated the
model's decision, so the page shows the same error the API would give."""

import types
import typing

from annotated_types import MaxLen
from django import forms
from django.http import QueryDict

from actions.schemas import DETAILS_MODELS

from .models import Approval, ApprovalKind

PREFIX = "details"
_TEXTAREA_FROM = 1_000  # characters a text may hold from which it gets a textarea


def _kind(annotation) -> tuple[str, tuple]:
    """("text" | "number" | "choice" | "other", the choices) for a field's type."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return "choice", args
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _kind(inner[0]) if len(inner) == 1 else ("other", ())
    if annotation is str:
        return "text", ()
    if annotation is int:
        return "number", ()
    return "other", ()


def _form_field(info, kind: str, choices: tuple) -> forms.Field:
    help_text = info.description or ""
    if kind == "choice":
        return forms.ChoiceField(choices=[(c, c) for c in choices], required=False, help_text=help_text)
    if kind == "number":
        return forms.CharField(required=False, widget=forms.NumberInput(), help_text=help_text)
    longest = next((m.max_length for m in info.metadata if isinstance(m, MaxLen)), None)
    widget = (forms.Textarea(attrs={"rows": 4, "cols": 80}) if longest is None or longest >= _TEXTAREA_FROM
              else forms.TextInput(attrs={"size": 60}))
    return forms.CharField(required=False, strip=False, widget=widget, help_text=help_text)


def approval_edit_form(approval: Approval, data: QueryDict | None = None) -> forms.Form | None:
    """The edit form for a pending decision (None for a question or an unknown action)."""
    model = DETAILS_MODELS.get(approval.action)
    if approval.kind != ApprovalKind.DECISION or model is None:
        return None
    details = (approval.payload or {}).get("details") or {}
    form = forms.Form(data=data, prefix=PREFIX)
    for name, info in model.model_fields.items():
        kind, choices = _kind(info.annotation)
        if kind == "other":
            continue
        form.fields[name] = _form_field(info, kind, choices)
        value = details.get(name, info.get_default(call_default_factory=True))
        form.fields[name].initial = "" if value is None else value
    return form


def approval_edit_posted(approval: Approval, data: QueryDict) -> dict | None:
    """The details as posted from the form, for `approval_approve(details=...)`: a blank
    number means "none"; None when the page had no edit form."""
    form = approval_edit_form(approval, data)
    if form is None or not any(key.startswith(f"{PREFIX}-") for key in data):
        return None
    posted = {}
    for name, field in form.fields.items():
        key = form.add_prefix(name)
        if key not in data:
            continue
        value = data[key]
        is_text = isinstance(field.widget, (forms.Textarea, forms.TextInput))
        posted[name] = None if value == "" and not is_text else value
    return posted
