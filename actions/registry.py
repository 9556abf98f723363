"""One registry of action handlers, and the shapes they return.

A handler does its own work (a deliverable, a skill note, a reflection) and returns
its result plus the effects it wants: messages for the Master, questions, outreach, a
minimum pause. It never sends or asks itself: the decision engine applies the effects
(outbox rows, approvals) in one transaction, so this layer never imports `decisions`.
"""

import math
from dataclasses import dataclass, field
from typing import Callable

from pydantic import ValidationError

from .schemas import DETAILS_MODELS, Details


@dataclass(frozen=True)
class MasterMessage:
    text: str
    priority: str = "medium"


@dataclass(frozen=True)
class Question:
    question: str
    context: str = ""
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outreach:
    chat_id: int
    message: str
    purpose: str = ""


@dataclass(frozen=True)
class Effects:
    messages: tuple[MasterMessage, ...] = ()
    questions: tuple[Question, ...] = ()
    outreach: tuple[Outreach, ...] = ()
    min_next_interval_seconds: int | None = None


def effects_after_failed_call(exc: Exception) -> Effects:
    """A model call failed with the API's own "retry after" (budget.errors.ClaudeCallError's
    `retry_after_seconds`): the next cycle must not start before it has passed."""
    seconds = getattr(exc, "retry_after_seconds", None)
    return Effects(min_next_interval_seconds=math.ceil(seconds)) if seconds else Effects()


@dataclass(frozen=True)
class ActionContext:
    """Where the execution comes from. `approval_id` is set only when the Master approved it."""

    cycle_id: int | None = None
    approval_id: int | None = None


@dataclass(frozen=True)
class ActionResult:
    status: str  # "ok", "not_found", "not_runnable", "failed", "invalid_details", "needs_approval"
    data: dict = field(default_factory=dict)
    effects: Effects = field(default_factory=Effects)

    def as_dict(self) -> dict:
        """JSON-serialisable form stored on the cycle / approval."""
        return {"status": self.status, **self.data}


Handler = Callable[[Details, ActionContext], ActionResult]
_HANDLERS: dict[str, Handler] = {}


def register(action: str) -> Callable[[Handler], Handler]:
    if action not in DETAILS_MODELS:
        raise ValueError(f"unknown action {action!r}")

    def decorator(fn: Handler) -> Handler:
        _HANDLERS[action] = fn
        return fn

    return decorator


def action_execute(*, action: str, details: dict, context: ActionContext) -> ActionResult:
    """Validate `details` and run the action's handler. Never raises for bad details."""
    from . import handlers  # noqa: F401  (registers every handler on first use)

    handler = _HANDLERS.get(action)
    if handler is None:
        return ActionResult(status="invalid_details", data={"error": f"unknown action {action!r}"})
    try:
        parsed = DETAILS_MODELS[action].model_validate(details or {})
    except ValidationError as exc:
        return ActionResult(status="invalid_details", data={"error": _short_errors(exc)})
    return handler(parsed, context)


def _short_errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'details'}: {err['msg']}" for err in exc.errors()[:5]
    )
