"""No entry for strangers: their messages are stored and get one fixed notice a UTC day;
they never reach the model, a command or an approval."""

from datetime import datetime, timezone

import pytest
import time_machine

from actions.models import Task
from decisions.agent import agent_state_get
from decisions.approvals import approval_ask, approval_request_decision
from decisions.models import ApprovalStatus, Notification
from telegrambot.models import (
    ChatMessage,
    Direction,
    MessageKind,
    TelegramUpdate,
    UpdateStatus,
)
from telegrambot.messages import Sender
from telegrambot.strangers import STRANGER_NOTICE, stranger_message_note
from tests.factories import decision
from tests.telegrambot._support import (
    MASTER,
    STRANGER,
    handle,
    message,
    next_update_id,
    tap,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_model_calls")]


def test_a_strangers_message_is_stored_and_gets_one_notice(bot):
    assert handle(message("Hi, who are you?", chat_id=STRANGER, message_id=5)) == "processed"

    assert bot.texts(STRANGER) == [STRANGER_NOTICE]
    inbound = ChatMessage.objects.get(direction=Direction.IN)
    assert (inbound.chat_id, inbound.is_master, inbound.text, inbound.user_id, inbound.username,
            inbound.first_name, inbound.telegram_message_id) == (
        STRANGER, False, "Hi, who are you?", STRANGER, "master", "Master", 5)
    notice = ChatMessage.objects.get(direction=Direction.OUT)
    assert (notice.kind, notice.is_master, notice.text) == (MessageKind.NOTICE, False, STRANGER_NOTICE)
    assert bot.texts(MASTER) == []


def test_only_one_notice_a_day_however_many_messages(bot):
    for text in ("Hello?", "Anybody?", "Please answer"):
        handle(message(text, chat_id=STRANGER))

    assert bot.texts(STRANGER) == [STRANGER_NOTICE]
    assert ChatMessage.objects.filter(direction=Direction.IN, is_master=False).count() == 3
    assert TelegramUpdate.objects.filter(status=UpdateStatus.PROCESSED).count() == 3


def test_a_second_message_the_same_day_writes_no_second_notice(bot):
    def note(text: str) -> bool:
        return stranger_message_note(update_id=next_update_id(), chat_id=STRANGER, text=text,
                                     sender=Sender(user_id=STRANGER))

    assert note("Hello?") is True
    assert note("Anybody?") is False

    notices = ChatMessage.objects.filter(chat_id=STRANGER, direction=Direction.OUT)
    assert [(n.kind, n.text) for n in notices] == [(MessageKind.NOTICE, STRANGER_NOTICE)]
    assert Notification.objects.filter(chat_id=STRANGER).count() == 1
    assert ChatMessage.objects.filter(chat_id=STRANGER, direction=Direction.IN).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_messages_write_one_notice(bot, monkeypatch):
    """Both strangers' messages handled at once: one outbox row, and one NOTICE row for it."""
    import threading

    from django.db import connection

    from telegrambot import strangers

    real_record = strangers.chat_message_record
    both_deciding = threading.Barrier(2, timeout=2)

    def record(**kwargs):
        if kwargs["direction"] == Direction.OUT:
            try:  # hold each worker just before it writes its NOTICE row, until the other one is there too
                both_deciding.wait()
            except threading.BrokenBarrierError:  # the other one waits on this one's outbox row
                pass
        return real_record(**kwargs)

    monkeypatch.setattr(strangers, "chat_message_record", record)
    results, errors = [], []

    def worker(text: str) -> None:
        try:
            results.append(stranger_message_note(update_id=next_update_id(), chat_id=STRANGER, text=text,
                                                 sender=Sender(user_id=STRANGER)))
        except BaseException as exc:  # noqa: BLE001 (surfaced below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(text,)) for text in ("Hello?", "Anybody?")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(results) == [False, True]
    assert Notification.objects.filter(chat_id=STRANGER).count() == 1
    assert ChatMessage.objects.filter(chat_id=STRANGER, kind=MessageKind.NOTICE).count() == 1
    assert ChatMessage.objects.filter(chat_id=STRANGER, direction=Direction.IN).count() == 2


def test_the_notice_comes_again_the_next_utc_day(bot):
    with time_machine.travel(datetime(2030, 1, 1, 23, 59, tzinfo=timezone.utc), tick=True):
        handle(message("late", chat_id=STRANGER))
        handle(message("still late", chat_id=STRANGER))
    with time_machine.travel(datetime(2030, 1, 2, 0, 1, tzinfo=timezone.utc), tick=True):
        handle(message("early", chat_id=STRANGER))

    assert bot.texts(STRANGER) == [STRANGER_NOTICE, STRANGER_NOTICE]


def test_each_stranger_gets_their_own_notice(bot):
    handle(message("one", chat_id=STRANGER))
    handle(message("two", chat_id=STRANGER + 1))

    assert bot.texts(STRANGER) == [STRANGER_NOTICE]
    assert bot.texts(STRANGER + 1) == [STRANGER_NOTICE]


def test_strangers_commands_do_nothing(bot):
    decided = approval_request_decision(decision=decision("meditate"), cycle=None)
    asked = approval_ask(question="Which?", cycle=None)

    for text in ("/pause", f"/approve {decided.pk}", f"/reject {decided.pk}", f"/answer {asked.pk} yes",
                 "/task Do my homework", "/status", "/help"):
        assert handle(message(text, chat_id=STRANGER)) == "processed"

    assert agent_state_get().paused is False
    decided.refresh_from_db()
    asked.refresh_from_db()
    assert decided.status == asked.status == ApprovalStatus.PENDING
    assert not Task.objects.exists()
    assert bot.texts(STRANGER) == [STRANGER_NOTICE]
    assert ChatMessage.objects.filter(chat_id=STRANGER, direction=Direction.IN).count() == 7


def test_a_strangers_reply_to_a_question_message_is_not_an_answer(bot):
    asked = approval_ask(question="Which?", cycle=None)
    update = message("My answer", chat_id=STRANGER)
    update["message"]["reply_to_message"] = {"message_id": 1, "date": 0, "chat": update["message"]["chat"],
                                             "text": "Which?"}

    handle(update)

    asked.refresh_from_db()
    assert asked.status == ApprovalStatus.PENDING


def test_a_strangers_message_in_a_master_chat_is_the_masters(bot):
    """Whoever writes in a Master chat counts as the Master (the chat is what MASTER_CHAT_IDS lists)."""
    handle(message("/pause", chat_id=MASTER, user_id=MASTER))

    assert agent_state_get().paused is True


def test_a_master_user_writing_elsewhere_is_a_stranger_there(bot):
    """Replies go to the chat written in, so a Master in someone else's group gets no agent there."""
    handle(message("/pause", chat_id=-100555, user_id=MASTER))

    assert agent_state_get().paused is False
    assert bot.texts(-100555) == [STRANGER_NOTICE]


def test_a_stranger_tap_is_refused(bot):
    approval = approval_request_decision(decision=decision("meditate"), cycle=None)

    handle(tap(f"approve:{approval.pk}", chat_id=STRANGER))

    [answer] = bot.calls("answerCallbackQuery")
    assert answer["text"] == "Not allowed"
    assert bot.calls("editMessageText") == []
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


def test_with_no_master_configured_everyone_is_a_stranger(bot, settings):
    settings.MASTER_CHAT_IDS = []

    handle(message("/pause"))
    handle(message("hello"))

    assert agent_state_get().paused is False
    assert bot.texts(MASTER) == [STRANGER_NOTICE]


def test_strangers_non_text_messages_are_noted(bot):
    update = message("x", chat_id=STRANGER)
    del update["message"]["text"]
    update["message"]["sticker"] = {"file_id": "s", "file_unique_id": "s", "type": "regular", "width": 1,
                                    "height": 1, "is_animated": False, "is_video": False}

    handle(update)

    assert ChatMessage.objects.get(direction=Direction.IN).text == "[sticker]"
    assert bot.texts(STRANGER) == [STRANGER_NOTICE]


def test_an_edited_message_from_a_stranger_is_ignored(bot):
    update = message("x", chat_id=STRANGER)
    update["edited_message"] = update.pop("message")
    update["edited_message"]["edit_date"] = update["edited_message"]["date"]

    assert handle(update) == "processed"

    assert bot.sent_messages == [] and not ChatMessage.objects.exists()


def test_the_master_is_answered_as_usual_after_strangers(bot, claude):
    handle(message("spam", chat_id=STRANGER))

    assert handle(message("/status")) == "processed"

    assert bot.texts(MASTER)[-1].startswith("Running")

