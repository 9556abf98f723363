"""develop_skill: one study session with the model, kept as a note on the skill."""

from django.utils.text import Truncator

from budget.client import claude_complete
from agentsite.core.errors import ApplicationError
from budget.models import Scope

from ..registry import ActionContext, ActionResult, effects_after_failed_call, register
from ..schemas import DevelopSkillDetails
from ..services import skill_practise

MAX_NOTE_TOKENS = 800
SYSTEM = (
    "You coach an autonomous agent that studies on its own between tasks. For the skill it "
    "names, write one compact study note it can come back to: the core ideas, one worked "
    "example or exercise, the usual mistakes, and a single concrete next step. Follow the "
    "approach it asks for. Plain text, no greeting or preamble, at most about 300 words."
)


def _request(details: DevelopSkillDetails) -> str:
    lines = [f"Skill: {details.skill_name}", f"Approach: {details.approach or 'your choice'}"]
    if details.duration_estimate:
        lines.append(f"Time available: about {details.duration_estimate} minutes")
    lines.append("Write the study note.")
    return "\n".join(lines)


@register("develop_skill")
def develop_skill(details: DevelopSkillDetails, context: ActionContext) -> ActionResult:
    try:
        reply = claude_complete(
            system=SYSTEM,
            messages=[{"role": "user", "content": _request(details)}],
            scope=Scope.PROACTIVE,
            meta={"cycle_id": context.cycle_id, "action": "develop_skill"},
            max_tokens=MAX_NOTE_TOKENS,
        )
        skill = skill_practise(name=details.skill_name, note=reply.text, cycle_id=context.cycle_id)
    except ApplicationError as exc:  # budget, API, or an empty note: nothing was written
        return ActionResult(
            status="failed",
            data={"skill_name": details.skill_name, "error": exc.message,
                  "summary": f"could not study {details.skill_name}: {exc.message}"},
            effects=effects_after_failed_call(exc),
        )
    return ActionResult(
        status="ok",
        data={
            "skill_id": skill.pk,
            "skill_name": skill.name,
            "practice_count": skill.practice_count,
            "note": Truncator(reply.text.strip()).chars(600),
            "summary": f"studied {skill.name} (practice #{skill.practice_count})",
        },
    )
