"""One of everything the admin shows: the rows behind the `world` fixture (tests/conftest.py),
shared by the admin tests of every app."""

from actions.models import Skill, Task
from budget.models import DailyCounter, LedgerEntry, Scope
from budget.services import budget_reserve, ledger_record
from budget.usage import TokenUsage
from decisions.approvals import approval_ask, approval_request_decision
from decisions.models import Cycle, CycleStatus, Notification, NotificationStatus
from memory.models import MemoryKind
from memory.services import memory_record
from tests.factories import decision


def world_build() -> dict:
    """One of everything the admin shows (the Master configured by the caller)."""
    cycle = Cycle.objects.create(
        status=CycleStatus.AWAITING_APPROVAL, action="meditate", prompt="Decide. <script>alert('p')</script>",
        raw_response='```json\n{"action": "meditate"}\n```', decision=decision("meditate"), certainty=0.5,
        significance=0.3, input_tokens=1200, output_tokens=80, duration_ms=2100,
    )
    approval = approval_request_decision(decision=decision("meditate", reasoning="<b>calm</b> first"), cycle=cycle)
    question = approval_ask(question="Which first?", context="both urgent", options=("A", "B"), cycle=None)
    Notification.objects.filter(approval=approval).update(status=NotificationStatus.FAILED, last_error="boom")
    ledger_record(scope=Scope.PROACTIVE, usage=TokenUsage(input=1000, output=234), model="claude-test")
    ledger_record(scope=Scope.REACTIVE, usage=TokenUsage(input=500, output=67), model="claude-test")
    reservation = budget_reserve(amount=500)
    memory = memory_record(kind=MemoryKind.REFLECTION, content="Meditated on patience.", cycle_id=cycle.pk)
    task = Task.objects.create(title="Write a haiku", source="api")
    skill = Skill.objects.create(name="Haiku")
    return {
        "cycle": cycle, "approval": approval, "question": question, "reservation": reservation,
        "memory": memory, "task": task, "skill": skill,
        "notification": Notification.objects.filter(approval=approval).first(),
        "ledger": LedgerEntry.objects.first(), "counter": DailyCounter.objects.first(),
    }
