"""proactive_outreach: writing to someone other than the Master, only once approved."""

from django.utils.text import Truncator

from ..registry import ActionContext, ActionResult, Effects, Outreach, register
from ..schemas import ProactiveOutreachDetails


@register("proactive_outreach")
def proactive_outreach(details: ProactiveOutreachDetails, context: ActionContext) -> ActionResult:
    if details.chat_id == 0:
        return ActionResult(status="invalid_details", data={"error": "chat_id: must be a Telegram chat id"})
    if context.approval_id is None:  # defence in depth: the engine routes outreach to approval
        return ActionResult(
            status="needs_approval",
            data={"chat_id": details.chat_id,
                  "summary": f"outreach to chat {details.chat_id} awaits the Master's approval"},
        )
    outreach = Outreach(chat_id=details.chat_id, message=details.message, purpose=details.purpose)
    return ActionResult(
        status="ok",
        data={"chat_id": details.chat_id, "purpose": details.purpose,
              "summary": f"reached out to chat {details.chat_id}: {Truncator(details.message).chars(80)}"},
        effects=Effects(outreach=(outreach,)),
    )
