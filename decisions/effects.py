"""Applying what a handler asked for: messages, questions, outreach. Runs inside the
caller's transaction, so the outbox rows and approvals commit with the result."""

from actions.registry import Effects

from .models import Cycle, NotificationKind
from .outbox import notification_enqueue


def effects_apply(*, effects: Effects, cycle_id: int | None, approval_id: int | None, key: str) -> list[int]:
    """Returns the ids of approvals created for questions."""
    from .approvals import approval_ask

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
