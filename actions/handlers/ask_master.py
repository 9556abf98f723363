"""ask_master: return the question; the engine turns it into an approval and a message."""

from django.utils.text import Truncator

from ..registry import ActionContext, ActionResult, Effects, Question, register
from ..schemas import AskMasterDetails


@register("ask_master")
def ask_master(details: AskMasterDetails, context: ActionContext) -> ActionResult:
    question = Question(question=details.question, context=details.context, options=tuple(details.options))
    return ActionResult(
        status="ok",
        data={"question": details.question, "options": list(details.options),
              "summary": f"question for the Master: {Truncator(details.question).chars(80)}"},
        effects=Effects(questions=(question,)),
    )
