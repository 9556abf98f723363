"""An approval request's buttons are derived when it is sent, from the approval it asks
about (decisions stores no Telegram detail): a decision gets Approve/Reject, a question
with options one button per option, anything else none; and each button, tapped as
Telegram sends it back, decides the approval end to end."""

import pytest

from decisions.approvals import approval_ask, approval_expire_due, approval_request_decision
from decisions.models import Approval, ApprovalStatus, Notification, NotificationKind, Surface
from decisions.outbox import notification_enqueue
from telegrambot.delivery import outbox_deliver
from telegrambot.taps import approval_keyboard, callback_data_parse, notification_keyboard
from tests.factories import decision
from tests.telegrambot._support import MASTER, handle, tap

from .conftest import decision_keyboard

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_model_calls")]


def sent_buttons(bot, approval: Approval) -> list[list[dict]] | None:
    """The inline keyboard of the message Telegram got for the approval (None: no buttons)."""
    outbox_deliver()
    [message] = [m for m in bot.sent_messages if f"#{approval.pk}" in m["text"]]
    markup = message.get("reply_markup")
    return None if markup is None else markup["inline_keyboard"]


def press(button: dict, approval: Approval) -> Approval:
    """Tap the button as Telegram sends the tap (its callback_data), as the Master."""
    assert handle(tap(button["callback_data"], message_text=f"#{approval.pk}"), deliver=False) == "processed"
    approval.refresh_from_db()
    return approval


def test_a_decision_gets_approve_and_reject_on_one_row(bot):
    approval = approval_request_decision(decision=decision("develop_skill", certainty=0.5), cycle=None)

    assert sent_buttons(bot, approval) == decision_keyboard(approval.pk)["inline_keyboard"]


@pytest.mark.parametrize(("label", "status"), [("Approve", ApprovalStatus.APPROVED),
                                               ("Reject", ApprovalStatus.REJECTED)])
def test_each_button_of_a_decision_decides_it(bot, label, status):
    approval = approval_request_decision(decision=decision("develop_skill", certainty=0.5), cycle=None)
    [[approve, reject]] = sent_buttons(bot, approval)

    approval = press(approve if label == "Approve" else reject, approval)

    assert (approval.status, approval.decided_by, approval.decided_via) == (status, "master", Surface.TELEGRAM)
    assert bot.calls("answerCallbackQuery")[-1]["text"] == {"Approve": "Approved", "Reject": "Rejected"}[label]


def test_a_question_with_options_gets_one_button_per_option_each_on_its_row(bot):
    asked = approval_ask(question="Which first?", options=("Tea", "Code", "Sleep"), cycle=None)

    assert sent_buttons(bot, asked) == [
        [{"text": "Tea", "callback_data": f"ans:{asked.pk}:0"}],
        [{"text": "Code", "callback_data": f"ans:{asked.pk}:1"}],
        [{"text": "Sleep", "callback_data": f"ans:{asked.pk}:2"}],
    ]


@pytest.mark.parametrize("index", [0, 2])
def test_each_option_button_answers_the_question_with_its_option(bot, index):
    asked = approval_ask(question="Which first?", options=("Tea", "Code", "Sleep"), cycle=None)
    rows = sent_buttons(bot, asked)

    asked = press(rows[index][0], asked)

    assert (asked.status, asked.answer) == (ApprovalStatus.ANSWERED, ["Tea", "Code", "Sleep"][index])


def test_a_question_without_options_gets_no_buttons(bot):
    asked = approval_ask(question="What should I learn next?", cycle=None)

    assert sent_buttons(bot, asked) is None
    assert notification_keyboard(Notification.objects.get(approval=asked)) is None


def test_only_the_request_carries_buttons_not_other_messages_about_the_approval(bot, settings):
    approval = approval_request_decision(decision=decision("develop_skill", certainty=0.5), cycle=None)
    [expired] = notification_enqueue(kind=NotificationKind.APPROVAL_EXPIRED, text=f"#{approval.pk} expired",
                                     key="expired-note", approval=approval)
    plain = notification_enqueue(kind=NotificationKind.MESSAGE, text="hello", key="plain")[0]

    assert notification_keyboard(expired) is None and notification_keyboard(plain) is None
    assert approval_keyboard(approval) is not None
    outbox_deliver()
    markups = {m["text"]: m.get("reply_markup") for m in bot.sent_messages}
    assert markups[f"#{approval.pk} expired"] is None and markups["hello"] is None


def test_the_buttons_sent_parse_back_to_what_they_decide():
    approval = Approval(pk=7, kind="decision")
    question = Approval(pk=8, kind="question", options=["A", "B"])

    data = [b.callback_data for row in approval_keyboard(approval).inline_keyboard for b in row]
    data += [b.callback_data for row in approval_keyboard(question).inline_keyboard for b in row]

    assert [callback_data_parse(d) for d in data] == [
        ("approve", 7, None), ("reject", 7, None), ("ans", 8, 0), ("ans", 8, 1)]
    assert all(len(d.encode()) <= 64 for d in data)  # Telegram's callback_data limit


def test_an_expired_approval_still_shows_its_buttons_and_a_tap_says_expired(bot, settings):
    approval = approval_request_decision(decision=decision("develop_skill", certainty=0.5), cycle=None)
    [[approve, _]] = sent_buttons(bot, approval)
    Approval.objects.filter(pk=approval.pk).update(expires_at=approval.created_at)
    approval_expire_due()

    approval = press(approve, approval)

    assert approval.status == ApprovalStatus.EXPIRED
    assert bot.calls("answerCallbackQuery")[-1]["text"] == "This approval has expired"
    assert MASTER in {int(m["chat_id"]) for m in bot.sent_messages}
