"""The Master's commands: answered without a model call, through the outbox; bad
arguments get a one-line usage or error, never a stack trace."""

from datetime import timedelta

import pytest

from actions.models import Task, TaskSource
from agentsite.core.clock import utc_now
from decisions.agent import agent_state_get
from decisions.approvals import approval_ask, approval_request_decision
from decisions.models import Approval, ApprovalStatus, Cycle, Surface
from memory.models import MemoryKind
from memory.services import memory_record
from telegrambot.commands import COMMANDS
from telegrambot.delivery import outbox_deliver
from telegrambot.models import ChatMessage, Direction, MessageKind
from tests.factories import decision
from tests.telegrambot._support import MASTER, handle, message

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_model_calls")]


def reply(bot, text: str) -> str:
    """The one message the Master gets for `text` (whatever was queued before goes out first)."""
    outbox_deliver()
    before = len(bot.texts(MASTER))
    assert handle(message(text)) == "processed"
    texts = bot.texts(MASTER)
    assert len(texts) == before + 1, texts
    return texts[-1]


def question(**kwargs) -> Approval:
    return approval_ask(question=kwargs.pop("question", "Which task first?"), cycle=None, **kwargs)


def request(action: str = "meditate") -> Approval:
    return approval_request_decision(decision=decision(action), cycle=None)


# --- /status, /budget -----------------------------------------------------------------------


def test_status_when_running_with_a_last_cycle(bot):
    Cycle.objects.create(status="completed", action="meditate", result={"status": "ok"})
    request()
    Task.objects.create(title="Write", source=TaskSource.API)

    text = reply(bot, "/status")

    lines = text.splitlines()
    assert lines[0].startswith("Running")
    assert "meditate" in lines[1] and "completed" in lines[1] and "result ok" in lines[1]
    assert lines[2].startswith("Budget: ok")
    assert "Open tasks: 1; pending approvals: 1" in text


def test_status_when_paused(bot):
    reply(bot, "/pause")

    assert reply(bot, "/status").startswith("Paused")


def test_status_shows_the_budget_level(bot, budget_limit):
    budget_limit(1000, min_cycle=2000)

    assert "Budget: exhausted" in reply(bot, "/status")


def test_a_command_addressed_to_this_bot_by_name_works(bot):
    assert reply(bot, "/status@agentsite_test_bot").startswith("Running")


def test_a_command_for_another_bot_is_not_ours(bot):
    assert reply(bot, "/status@some_other_bot").startswith("Unknown command /status")


def test_budget(bot, budget_limit):
    budget_limit(5000)

    text = reply(bot, "/budget")

    assert "of 5,000" in text
    assert "Remaining: 5,000" in text
    assert "Level: ok" in text
    assert "Reactive (chat): 0 used" in text


# --- tasks -------------------------------------------------------------------------------------


def test_tasks_when_there_are_none(bot):
    assert reply(bot, "/tasks").startswith("No open tasks")


def test_task_adds_a_task_from_telegram_and_tasks_lists_it(bot):
    text = reply(bot, "/task Write a haiku\nabout the sea\nand the wind")

    task = Task.objects.get()
    assert (task.title, task.description, task.source) == ("Write a haiku", "about the sea\nand the wind",
                                                           TaskSource.TELEGRAM)
    assert text == f"Added task #{task.pk}: Write a haiku"
    listing = reply(bot, "/tasks")
    assert f"#{task.pk} [p3] Write a haiku (pending)" in listing


def test_a_very_long_task_keeps_every_word(bot):
    words = " ".join(f"word{i}" for i in range(100))

    reply(bot, f"/task {words}")

    task = Task.objects.get()
    assert len(task.title) == 200 and task.title.endswith("…")
    assert task.description == words


@pytest.mark.parametrize("text", ["/task", "/task    "])
def test_task_without_text_gets_its_usage(bot, text):
    assert reply(bot, text) == "Usage: /task <text>"
    assert not Task.objects.exists()


# --- approvals ------------------------------------------------------------------------------


def test_approvals_lists_the_pending_ones(bot):
    assert reply(bot, "/approvals") == "No pending approvals."
    pending, asked = request("develop_skill"), question()
    decided = request()
    Approval.objects.filter(pk=decided.pk).update(status=ApprovalStatus.REJECTED)

    text = reply(bot, "/approvals")

    assert f"#{pending.pk} decision: develop_skill" in text
    assert f"#{asked.pk} question: Which task first?" in text
    assert f"#{decided.pk} " not in text


def test_approve(bot):
    approval = request()

    text = reply(bot, f"/approve {approval.pk}")

    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED
    assert (approval.decided_by, approval.decided_via) == ("master", Surface.TELEGRAM)
    assert text.startswith(f"Approved #{approval.pk}")


def test_approve_twice_says_it_is_already_approved(bot):
    approval = request()
    reply(bot, f"/approve #{approval.pk}")

    assert reply(bot, f"/approve {approval.pk}") == f"Approval #{approval.pk} is already approved."


def test_approve_an_expired_one(bot):
    approval = request()
    Approval.objects.filter(pk=approval.pk).update(expires_at=utc_now() - timedelta(seconds=1))

    assert reply(bot, f"/approve {approval.pk}") == f"Approval #{approval.pk} has expired."
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


@pytest.mark.parametrize("args", ["", " abc", " 1.5", " -3", " 0", " ²"])
def test_approve_with_a_bad_id_gets_its_usage(bot, args):
    assert reply(bot, f"/approve{args}") == "Usage: /approve <id>"


def test_approve_an_unknown_approval(bot):
    assert reply(bot, "/approve 999") == "Approval #999 does not exist."


def test_approve_a_question_says_to_answer_it(bot):
    asked = question()

    assert reply(bot, f"/approve {asked.pk}") == f"Approval #{asked.pk} is a question: answer it instead."


def test_reject_with_a_reason(bot):
    approval = request()

    text = reply(bot, f"/reject {approval.pk} not now, please")

    approval.refresh_from_db()
    assert (approval.status, approval.note, approval.decided_by) == (ApprovalStatus.REJECTED, "not now, please", "master")
    assert text == f"Rejected #{approval.pk} (your feedback is the agent's guidance next cycle)."


def test_reject_without_a_reason_and_with_bad_arguments(bot):
    approval = request()

    assert reply(bot, f"/reject {approval.pk}") == f"Rejected #{approval.pk}."
    assert reply(bot, "/reject") == "Usage: /reject <id> [feedback]"
    assert reply(bot, f"/reject {approval.pk}") == f"Approval #{approval.pk} is already rejected."


def test_answer(bot):
    asked = question()

    text = reply(bot, f"/answer {asked.pk} Start with the haiku.\nThen the rest.")

    asked.refresh_from_db()
    assert (asked.status, asked.answer, asked.decided_via) == (
        ApprovalStatus.ANSWERED, "Start with the haiku.\nThen the rest.", Surface.TELEGRAM)
    assert text == f"Answered #{asked.pk}. Thank you."


@pytest.mark.parametrize("args", ["", " 5", " x hello"])
def test_answer_with_bad_arguments_gets_its_usage(bot, args):
    assert reply(bot, f"/answer{args}") == "Usage: /answer <id> <text>"


def test_answer_a_decision_says_to_approve_it(bot):
    approval = request()

    assert "is a decision" in reply(bot, f"/answer {approval.pk} yes")


# --- pause, resume, memory, help ---------------------------------------------------------------


def test_pause_and_resume(bot):
    assert reply(bot, "/pause").startswith("Paused")
    assert agent_state_get().paused is True

    assert reply(bot, "/resume").startswith("Resumed")
    state = agent_state_get()
    assert state.paused is False and state.next_run_at is not None


def test_memory_shows_recent_entries(bot):
    for i in range(7):
        memory_record(kind=MemoryKind.CYCLE_SUMMARY, content=f"entry {i}", meta={})

    default = reply(bot, "/memory")
    two = reply(bot, "/memory 2")

    assert default.startswith("Recent memory (5):") and "entry 6" in default and "entry 1" not in default
    assert two.splitlines()[1:] and len(two.splitlines()) == 3 and "entry 6" in two and "entry 4" not in two


def test_memory_when_empty(bot):
    assert reply(bot, "/memory") == "Memory is empty so far."


@pytest.mark.parametrize("args", [" 0", " 21", " -1", " 99999999999999999999999"])
def test_memory_out_of_range_gets_its_usage(bot, args):
    assert reply(bot, f"/memory{args}") == "Usage: /memory [n, 1-20 | words]"


def test_help_and_start_list_every_command(bot):
    help_text = reply(bot, "/help")

    assert reply(bot, "/start") == help_text
    for name in COMMANDS:
        if name != "start":
            assert f"/{name}" in help_text


def test_an_unknown_command(bot):
    assert reply(bot, "/dance now") == "Unknown command /dance. /help lists what I understand."


# --- what is stored ------------------------------------------------------------------------------


def test_a_command_and_its_reply_are_stored(bot):
    update = message("/tasks", message_id=77)
    handle(update)

    inbound = ChatMessage.objects.get(direction=Direction.IN)
    outbound = ChatMessage.objects.get(direction=Direction.OUT)
    assert (inbound.kind, inbound.text, inbound.is_master, inbound.username, inbound.user_id) == (
        MessageKind.COMMAND, "/tasks", True, "master", MASTER)
    assert (inbound.telegram_message_id, inbound.update_id) == (77, update["update_id"])
    assert (outbound.kind, outbound.chat_id, outbound.update_id) == (MessageKind.COMMAND, MASTER, update["update_id"])


def test_a_command_is_run_once_even_if_its_update_is_handled_again(bot):
    from telegrambot.models import TelegramUpdate, UpdateStatus
    from telegrambot.updates import update_process

    update = message("/task Once only")
    handle(update)
    TelegramUpdate.objects.update(status=UpdateStatus.RECEIVED)  # as if the first run's mark was lost

    assert update_process(update_id=update["update_id"]) == "processed"
    assert Task.objects.count() == 1
    assert len(bot.calls("sendMessage")) == 1
