"""Turn the model's reply into a validated decision, or a short reason why not.

Pure: no database, no settings. `decision_parse` never raises, because a bad reply
must end as a failed cycle with a readable error, not as a crashed worker.
"""

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from actions.schemas import ACTIONS, DETAILS_MODELS, Details

CERTAINTY_THRESHOLD = 0.8
SIGNIFICANCE_THRESHOLD = 0.8

REASONING_MAX_CHARS = 4_000
# Bounds on the search, so adversarial replies (huge, or thousands of "{") stay cheap.
SCAN_MAX_CHARS = 100_000
SCAN_MAX_CANDIDATES = 256
_ERRORS_SHOWN = 3
_ERROR_PART_MAX = 200

# An opening fence (``` or ```json, any info string) up to the closing one.
_FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)

# Strict: a bool or a quoted number is a sloppy reply, not a score.
Score = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False, strict=True)]


class ProactiveDecision(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    action: Literal[ACTIONS]  # type: ignore[valid-type]  # the six actions, one source of truth
    reasoning: str = Field(min_length=1, max_length=REASONING_MAX_CHARS, strict=True)
    certainty: Score
    significance: Score
    type: Literal["internal", "external"]
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("action", "type", mode="before")
    @classmethod
    def _normalise_word(cls, value, info):
        if not isinstance(value, str):
            return value
        word = value.strip().lower()
        if info.field_name == "action" and word not in ACTIONS:
            # Its own error type, so the parse error can say just "unknown action 'dance'".
            raise PydanticCustomError("unknown_action", "unknown action {action}", {"action": _short_repr(value)})
        return word

    @field_validator("reasoning", mode="before")
    @classmethod
    def _trim_reasoning(cls, value):
        # Long reasoning is clipped, not rejected: a verbose but sound decision should still run.
        if isinstance(value, str):
            return value.strip()[:REASONING_MAX_CHARS]
        return value

    @field_validator("details", mode="before")
    @classmethod
    def _no_details(cls, value):
        return {} if value is None else value

    @model_validator(mode="after")
    def _validate_details(self):
        try:
            details = DETAILS_MODELS[self.action].model_validate(self.details)
        except ValidationError as exc:
            # Re-raise under "details.<field>" so the error says where the problem is.
            raise ValidationError.from_exception_data(
                title=type(self).__name__,
                line_errors=[
                    InitErrorDetails(type=PydanticCustomError(e["type"], e["msg"]), loc=("details", *e["loc"]),
                                     input=e.get("input"))
                    for e in exc.errors(include_url=False)
                ],
            ) from None
        # Stored normalised (defaults filled, meditation capped) so what runs is what is logged.
        object.__setattr__(self, "details", details.model_dump())
        return self

    @property
    def details_model(self) -> Details:
        """The details as their typed model (e.g. CommunicateDetails)."""
        return DETAILS_MODELS[self.action].model_validate(self.details)


@dataclass(frozen=True)
class DecisionParse:
    decision: ProactiveDecision | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.decision is not None


def decision_parse(text: str) -> DecisionParse:
    """Find and validate the decision in a reply. Never raises."""
    try:
        return _parse(text)
    except Exception as exc:  # a parser that crashes the cycle is worse than a failed cycle
        return DecisionParse(error=f"unparseable reply ({type(exc).__name__})")


def needs_approval(decision: ProactiveDecision) -> bool:
    """Whether the Master must consent before this decision runs."""
    if decision.action == "ask_master":
        return False  # asking is itself the consent path
    if decision.certainty < CERTAINTY_THRESHOLD:
        return True
    if decision.action == "proactive_outreach":
        return True  # contacting anyone but the Master always needs consent
    if decision.action == "communicate":
        return not decision.details_model.to_master
    return False


def should_notify(decision: ProactiveDecision) -> bool:
    """Whether the Master should hear about this decision's outcome."""
    return decision.significance >= SIGNIFICANCE_THRESHOLD


def _parse(text: str) -> DecisionParse:
    if not isinstance(text, str):
        return DecisionParse(error="reply is not text")
    text = text[:SCAN_MAX_CHARS]
    found = _find_object(text)
    if found is None:
        return DecisionParse(error="no JSON object found")
    try:
        return DecisionParse(decision=ProactiveDecision.model_validate(found))
    except ValidationError as exc:
        return DecisionParse(error=_describe(exc))


def _find_object(text: str) -> dict | None:
    """Fenced blocks first, then the whole text: the first object with an "action" key,
    else the first object at all (so a decision missing its action gets a precise error)."""
    budget = [SCAN_MAX_CANDIDATES]
    first_any = None
    segments = [m.group(1) for m in _FENCE.finditer(text)]
    segments.append(text)
    for segment in segments:
        for obj in _objects(segment, budget):
            if "action" in obj:
                return obj
            if first_any is None:
                first_any = obj
        if budget[0] <= 0:
            break
    return first_any


def _objects(text: str, budget: list[int]):
    """Yield JSON objects decoded at successive "{" positions, spending a shared budget."""
    decoder = json.JSONDecoder()
    pos = text.find("{")
    while pos != -1 and budget[0] > 0:
        budget[0] -= 1
        try:
            value, end = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            pos = text.find("{", pos + 1)
            continue
        if isinstance(value, dict):
            yield value
        pos = text.find("{", max(end, pos + 1))


def _describe(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    if errors and errors[0]["type"] == "unknown_action":
        return errors[0]["msg"]
    parts = []
    for error in errors[:_ERRORS_SHOWN]:
        where = ".".join(str(part) for part in error["loc"])
        part = f"{where}: {error['msg']}" if where else error["msg"]
        parts.append(part[:_ERROR_PART_MAX])
    more = f" (+{len(errors) - _ERRORS_SHOWN} more)" if len(errors) > _ERRORS_SHOWN else ""
    return "invalid decision: " + "; ".join(parts) + more


def _short_repr(value: str, limit: int = 40) -> str:
    value = value.strip()
    return repr(value if len(value) <= limit else value[:limit] + "…")

