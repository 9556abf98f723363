"""communicate: a message for the Master, or (approved only) outreach to someone else."""

import re

from django.utils.text import Truncator

from ..registry import ActionContext, ActionResult, Effects, MasterMessage, Outreach, register
from ..schemas import CommunicateDetails

HIGH_PRIORITY_MARKER = "‼️ "
_CHAT_ID = re.compile(r"-?[0-9]{1,20}")


@register("communicate")
def communicate(details: CommunicateDetails, context: ActionContext) -> ActionResult:
    gist = Truncator(details.message).chars(80)
    if details.to_master:
        text = HIGH_PRIORITY_MARKER + details.message if details.priority == "high" else details.message
        return ActionResult(
            status="ok",
            data={"recipient": "master", "priority": details.priority, "summary": f"message for the Master: {gist}"},
            effects=Effects(messages=(MasterMessage(text=text, priority=details.priority),)),
        )

    # Checked before approval, so the Master is never asked to approve what cannot be sent.
    if not _CHAT_ID.fullmatch(details.recipient) or int(details.recipient) == 0:
        return ActionResult(
            status="invalid_details",
            data={"recipient": details.recipient,
                  "error": "recipient: must be 'master' or a numeric Telegram chat id"},
        )
    chat_id = int(details.recipient)
    if context.approval_id is None:  # defence in depth: the engine routes outreach to approval
        return ActionResult(
            status="needs_approval",
            data={"recipient": chat_id, "summary": f"message to chat {chat_id} awaits the Master's approval"},
        )
    return ActionResult(
        status="ok",
        data={"recipient": chat_id, "priority": details.priority, "summary": f"wrote to chat {chat_id}: {gist}"},
        effects=Effects(outreach=(Outreach(chat_id=chat_id, message=details.message, purpose=""),)),
    )
