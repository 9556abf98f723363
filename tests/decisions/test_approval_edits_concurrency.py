"""Two Masters editing and approving the same outreach at once (PostgreSQL row locks):
exactly one edit wins, is recorded and is the one sent; the other gets a clear refusal."""

import itertools

import pytest

from decisions.approvals import approval_approve
from decisions.errors import ApprovalNotPending
from decisions.models import Approval, ApprovalStatus, Notification
from memory.models import MemoryEntry
from tests.concurrency import run_at_once
from tests.factories.decisions import ApprovalFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_edits_at_once_one_wins_and_only_it_is_sent(settings):
    settings.MASTER_CHAT_IDS = [1001]
    approval = ApprovalFactory(action="proactive_outreach")
    counter = itertools.count()

    def edit_and_approve() -> str:
        n = next(counter)
        try:
            approval_approve(approval_id=approval.pk, by=f"m{n}", via="api", details={"message": f"edit {n}"})
        except ApprovalNotPending:
            return "refused"
        return f"edit {n}"

    outcomes = run_at_once(edit_and_approve, count=4)

    winners = [o for o in outcomes if o != "refused"]
    assert len(winners) == 1 and outcomes.count("refused") == 3
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.EXECUTED  # executed on commit (tasks run inline)
    assert approval.edited_details["message"] == winners[0]
    assert [n.text for n in Notification.objects.filter(chat_id=5555)] == winners
    assert MemoryEntry.objects.filter(meta__approval_id=approval.pk, meta__status="approved").count() == 1
    assert Approval.objects.get(pk=approval.pk).payload["details"]["message"] == "Hello from the agent"
