"""Edit on Telegram: the "✏️ Edit" button (the Master's next text is the decision's new
text, then it is approved), `/edit <id> <text>`, and `/reject <id> <feedback>` as guidance.
Through the real python-telegram-bot against the fake Bot API; no model call."""

from datetime import timedelta

import pytest
import time_machine

from agentsite.core.clock import utc_now
from decisions.approvals import EDIT_REPLY_WINDOW, approval_request_decision
from decisions.models import Approval, ApprovalStatus, Surface
from memory.models import MemoryEntry, MemoryKind
from telegrambot.delivery import outbox_deliver
from telegrambot.models import ChatMessage, MessageKind
from telegrambot.taps import callback_data_parse
from tests.factories import decision
from tests.telegrambot._support import MASTER, STRANGER, handle, message, tap

from .conftest import decision_keyboard

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_model_calls")]


def outreach() -> Approval:
    return approval_request_decision(decision=decision("proactive_outreach", certainty=0.95), cycle=None)


def buttons(bot, approval: Approval) -> list[list[dict]]:
    outbox_deliver()
    [sent] = [m for m in bot.sent_messages if f"(#{approval.pk})" in m["text"]]
    return sent["reply_markup"]["inline_keyboard"]


def test_an_outreach_request_has_an_edit_button_and_names_edit(bot):
    approval = outreach()
    assert buttons(bot, approval) == [
        *decision_keyboard(approval.pk)["inline_keyboard"],
        [{"text": "✏️ Edit", "callback_data": f"edit:{approval.pk}"}],
    ]
    assert f"/edit {approval.pk} <new message>" in bot.texts(MASTER)[-1]
    assert callback_data_parse(f"edit:{approval.pk}") == ("edit", approval.pk, None)


def test_a_decision_without_a_text_has_no_edit_button(bot):
    approval = approval_request_decision(decision=decision("meditate", certainty=0.5), cycle=None)
    assert buttons(bot, approval) == decision_keyboard(approval.pk)["inline_keyboard"]


def test_edit_tap_then_the_next_text_becomes_the_message_and_is_sent(bot, django_capture_on_commit_callbacks):
    approval = outreach()
    outbox_deliver()
    assert handle(tap(f"edit:{approval.pk}"), deliver=False) == "processed"
    assert bot.calls("answerCallbackQuery")[-1]["text"] == "Send the new message as your next message"
    assert not bot.calls("editMessageText")  # the buttons stay: Approve / Reject still work
    outbox_deliver()
    assert bot.texts(MASTER)[-1].startswith(f"Send me the new message for #{approval.pk}")
    assert "Hello from the agent" in bot.texts(MASTER)[-1]

    with django_capture_on_commit_callbacks(execute=True):
        assert handle(message("Good evening, I am the Master's agent.")) == "processed"
    outbox_deliver()

    approval.refresh_from_db()
    assert (approval.status, approval.decided_via, approval.decided_by) == (
        ApprovalStatus.EXECUTED, Surface.TELEGRAM, "master",
    )
    assert approval.edited_details["message"] == "Good evening, I am the Master's agent."
    assert approval.payload["details"]["message"] == "Hello from the agent"
    assert approval.edit_chat_id is None
    assert bot.texts(5555) == ["Good evening, I am the Master's agent."]
    assert any(t.startswith(f"Edited and approved #{approval.pk}") for t in bot.texts(MASTER))
    stored = ChatMessage.objects.get(text="Good evening, I am the Master's agent.")
    assert stored.kind == MessageKind.COMMAND  # never chat history for the model
    # A later tap on the request's old buttons shows how it ended.
    handle(tap(f"approve:{approval.pk}"), deliver=False)
    assert bot.calls("editMessageText")[-1]["text"].endswith("✅ Edited and approved by master")


def test_the_next_text_after_the_window_is_chat_again(bot, claude):
    approval = outreach()
    handle(tap(f"edit:{approval.pk}"))
    claude.reply_text("Hello!")
    with time_machine.travel(utc_now() + EDIT_REPLY_WINDOW + timedelta(minutes=1)):
        handle(message("just chatting"))
    assert Approval.objects.get(pk=approval.pk).status == ApprovalStatus.PENDING
    assert ChatMessage.objects.get(text="just chatting").kind == MessageKind.CHAT
    assert len(claude.message_requests) == 1  # chat, answered by the model (this one test may call it)
    claude.requests.clear()


def test_an_invalid_new_text_is_refused_and_the_approval_still_waits(bot):
    approval = outreach()
    handle(tap(f"edit:{approval.pk}"))
    handle(message("x" * 4001))
    approval.refresh_from_db()
    assert (approval.status, approval.edited_details) == (ApprovalStatus.PENDING, None)
    assert bot.texts(MASTER)[-1].startswith(f"Not changed, #{approval.pk} still waits: invalid edit")


def test_edit_tap_on_a_decision_without_text_says_where_to_edit(bot):
    approval = approval_request_decision(decision=decision("meditate", certainty=0.5), cycle=None)
    handle(tap(f"edit:{approval.pk}"), deliver=False)
    assert "edit its details in the admin or the API" in bot.calls("answerCallbackQuery")[-1]["text"]
    assert Approval.objects.get(pk=approval.pk).edit_chat_id is None


def test_a_strangers_edit_tap_and_text_change_nothing(bot):
    approval = outreach()
    handle(tap(f"edit:{approval.pk}", chat_id=STRANGER), deliver=False)
    assert bot.calls("answerCallbackQuery")[-1]["text"] == "Not allowed"
    handle(message("take over", chat_id=STRANGER))
    approval.refresh_from_db()
    assert (approval.status, approval.edit_chat_id) == (ApprovalStatus.PENDING, None)


def test_edit_command_in_one_step(bot, django_capture_on_commit_callbacks):
    approval = outreach()
    outbox_deliver()
    with django_capture_on_commit_callbacks(execute=True):
        handle(message(f"/edit {approval.pk} Short and kind."))
    outbox_deliver()
    assert bot.texts(5555) == ["Short and kind."]
    assert any(t.startswith(f"Edited and approved #{approval.pk}") for t in bot.texts(MASTER))


@pytest.mark.parametrize("text, words", [
    ("/edit", "Usage: /edit <id> <new text>"),
    ("/edit 1", "Usage: /edit <id> <new text>"),
    ("/edit 999 hi", "Approval #999 does not exist."),
])
def test_edit_command_bad_arguments(bot, text, words):
    outreach()
    outbox_deliver()
    handle(message(text))
    assert bot.texts(MASTER)[-1] == words


def test_edit_command_on_meditate_points_to_admin_and_api(bot):
    approval = approval_request_decision(decision=decision("meditate", certainty=0.5), cycle=None)
    handle(message(f"/edit {approval.pk} calmer"))
    assert "edit its details in the admin or the API" in bot.texts(MASTER)[-1]
    assert Approval.objects.get(pk=approval.pk).status == ApprovalStatus.PENDING


def test_reject_with_feedback_becomes_guidance(bot):
    approval = outreach()
    handle(message(f"/reject {approval.pk} Do not write to strangers yet."))
    guidance = MemoryEntry.objects.get(kind=MemoryKind.GUIDANCE)
    assert guidance.content == (
        f"The Master rejected proactive_outreach (approval #{approval.pk}): Do not write to strangers yet."
    )
