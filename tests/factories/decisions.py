"""factory_boy factories for the decisions models.

`ApprovalFactory` goes through the approval services, exactly as a cycle would: the
Approval row and the outbox message asking the Master come together.
"""

import factory
from factory.django import DjangoModelFactory

from decisions.approvals import approval_ask, approval_request_decision
from decisions.models import Approval, ApprovalKind, Cycle, CycleStatus
from tests.factories import decision


class CycleFactory(DjangoModelFactory):
    """A finished cycle that chose `action` (override `status`, e.g. RUNNING for a live one)."""

    class Meta:
        model = Cycle

    status = CycleStatus.COMPLETED
    action = "meditate"
    trigger = "schedule"


class ApprovalFactory(DjangoModelFactory):
    """A pending decision for the Master: `ApprovalFactory(action="develop_skill", certainty=0.5)`.
    `details` replaces the action's default details. `kind=ApprovalKind.QUESTION` asks a
    question instead (`question`, `context`, `options`)."""

    class Meta:
        model = Approval

    class Params:
        certainty = 0.9
        significance = 0.3
        reasoning = "because it is wise"
        details = None
        context = ""

    kind = ApprovalKind.DECISION
    action = "meditate"
    cycle = None
    question = "Which first?"
    options = ()
    payload = factory.LazyAttribute(lambda o: _payload(o))

    @classmethod
    def _create(cls, model_class, *args, **fields):
        payload, cycle = fields["payload"], fields["cycle"]
        if fields["kind"] == ApprovalKind.QUESTION:
            return approval_ask(
                question=payload["question"], context=payload["context"], options=tuple(payload["options"]), cycle=cycle
            )
        return approval_request_decision(decision=payload, cycle=cycle)


def _payload(o) -> dict:
    if o.kind == ApprovalKind.QUESTION:
        return {"question": o.question, "context": o.context, "options": list(o.options)}
    return decision(o.action, certainty=o.certainty, significance=o.significance, reasoning=o.reasoning,
                    **(o.details or {}))
