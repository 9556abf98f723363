"""Editing a decision before approving it: the Master's changes to its `details`, checked
by the same pydantic schema as the model's own decision (actions/schemas.py), and the
short line memory keeps of what changed. Pure: no database.

An edit changes details only, never the action, and passes exactly the checks a decision
from the model passes; approving it is what lets it run.
"""

from pydantic import ValidationError

from actions.schemas import DETAILS_MODELS, Details

from .errors import ApprovalEditInvalid

_VALUE_SHOWN = 120


def details_model(action: str) -> type[Details]:
    try:
        return DETAILS_MODELS[action]
    except KeyError:
        raise ApprovalEditInvalid(f"{action or 'this action'} has no details to edit") from None


def editable_text_field(action: str) -> str | None:
    """The detail that is the decision's text (e.g. an outreach's `message`), if it has one."""
    model = DETAILS_MODELS.get(action)
    return model.EDITABLE_TEXT_FIELD if model else None


def details_edited(*, action: str, original: dict, changes: dict) -> dict | None:
    """`original` with `changes` applied, validated and normalised by the action's schema;
    None when the edit changes nothing. Raises ApprovalEditInvalid naming the field."""
    if not isinstance(changes, dict):
        raise ApprovalEditInvalid("details must be an object of field: value", extra={"field": "details"})
    model = details_model(action)
    unknown = sorted(str(key) for key in changes if key not in model.model_fields)
    if unknown:
        raise ApprovalEditInvalid(
            f"{action} has no field {unknown[0]!r} (its fields: {', '.join(model.model_fields)})",
            extra={"field": unknown[0]},
        )
    before = _normalised(model, original)
    try:
        edited = model.model_validate({**before, **changes}).model_dump()
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in error["loc"]) or "details"
        raise ApprovalEditInvalid(
            f"invalid edit of {action}: {field}: {error['msg']}", extra={"field": field}
        ) from None
    return None if edited == before else edited


def details_edit_summary(*, original: dict, edited: dict) -> str:
    """'message: "Hi" -> "Hello"; purpose: "" -> "intro"', each value cut short."""
    pairs = ((key, _shown(original.get(key)), _shown(edited.get(key))) for key in edited)
    # Compared as shown: a default the original left out ("" or None) is no change.
    return "; ".join(f"{key}: {before} -> {after}" for key, before, after in pairs if before != after)


def _normalised(model: type[Details], details: dict) -> dict:
    try:
        return model.model_validate(details or {}).model_dump()
    except ValidationError:  # an old row the schema no longer accepts: edit what is there
        return dict(details or {})


def _shown(value) -> str:
    text = " ".join(str("" if value is None else value).split())
    text = text if len(text) <= _VALUE_SHOWN else text[: _VALUE_SHOWN - 1] + "…"
    return f'"{text}"'
