"""One-tap approvals: a tap decides through the approval services, is always answered,
and the message shows the outcome in place of its buttons."""

from datetime import timedelta

import pytest

from agentsite.core.clock import utc_now
from decisions.approvals import approval_ask, approval_request_decision
from decisions.models import Approval, ApprovalStatus, Surface
from telegrambot.models import TelegramUpdate, UpdateStatus
from telegrambot.taps import callback_data_parse
from tests.factories import decision
from tests.telegrambot._support import MASTER, STRANGER, handle, tap

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_model_calls")]


REQUEST_TEXT = "Approval needed (#1): meditate"


def request() -> Approval:
    return approval_request_decision(decision=decision("meditate"), cycle=None)


def question() -> Approval:
    return approval_ask(question="Which first?", options=("Haiku", "Sonnet"), cycle=None)


def press(bot, data: str, **kwargs) -> tuple[str, dict | None]:
    """Tap a button; returns the callback answer's text and the edit made (or None)."""
    answers, edits = len(bot.calls("answerCallbackQuery")), len(bot.calls("editMessageText"))
    assert handle(tap(data, message_text=kwargs.pop("message_text", REQUEST_TEXT), **kwargs),
                  deliver=False) == "processed"
    new_answers = bot.calls("answerCallbackQuery")[answers:]
    assert len(new_answers) == 1, "every tap is answered exactly once"
    new_edits = bot.calls("editMessageText")[edits:]
    return new_answers[0].get("text", ""), (new_edits[0] if new_edits else None)


def test_approve_tap(bot):
    approval = request()

    answer, edit = press(bot, f"approve:{approval.pk}", message_id=42)

    approval.refresh_from_db()
    assert (approval.status, approval.decided_by, approval.decided_via) == (
        ApprovalStatus.APPROVED, "master", Surface.TELEGRAM)
    assert answer == "Approved"
    assert edit["message_id"] == "42" and edit["chat_id"] == str(MASTER)
    assert edit["text"] == f"{REQUEST_TEXT}\n\n✅ Approved by master"
    assert "reply_markup" not in edit  # an edit without one removes the buttons


def test_reject_tap(bot):
    approval = request()

    answer, edit = press(bot, f"reject:{approval.pk}")

    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.REJECTED
    assert answer == "Rejected"
    assert edit["text"].endswith("❌ Rejected by master")


def test_a_second_tap_says_already_and_removes_the_buttons(bot):
    approval = request()
    press(bot, f"approve:{approval.pk}")

    answer, edit = press(bot, f"reject:{approval.pk}")

    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED
    assert answer == "Already approved"
    assert edit["text"].endswith("✅ Approved by master")


def test_an_option_tap_answers_the_question(bot):
    asked = question()

    answer, edit = press(bot, f"ans:{asked.pk}:1", message_text="Question from the agent")

    asked.refresh_from_db()
    assert (asked.status, asked.answer, asked.decided_via) == (ApprovalStatus.ANSWERED, "Sonnet", Surface.TELEGRAM)
    assert answer == "Answered: Sonnet"
    assert edit["text"] == "Question from the agent\n\n💬 Answered by master: Sonnet"

    again, edit = press(bot, f"ans:{asked.pk}:0", message_text="Question from the agent")
    asked.refresh_from_db()
    assert asked.answer == "Sonnet"
    assert again == "Already answered"
    assert edit is not None


def test_an_option_that_does_not_exist(bot):
    asked = question()

    answer, edit = press(bot, f"ans:{asked.pk}:5")

    assert answer == f"Approval #{asked.pk} has no option 5"
    assert edit is None
    asked.refresh_from_db()
    assert asked.status == ApprovalStatus.PENDING


def test_approve_tap_on_a_question(bot):
    asked = question()

    answer, edit = press(bot, f"approve:{asked.pk}")

    assert "is a question" in answer and edit is None


def test_an_expired_approval_tap(bot):
    approval = request()
    Approval.objects.filter(pk=approval.pk).update(expires_at=utc_now() - timedelta(seconds=1))

    answer, edit = press(bot, f"approve:{approval.pk}")

    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING  # the sweep marks it; nobody approved it
    assert answer == "This approval has expired"
    assert edit["text"].endswith("⌛ Expired unanswered")


def test_an_unknown_approval_tap(bot):
    answer, edit = press(bot, "approve:999")

    assert answer == "This approval no longer exists"
    assert "reply_markup" not in edit  # an edit without one removes the buttons


@pytest.mark.parametrize("data", ["", "bogus", "approve", "approve:", "approve:x", "approve:1:2", "ans:1",
                                  "ans:1:x", "reject:-1", "approval:1:approve", "ans:²:0", "approve:1" + "0" * 30])
def test_malformed_callback_data_is_an_unknown_action(bot, data):
    approval = request()

    answer, edit = press(bot, data)

    assert answer == "Unknown action" and edit is None
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


@pytest.mark.parametrize("data", ["approve:{pk}", "reject:{pk}", "ans:{pk}:0"])
def test_a_stranger_tap_is_refused_and_changes_nothing(bot, data):
    approval = question() if data.startswith("ans") else request()

    answer, edit = press(bot, data.format(pk=approval.pk), chat_id=STRANGER)

    assert answer == "Not allowed" and edit is None
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


def test_a_tap_survives_flood_control_and_failed_edits(bot):
    approval = request()
    bot.rate_limit(retry_after=3, method="answerCallbackQuery")
    bot.fail(400, method="editMessageText", description="Bad Request: message is not modified")

    assert handle(tap(f"approve:{approval.pk}", message_text=REQUEST_TEXT), deliver=False) == "processed"

    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED
    assert TelegramUpdate.objects.get().status == UpdateStatus.PROCESSED


def test_a_tap_on_a_very_long_message_keeps_the_edit_within_telegrams_limit(bot):
    approval = request()

    _, edit = press(bot, f"approve:{approval.pk}", message_text="x" * 4096)

    assert len(edit["text"]) <= 4096 and edit["text"].endswith("✅ Approved by master")


def test_callback_data_parse():
    assert callback_data_parse("approve:12") == ("approve", 12, None)
    assert callback_data_parse("reject:3") == ("reject", 3, None)
    assert callback_data_parse("ans:4:0") == ("ans", 4, 0)
    assert callback_data_parse("ans:4") is None
