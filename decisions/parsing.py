"""Turn the model's reply into a validated decision, or a short reason why not.

Pure: no database, no settings. `decision_parse` never raises, because a bad reply
must end as a failed cycle with a readable error, not as a crashed worker. A reply is
one decision: two different decision objects (a draft and a final, an example and an
answer) make it ambiguous, and nothing is taken from it.
"""

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from actions.schemas import ACTIONS, DETAILS_MODELS, Details

from .rules import DEFAULT_MIN_CERTAINTY, DEFAULT_RULE, ActionRule, PolicyMode

CERTAINTY_THRESHOLD = DEFAULT_MIN_CERTAINTY
SIGNIFICANCE_THRESHOLD = 0.8

REASONING_MAX_CHARS = 4_000
# Bounds on the search, so adversarial replies (huge, or thousands of "{") stay cheap.
SCAN_MAX_CHARS = 100_000
SCAN_MAX_CANDIDATES = 256
_ERRORS_SHOWN = 3
_ERROR_PART_MAX = 200

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


def needs_approval(decision: ProactiveDecision, rule: ActionRule = DEFAULT_RULE) -> bool:
    """Whether the Master must consent before this decision runs, under the action's
    policy `rule`. The hard floors come first: no policy lowers them."""
    if decision.action == "ask_master":
        return False  # asking is itself the consent path
    if decision.action == "proactive_outreach":
        return True  # contacting anyone but the Master always needs consent
    if decision.action == "communicate" and not decision.details_model.to_master:
        return True
    if rule.mode == PolicyMode.ASK_ALWAYS:
        return True
    return decision.certainty < rule.min_certainty


def is_disabled(decision: ProactiveDecision, rule: ActionRule = DEFAULT_RULE) -> bool:
    """The Master disabled this action: the cycle fails, and the agent is told why."""
    return rule.mode == PolicyMode.DISABLED


def should_notify(decision: ProactiveDecision) -> bool:
    """Whether the Master should hear about this decision's outcome."""
    return is_significant(decision.significance)


def is_significant(significance: float) -> bool:
    """The one significance rule: a cycle's own action and an approved one alike."""
    return significance >= SIGNIFICANCE_THRESHOLD


def _parse(text: str) -> DecisionParse:
    if not isinstance(text, str):
        return DecisionParse(error="reply is not text")
    scanned, rest = text[:SCAN_MAX_CHARS], text[SCAN_MAX_CHARS:]
    found = _scan(scanned)
    if found.decisions and (found.exhausted or rest.strip()):
        # A second decision may hide where the scan did not reach (or where the client cut
        # a huge reply off): acting on the first would be a guess.
        return DecisionParse(error="ambiguous reply: too long or too tangled to be sure it holds one decision")
    if len(found.decisions) > 1:
        return DecisionParse(
            error=f"ambiguous reply: it holds {len(found.decisions)} different decision objects; none was taken"
        )
    candidate = found.decisions[0] if found.decisions else found.first_other
    if candidate is None:
        return DecisionParse(error="no JSON object found")
    try:
        return DecisionParse(decision=ProactiveDecision.model_validate(candidate))
    except ValidationError as exc:
        return DecisionParse(error=_describe(exc))


@dataclass
class _Scan:
    decisions: list[dict]  # distinct objects with an "action" key, in order
    first_other: dict | None = None  # else the first object at all, for a precise error
    exhausted: bool = False  # the candidate budget ran out before the end of the text


def _scan(text: str) -> _Scan:
    """Every top-level JSON object in the text (fenced or in prose), decoded at successive
    "{" positions within a budget of attempts. A reply is one decision: the same object
    repeated (say, in a fence and again in prose) counts once; two different ones make
    the reply ambiguous."""
    found = _Scan(decisions=[])
    decoder = json.JSONDecoder()
    attempts = 0
    pos = text.find("{")
    while pos != -1:
        if attempts >= SCAN_MAX_CANDIDATES:
            found.exhausted = True
            break
        attempts += 1
        try:
            value, end = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            pos = text.find("{", pos + 1)
            continue
        if isinstance(value, dict) and "action" in value:
            if value not in found.decisions:
                found.decisions.append(value)
        elif isinstance(value, dict) and found.first_other is None:
            found.first_other = value
        pos = text.find("{", max(end, pos + 1))
    return found


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

