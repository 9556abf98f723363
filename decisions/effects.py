"""Applying what a handler asked for: messages, questions, outreach. Runs inside the
caller's transaction, so the outbox rows and approvals commit with the result.

`effects_noted` makes the recorded result honest about delivery: a message written while
Telegram (or a Master chat) is not configured only waits in the outbox, so the summary the
cycle, the approval and memory keep says "queued for the Master (Telegram not configured
yet)" rather than implying it was delivered."""

import dataclasses

from django.conf import settings

from actions.registry import ActionResult, Effects

from .approvals import approval_ask
from .models import Cycle, NotificationKind
from .outbox import notification_enqueue, outbox_waiting_for
from .texts import significant_result_text


def effects_apply(*, effects: Effects, cycle_id: int | None, approval_id: int | None, key: str) -> list[int]:
    """Returns the ids of approvals created for questions."""
    for i, message in enumerate(effects.messages):
        notification_enqueue(
            kind=NotificationKind.MESSAGE,
            text=message.text,  # the handler already marked a high priority
            key=f"{key}:message:{i}",
        )
    questions = []
    cycle = Cycle.objects.filter(pk=cycle_id).first() if cycle_id else None
    for question in effects.questions:
        approval = approval_ask(question=question.question, context=question.context, options=question.options, cycle=cycle)
        questions.append(approval.pk)
    # Outreach leaves the house only on the Master's say-so: never without an approval.
    if approval_id is not None:
        for i, outreach in enumerate(effects.outreach):
            notification_enqueue(
                kind=NotificationKind.MESSAGE,
                text=outreach.message,
                chat_id=outreach.chat_id,
                key=f"{key}:outreach:{i}",
            )
    return questions


def effects_noted(result: ActionResult, *, significant: bool = False) -> ActionResult:
    """`result`, its summary saying so when what it wrote for the Master (messages, questions,
    `significant`: the report of a significant result) or for another chat (outreach) only
    waits in the outbox for the configuration; unchanged when it can go out."""
    notes = []
    effects = result.effects
    why = outbox_waiting_for()
    if why and (effects.messages or effects.questions):
        notes.append(f"queued for the Master ({why}), not delivered")
    if effects.outreach and not settings.TELEGRAM_BOT_TOKEN:
        notes.append("queued for its chat (Telegram not configured yet), not delivered")
    if why and significant and not notes:
        notes.append(f"result report queued for the Master ({why}), not delivered")
    if not notes:
        return result
    note = "; ".join(notes)
    summary = result.data.get("summary")
    data = {**result.data, "delivery": note, "summary": f"{summary}; {note}" if summary else note}
    return dataclasses.replace(result, data=data)


def effects_report(*, result: ActionResult, action: str, decision: dict, significant: bool, key: str) -> ActionResult:
    """What a run action leaves for the record: `result` noted for delivery (effects_noted)
    and, when `significant`, its report queued for the Master, who reads the result
    without the note about that report's own delivery. A cycle and an approval alike."""
    noted = effects_noted(result, significant=significant)
    if significant:
        notification_enqueue(
            kind=NotificationKind.SIGNIFICANT_RESULT,
            text=significant_result_text(action=action, decision=decision, result=result.as_dict()),
            key=f"{key}:result",
        )
    return noted
