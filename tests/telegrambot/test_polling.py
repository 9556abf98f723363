"""`manage.py run_bot`: long polling through the same store-and-process path as the webhook."""

import json
import logging

import pytest
from django.core.management import CommandError, call_command
from django.db import DataError, OperationalError

from decisions.models import Notification
from telegrambot import polling
from telegrambot.polling import Poller
from telegrambot.models import ChatMessage, TelegramUpdate, UpdateSource, UpdateStatus
from tests.telegrambot._support import (
    MASTER,
    STRANGER,
    WEBHOOK_SECRET,
    message,
    tap,
)

pytestmark = pytest.mark.django_db


def run_once() -> None:
    call_command("run_bot", "--once")


def outcome() -> dict:
    """What handling left behind: the conversation and what was sent, without ids and times."""
    return {
        "updates": sorted((u.update_id, u.status, u.attempts) for u in TelegramUpdate.objects.all()),
        "messages": sorted((m.chat_id, m.direction, m.kind, m.is_master, m.text)
                           for m in ChatMessage.objects.all()),
    }


def test_polling_handles_what_getupdates_returns(bot, claude):
    claude.reply_text("Polled hello.")
    bot.push_update(message("/status"))
    bot.push_update(message("hello"))

    run_once()

    assert TelegramUpdate.objects.filter(status=UpdateStatus.PROCESSED, source=UpdateSource.POLLING).count() == 2
    texts = bot.texts(MASTER)
    assert texts[0].startswith("Running") and texts[1] == "Polled hello."
    poll = bot.calls("getUpdates")[0]
    assert json.loads(poll["allowed_updates"]) == ["message", "callback_query"]


def test_polling_and_the_webhook_give_the_same_result(bot, claude, client, django_capture_on_commit_callbacks):
    updates = [message("/pause"), message("How are you?"), message("spam", chat_id=STRANGER),
               tap("bogus")]

    claude.reply_text("Fine.")
    for update in updates:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/telegram/webhook/", data=json.dumps(update), content_type="application/json",
                                   HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=WEBHOOK_SECRET)
        assert response.status_code == 200
    by_webhook, webhook_texts = outcome(), bot.texts()
    webhook_answers = [c.get("text") for c in bot.calls("answerCallbackQuery")]

    for model in (TelegramUpdate, ChatMessage, Notification):
        model.objects.all().delete()
    bot.reset()
    claude.reply_text("Fine.")
    for update in updates:
        bot.push_update(update)
    run_once()

    assert outcome() == by_webhook
    assert bot.texts() == webhook_texts
    assert [c.get("text") for c in bot.calls("answerCallbackQuery")] == webhook_answers
    assert len(webhook_texts) == 3  # the command's reply, the chat reply, the stranger's notice


def test_the_offset_confirms_what_was_stored(bot):
    first = bot.push_update(message("/status"))
    command = Poller()

    command.round(session_timeout=0)
    second = bot.push_update(message("/budget"))
    command.round(session_timeout=0)

    polls = bot.calls("getUpdates")
    assert "offset" not in polls[0]
    assert polls[1]["offset"] == str(first["update_id"] + 1)
    assert command.offset == second["update_id"] + 1


def test_an_update_already_stored_is_not_handled_again(bot):
    update = bot.push_update(message("/status"))
    run_once()
    bot.push_update(update)  # Telegram sends it again (e.g. the offset was never confirmed)

    run_once()

    assert TelegramUpdate.objects.get().attempts == 1
    assert len(bot.texts(MASTER)) == 1


# --- confirming to Telegram (it forgets an update only when a later offset passes it) ------------


def test_once_confirms_what_it_stored(bot):
    bot.push_update(message("/status"))
    last = bot.push_update(message("/budget"))

    run_once()

    poll, confirm = bot.calls("getUpdates")
    assert "offset" not in poll
    assert (confirm["offset"], confirm["limit"], confirm["timeout"]) == (str(last["update_id"] + 1), "1", "0")
    assert bot.pending_updates == []
    assert TelegramUpdate.objects.filter(status=UpdateStatus.PROCESSED).count() == 2


def test_a_run_with_nothing_new_confirms_nothing(bot):
    run_once()

    assert len(bot.calls("getUpdates")) == 1


def test_cron_runs_work_through_a_backlog_larger_than_a_batch(bot, monkeypatch):
    """Every --once run fetches a batch; without the confirmation the next run would get
    the same batch again and never reach the updates behind it."""
    monkeypatch.setattr(polling, "BATCH_LIMIT", 2)
    updates = [bot.push_update(message("/status")) for _ in range(5)]

    for _ in range(3):
        run_once()

    assert sorted(TelegramUpdate.objects.values_list("update_id", flat=True)) == [u["update_id"] for u in updates]
    assert TelegramUpdate.objects.filter(status=UpdateStatus.PROCESSED).count() == 5
    assert len(bot.texts(MASTER)) == 5
    assert bot.pending_updates == []


def test_an_update_arriving_between_the_round_and_the_confirmation_is_kept(bot):
    first = bot.push_update(message("/status"))
    command = Poller()
    command.round(session_timeout=0)
    late = bot.push_update(message("/budget"))

    command.confirm()

    assert [u["update_id"] for u in bot.pending_updates] == [late["update_id"]]
    run_once()
    assert sorted(TelegramUpdate.objects.values_list("update_id", flat=True)) == [
        first["update_id"], late["update_id"]]


def test_a_failed_confirmation_is_only_logged(bot, caplog):
    update = bot.push_update(message("/status"))
    bot.fail(502, method="getUpdates", after=1)  # the round's call works, the confirmation fails

    with caplog.at_level(logging.WARNING, logger="telegrambot.polling"):
        run_once()
    run_once()  # Telegram sends it again: already stored, not handled twice

    assert "Could not confirm updates" in caplog.text
    assert TelegramUpdate.objects.get(update_id=update["update_id"]).attempts == 1
    assert len(bot.texts(MASTER)) == 1
    assert bot.pending_updates == []  # the second run confirmed it


# --- an update that cannot be stored ---------------------------------------------------------


def test_an_update_that_cannot_be_stored_is_skipped_after_a_few_tries(bot, monkeypatch, caplog):
    poison = bot.push_update(message("/status"))
    after = bot.push_update(message("/budget"))
    real_store = polling.update_store
    tries = []

    def store(*, payload, **kwargs):
        if payload["update_id"] == poison["update_id"]:
            tries.append(payload["update_id"])
            raise DataError("unsupported Unicode escape sequence")
        return real_store(payload=payload, **kwargs)

    monkeypatch.setattr(polling, "update_store", store)
    monkeypatch.setattr(polling, "STORE_RETRY_SECONDS", 0.0)

    with caplog.at_level(logging.ERROR, logger="telegrambot.polling"):
        run_once()

    assert len(tries) == polling.STORE_ATTEMPTS
    assert f"Update {poison['update_id']} could not be stored after 3 tries" in caplog.text
    assert list(TelegramUpdate.objects.values_list("update_id", "status")) == [
        (after["update_id"], UpdateStatus.PROCESSED)]
    assert bot.pending_updates == []  # the offset moved past it: later runs are not stuck behind it


def test_while_the_database_is_away_nothing_is_skipped(bot, monkeypatch):
    update = bot.push_update(message("/status"))

    def store(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(polling, "update_store", store)
    monkeypatch.setattr(polling, "_database_answers", lambda: False)
    monkeypatch.setattr(polling, "STORE_RETRY_SECONDS", 0.0)

    with pytest.raises(OperationalError):
        run_once()

    assert [u["update_id"] for u in bot.pending_updates] == [update["update_id"]]
    assert len(bot.calls("getUpdates")) == 1  # nothing confirmed


def test_network_errors_are_retried_with_backoff(bot):
    bot.fail(502, method="getUpdates", times=1)
    bot.push_update(message("/status"))
    command = Poller()
    rounds, sleeps = [], []
    real_round = command.round

    def counting_round(**kwargs):
        rounds.append(kwargs)
        try:
            real_round(**kwargs)
        finally:
            if len(rounds) >= 2:
                command.stopping = True

    command.round = counting_round
    command.sleep = lambda seconds, why: sleeps.append((seconds, why))

    command.run(timeout=0)

    assert sleeps == [(1.0, "network error")]
    assert len(rounds) == 2
    assert TelegramUpdate.objects.get().status == UpdateStatus.PROCESSED


def test_a_webhook_in_the_way_is_a_conflict(bot):
    bot.webhook = {"url": "https://example.test/telegram/webhook/"}

    with pytest.raises(CommandError, match="Conflict"):
        run_once()


@pytest.mark.parametrize("token, url, expected", [
    ("", "", "TELEGRAM_BOT_TOKEN is not set"),
    ("123:abc", "https://example.test/telegram/webhook/", "TELEGRAM_WEBHOOK_URL is set"),
])
def test_if_polling_exits_quietly_when_polling_is_not_wanted(settings, fake_telegram, capsys, token, url, expected):
    settings.TELEGRAM_BOT_TOKEN = token
    settings.TELEGRAM_WEBHOOK_URL = url
    settings.TELEGRAM_API_BASE_URL = f"{fake_telegram.url}/bot"

    call_command("run_bot", "--if-polling")

    assert expected in capsys.readouterr().out
    assert fake_telegram.requests == []


def test_without_if_polling_a_missing_token_is_an_error(settings):
    settings.TELEGRAM_BOT_TOKEN = ""

    with pytest.raises(CommandError, match="TELEGRAM_BOT_TOKEN"):
        call_command("run_bot", "--once")


# --- telegram_webhook -------------------------------------------------------------------------


def test_webhook_set_registers_the_secret_and_the_update_kinds(bot, capsys):
    call_command("telegram_webhook", "set", "https://agent.example/telegram/webhook/")

    assert bot.webhook["url"] == "https://agent.example/telegram/webhook/"
    assert bot.webhook["secret_token"] == WEBHOOK_SECRET
    assert bot.webhook["allowed_updates"] == ["message", "callback_query"]
    out = capsys.readouterr()
    assert WEBHOOK_SECRET not in out.out + out.err and "TEST-token" not in out.out + out.err


def test_webhook_set_refuses_without_a_secret(bot, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = ""

    with pytest.raises(CommandError, match="TELEGRAM_WEBHOOK_SECRET"):
        call_command("telegram_webhook", "set", "https://agent.example/telegram/webhook/")
    assert bot.webhook == {}


def test_webhook_set_uses_the_configured_url(bot, settings):
    settings.TELEGRAM_WEBHOOK_URL = "https://configured.example/telegram/webhook/"

    call_command("telegram_webhook", "set")

    assert bot.webhook["url"] == "https://configured.example/telegram/webhook/"


def test_webhook_info_and_delete(bot, capsys):
    call_command("telegram_webhook", "set", "https://agent.example/telegram/webhook/")
    bot.push_update(message("/status"))
    capsys.readouterr()

    call_command("telegram_webhook", "info")
    info = capsys.readouterr().out
    call_command("telegram_webhook", "delete")

    assert "url: https://agent.example/telegram/webhook/" in info
    assert "pending updates: 1" in info
    assert "last error: none" in info
    assert WEBHOOK_SECRET not in info and "TEST-token" not in info
    assert bot.webhook == {}


def test_webhook_errors_are_reported_without_the_token(bot):
    bot.fail(401, method="getWebhookInfo")

    with pytest.raises(CommandError) as caught:
        call_command("telegram_webhook", "info")

    assert "TEST-token" not in str(caught.value)


def test_the_poller_also_sweeps_waiting_updates(bot, monkeypatch):
    """Without a worker, updates left waiting are retried by the poller itself."""
    from agentsite.core.clock import utc_now
    from telegrambot.updates import update_store

    waiting = message("/status")
    update_store(payload=waiting)
    TelegramUpdate.objects.update(next_attempt_at=utc_now())
    monkeypatch.setattr(polling, "SWEEP_INTERVAL_SECONDS", 0.0)
    command = Poller()
    real_round = command.round

    def one_round(**kwargs):
        real_round(**kwargs)
        command.stopping = True

    command.round = one_round

    command.run(timeout=0)

    assert TelegramUpdate.objects.get().status == UpdateStatus.PROCESSED
    assert bot.texts(MASTER)[0].startswith("Running")
