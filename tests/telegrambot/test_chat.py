"""Reactive chat: the Master's text answered by Claude (the real SDK against the fake),
with the conversation so far and the agent's state; metered as reactive; replies
through the outbox; a reply to a question's message is its answer instead."""

import pytest

from budget.models import LedgerEntry, Scope
from budget.selectors import budget_stats
from decisions.approvals import approval_ask, approval_request_decision
from decisions.models import Approval, ApprovalStatus, Notification, Surface
from telegrambot.chat import history_messages
from telegrambot.delivery import outbox_deliver
from telegrambot.models import ChatMessage, Direction, MessageKind
from telegrambot.text import split_message
from tests.factories import decision
from tests.fakes.anthropic_api import OVERLOADED, SERVER_ERROR, UNAUTHORIZED
from tests.telegrambot._support import MASTER, handle, message

pytestmark = pytest.mark.django_db


def chat(bot, claude, text: str, answer: str | None = "ok", **kwargs) -> list[str]:
    """Send `text` as the Master (Claude answering `answer`); the messages the Master got."""
    if answer is not None:
        claude.reply_text(answer)
    before = len(bot.texts(MASTER))
    assert handle(message(text, **kwargs)) == "processed"
    return bot.texts(MASTER)[before:]


def sent_request(claude, index: int = -1) -> dict:
    return claude.message_requests[index].json


def test_a_master_message_is_answered_by_claude(bot, claude):
    assert chat(bot, claude, "How are you?", "Fine, thank you.") == ["Fine, thank you."]

    request = sent_request(claude)
    assert request["messages"] == [{"role": "user", "content": "How are you?"}]
    inbound, outbound = ChatMessage.objects.order_by("id")
    assert (inbound.direction, inbound.kind, inbound.text, inbound.is_master) == (
        Direction.IN, MessageKind.CHAT, "How are you?", True)
    assert (outbound.direction, outbound.kind, outbound.text) == (Direction.OUT, MessageKind.CHAT, "Fine, thank you.")
    assert bot.calls("sendChatAction")[0]["action"] == "typing"


def test_claude_gets_the_conversation_so_far_and_the_agents_state(bot, claude):
    approval_request_decision(decision=decision("meditate"), cycle=None)
    chat(bot, claude, "Hello", "Hello, Master.")
    chat(bot, claude, "/status", None)  # commands are not conversation
    chat(bot, claude, "What are you doing?", "Waiting for your approval.")

    chat(bot, claude, "Which one?", "Meditation #1.")

    request = sent_request(claude)
    assert request["messages"] == [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hello, Master."},
        {"role": "user", "content": "What are you doing?"},
        {"role": "assistant", "content": "Waiting for your approval."},
        {"role": "user", "content": "Which one?"},
    ]
    system = request["system"][0]["text"]
    assert "Proactive cycles: running" in system
    assert "Last cycle: none yet" in system
    assert "level ok" in system
    assert "Open tasks: 0; approvals waiting for the Master: 1" in system


def test_the_state_summary_says_when_paused(bot, claude):
    chat(bot, claude, "/pause", None)

    chat(bot, claude, "Still there?")

    assert "Proactive cycles: paused" in sent_request(claude)["system"][0]["text"]


def test_history_is_limited_and_starts_with_the_master(bot, claude, settings):
    for i in range(3):
        chat(bot, claude, f"question {i}", f"answer {i}")
    settings.MESSAGE_HISTORY_LIMIT = 4  # answer 1, question 2, answer 2, question 3

    chat(bot, claude, "question 3")

    assert sent_request(claude)["messages"] == [
        {"role": "user", "content": "question 2"},
        {"role": "assistant", "content": "answer 2"},
        {"role": "user", "content": "question 3"},
    ]


def test_the_history_is_the_chats_own(bot, claude, settings):
    settings.MASTER_CHAT_IDS = [MASTER, 1002]
    chat(bot, claude, "secret plans", "noted", chat_id=1002)

    chat(bot, claude, "hello")

    assert sent_request(claude)["messages"] == [{"role": "user", "content": "hello"}]


def test_consecutive_messages_of_one_side_are_merged(bot, claude):
    claude.fail(SERVER_ERROR, times=3)  # the SDK retries twice
    chat(bot, claude, "first", None)  # answered with an apology, which is not conversation

    chat(bot, claude, "second")

    assert sent_request(claude)["messages"] == [{"role": "user", "content": "first\n\nsecond"}]


def test_a_message_handled_concurrently_is_not_in_an_earlier_ones_history(bot, claude, monkeypatch):
    """Two quick messages handled at once: the first one's answer must not see the second
    (stored by the other worker meanwhile); the second's history ends with itself."""
    from telegrambot import chat as chat_module
    from telegrambot.messages import Sender, chat_message_record

    real_reply = chat_module.chat_reply
    second = message("second")

    def reply_while_the_second_arrives(**kwargs):
        chat_message_record(  # the other worker stores the second message now
            chat_id=MASTER, direction=Direction.IN, text="second", kind=MessageKind.CHAT, is_master=True,
            update_id=second["update_id"], sender=Sender(user_id=MASTER),
        )
        monkeypatch.setattr(chat_module, "chat_reply", real_reply)
        return real_reply(**kwargs)

    monkeypatch.setattr(chat_module, "chat_reply", reply_while_the_second_arrives)
    claude.reply_text("one")
    claude.reply_text("two")

    assert handle(message("first")) == "processed"
    assert handle(second) == "processed"

    first_request, second_request = (request.json["messages"] for request in claude.message_requests)
    assert first_request == [{"role": "user", "content": "first"}]
    # The second was stored before the first was answered: its history ends with it.
    assert second_request == [{"role": "user", "content": "first\n\nsecond"}]
    assert bot.texts(MASTER) == ["one", "two"]


def test_history_messages_alternate_and_begin_and_end_with_the_user():
    rows = [ChatMessage(direction=d, text=t) for d, t in [
        ("out", "stale reply"), ("in", "a"), ("in", "b"), ("out", "c"), ("out", "d"), ("in", " "), ("in", "e"),
        ("out", "dangling"),
    ]]

    assert history_messages(rows) == [
        {"role": "user", "content": "a\n\nb"},
        {"role": "assistant", "content": "c\n\nd"},
        {"role": "user", "content": "e"},
    ]


def test_chat_is_metered_as_reactive_and_not_limited_by_the_proactive_budget(bot, claude, budget_limit):
    budget_limit(1)

    assert chat(bot, claude, "Are you there?", "Always.") == ["Always."]

    entry = LedgerEntry.objects.get()
    assert entry.scope == Scope.REACTIVE
    assert entry.meta["chat_id"] == MASTER and entry.meta["purpose"] == "chat"
    stats = budget_stats()
    assert stats["token_usage_today"]["reactive"] == 120 and stats["token_usage_today"]["proactive"] == 0


@pytest.mark.parametrize("failure, kind", [(SERVER_ERROR, "server_error"), (OVERLOADED, "overloaded"),
                                           (UNAUTHORIZED, "authentication")])
def test_a_failed_model_call_gets_a_short_apology(bot, claude, failure, kind):
    claude.fail(failure, times=3)

    [text] = chat(bot, claude, "Hello?", None)

    assert text.startswith("Sorry") and f"({kind})" in text
    assert "Traceback" not in text and len(text) < 200
    assert ChatMessage.objects.get(direction=Direction.OUT).kind == MessageKind.ERROR


def test_no_model_configured_gets_a_short_apology(bot, claude, settings):
    settings.ANTHROPIC_API_KEY = ""
    settings.CLAUDE_CODE_OAUTH_TOKEN = ""

    [text] = chat(bot, claude, "Hello?", None)

    assert text.startswith("Sorry") and "not configured" in text
    assert claude.message_requests == []


def test_a_long_reply_is_delivered_in_parts_in_order(bot, claude):
    long = "\n\n".join(" ".join(f"p{i}w{j}" for j in range(250)) for i in range(7))
    assert len(long) > 2 * 4096

    parts = chat(bot, claude, "Tell me everything.", long)

    assert len(parts) > 1
    assert parts == split_message(long)
    assert all(len(part) <= 4096 for part in parts)


def test_a_reply_waits_in_the_outbox_while_telegram_is_down(bot, claude, make_due):
    bot.fail(502, times=None, method="sendMessage")

    assert chat(bot, claude, "Hello?", "Hello!") == []
    bot.clear_failures()
    make_due()
    outbox_deliver()

    assert bot.texts(MASTER) == ["Hello!"]


# --- replies to questions -------------------------------------------------------------------


def ask(bot, **kwargs) -> tuple[Approval, int]:
    """A question sent to the Master; returns it and the message id it was sent as."""
    approval = approval_ask(question="Which task first?", cycle=None, **kwargs)
    outbox_deliver()
    notification = Notification.objects.get(approval=approval)
    return approval, notification.telegram_message_id


def replying_to(text: str, message_id: int, **kwargs) -> dict:
    update = message(text, **kwargs)
    update["message"]["reply_to_message"] = {
        "message_id": message_id, "date": update["message"]["date"], "chat": update["message"]["chat"],
        "from": {"id": 123456, "is_bot": True, "first_name": "Agent", "username": "agentsite_test_bot"},
        "text": "Question from the agent",
    }
    return update


def test_a_reply_to_a_question_is_its_answer(bot, claude):
    approval, message_id = ask(bot)

    assert handle(replying_to("The haiku first.", message_id)) == "processed"

    approval.refresh_from_db()
    assert (approval.status, approval.answer, approval.decided_by, approval.decided_via) == (
        ApprovalStatus.ANSWERED, "The haiku first.", "master", Surface.TELEGRAM)
    assert bot.texts(MASTER)[-1] == f"Thank you: recorded as your answer to question #{approval.pk}."
    assert claude.message_requests == []
    inbound = ChatMessage.objects.get(direction=Direction.IN)
    assert (inbound.kind, inbound.reply_to_message_id) == (MessageKind.ANSWER, message_id)


def test_a_reply_to_an_answered_question_says_so_and_is_not_chat(bot, claude):
    approval, message_id = ask(bot)
    handle(replying_to("First answer.", message_id))

    handle(replying_to("Second thoughts.", message_id))

    approval.refresh_from_db()
    assert approval.answer == "First answer."
    assert bot.texts(MASTER)[-1] == (f"That was not recorded as an answer: approval #{approval.pk} "
                                     "is already answered.")
    assert claude.message_requests == []


def test_a_reply_to_any_other_message_is_chat(bot, claude):
    approval_request_decision(decision=decision("meditate"), cycle=None)
    outbox_deliver()
    decision_message_id = Notification.objects.get().telegram_message_id

    claude.reply_text("Noted.")
    handle(replying_to("What does this mean?", decision_message_id))
    handle(replying_to("And this?", 999_999))

    assert len(claude.message_requests) == 2
    assert Approval.objects.get().status == ApprovalStatus.PENDING


def test_a_master_photo_gets_a_text_only_note(bot, claude):
    update = message("ignored")
    del update["message"]["text"]
    update["message"]["photo"] = [{"file_id": "f1", "file_unique_id": "u1", "width": 10, "height": 10}]

    assert handle(update) == "processed"

    assert bot.texts(MASTER) == ["I can only read text messages."]
    assert ChatMessage.objects.get(direction=Direction.IN).text == "[photo]"
    assert claude.message_requests == []
