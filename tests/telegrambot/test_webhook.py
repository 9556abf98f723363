"""POST /telegram/webhook/: the secret check, the body check, idempotent storage, and the
hand-over to the worker (Django-Q2 runs tasks inline in tests)."""

import json
import logging

import pytest
from django.db import DataError, IntegrityError, OperationalError

from decisions.models import Notification
from telegrambot.models import ChatMessage, TelegramUpdate, UpdateSource, UpdateStatus
from telegrambot.views import MAX_JSON_DEPTH, SECRET_HEADER, json_depth
from tests.conftest import TEST_BOT_TOKEN
from tests.telegrambot._support import (
    MASTER,
    WEBHOOK_SECRET,
    message,
    next_update_id,
    stored,
    tap,
)

pytestmark = pytest.mark.django_db


URL = "/telegram/webhook/"
HEADER = "HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN"


def post(client, body, *, secret: str | None = WEBHOOK_SECRET, raw: bool = False):
    data = body if raw else json.dumps(body)
    extra = {HEADER: secret} if secret is not None else {}
    return client.post(URL, data=data, content_type="application/json", **extra)


def deliver(client, body, capture, **kwargs):
    """POST with the on-commit hooks run, as after a real commit: processing and delivery inline."""
    with capture(execute=True):
        return post(client, body, **kwargs)


# --- refusals -----------------------------------------------------------------------------


def test_the_header_name_is_telegrams():
    assert SECRET_HEADER == "X-Telegram-Bot-Api-Secret-Token"


@pytest.mark.parametrize("secret, token", [("", TEST_BOT_TOKEN), (WEBHOOK_SECRET, "")])
def test_the_webhook_is_off_without_a_secret_or_a_token(client, settings, secret, token):
    settings.TELEGRAM_WEBHOOK_SECRET = secret
    settings.TELEGRAM_BOT_TOKEN = token

    response = post(client, message("hi"), secret=WEBHOOK_SECRET)

    assert response.status_code == 404
    assert not TelegramUpdate.objects.exists()


@pytest.mark.fault("Forged webhook secret")
@pytest.mark.parametrize("secret", [None, "", "wrong-secret", WEBHOOK_SECRET + "x", WEBHOOK_SECRET[:-1]])
def test_a_missing_or_wrong_secret_is_forbidden(client, bot, secret, caplog):
    caplog.set_level(logging.INFO)

    response = post(client, message("hi"), secret=secret)

    assert response.status_code == 403
    assert WEBHOOK_SECRET.encode() not in response.content
    assert WEBHOOK_SECRET not in caplog.text
    assert not TelegramUpdate.objects.exists()


def test_get_is_not_allowed(client, bot):
    response = client.get(URL, **{HEADER: WEBHOOK_SECRET})

    assert response.status_code == 405


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"",
        json.dumps([1, 2]).encode(),
        json.dumps("update").encode(),
        json.dumps({"message": {"text": "no update id"}}).encode(),
        json.dumps({"update_id": "12"}).encode(),
        json.dumps({"update_id": True}).encode(),
        json.dumps({"update_id": 1.5}).encode(),
        json.dumps({"update_id": -1}).encode(),
    ],
)
def test_a_body_that_is_not_an_update_is_a_bad_request(client, bot, body):
    response = post(client, body, raw=True)

    assert response.status_code == 400
    assert not TelegramUpdate.objects.exists()


# --- bodies that must not become a 500 -----------------------------------------------------


def nested(depth: int, *, update_id: int) -> bytes:
    """An update whose `x` is `depth` nested arrays (the whole body is one level deeper)."""
    return b'{"update_id": %d, "x": ' % update_id + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.fault("Webhook deeply nested JSON")
@pytest.mark.parametrize("depth", [900, 10_000, 100_000])
def test_a_deeply_nested_body_is_a_bad_request_and_nothing_is_stored(client, bot, depth):
    response = post(client, nested(depth, update_id=next_update_id()), raw=True)

    assert response.status_code == 400
    assert response.json() == {"ok": False, "error": "the body is not JSON we accept"}
    assert not TelegramUpdate.objects.exists()


@pytest.mark.fault("Webhook deeply nested JSON")
def test_the_depth_bound_is_64_and_brackets_inside_strings_do_not_count(client, bot):
    deepest_allowed, too_deep = next_update_id(), next_update_id()
    assert MAX_JSON_DEPTH == 64
    assert post(client, nested(63, update_id=deepest_allowed), raw=True).status_code == 200
    assert post(client, nested(64, update_id=too_deep), raw=True).status_code == 400
    bracketed = message("[" * 5000 + '\\"{' * 100)  # text only: depth stays 4
    assert post(client, bracketed).status_code == 200
    assert set(TelegramUpdate.objects.values_list("update_id", flat=True)) == {deepest_allowed, bracketed["update_id"]}
    assert stored(bracketed).payload == bracketed


@pytest.mark.fault("Webhook deeply nested JSON")
@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16", "utf-32"])
def test_a_deep_body_in_another_unicode_encoding_is_a_bad_request(client, bot, encoding):
    """json.loads also reads UTF-16 and UTF-32, whose bytes the depth scan can't read: a
    string of U+225D ("]" and a quote in UTF-16-LE) hid a 3,000-deep list from it."""
    depth = 3_000
    text = '{"update_id": %d, "x": "%s", "y": %s}' % (next_update_id(), "\u225d" * 2 * depth, "[" * depth + "]" * depth)
    response = post(client, text.encode(encoding), raw=True)

    assert response.status_code == 400
    assert not TelegramUpdate.objects.exists()


def test_an_update_in_utf_8_with_any_characters_is_accepted(client, bot):
    update = message("Grüße 🌍 \u225d ] \"")
    assert post(client, json.dumps(update, ensure_ascii=False).encode("utf-8"), raw=True).status_code == 200
    assert stored(update).payload == update


def test_json_depth_is_linear_on_quote_and_escape_runs():
    import time

    started = time.perf_counter()
    assert json_depth(b'"' + b'\\"' * 500_000) == 0  # an unterminated string of escaped quotes
    assert json_depth(b'["' * 200_000) == 100_000  # [ "[" [ "[" ...
    assert time.perf_counter() - started < 2  # a quadratic scan takes minutes here


@pytest.mark.fault("Webhook body that can't be stored")
@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"NaN", b"Infinity", b"-Infinity"])
def test_a_number_json_cannot_hold_is_a_bad_request(client, bot, number):
    body = b'{"update_id": %d, "message": {"x": %s}}' % (next_update_id(), number)

    response = post(client, body, raw=True)

    assert response.status_code == 400
    assert not TelegramUpdate.objects.exists()


@pytest.mark.fault("Webhook body that can't be stored")
def test_the_database_refusing_a_body_for_real_is_a_bad_request(client, bot, monkeypatch):
    """Without the parser's check, inf reaches the database, which refuses it for real
    (SQLite's JSON_VALID check: IntegrityError; PostgreSQL's jsonb: DataError)."""
    import telegrambot.views

    monkeypatch.setattr(telegrambot.views, "_finite", float)
    response = post(client, b'{"update_id": %d, "message": {"x": 1e400}}' % next_update_id(), raw=True)

    assert response.status_code == 400
    assert response.json() == {"ok": False, "error": "the update can't be stored"}
    assert not TelegramUpdate.objects.exists()


@pytest.mark.fault("Webhook body that can't be stored")
@pytest.mark.parametrize("error", [IntegrityError, DataError, ValueError])
def test_a_body_the_database_refuses_is_a_bad_request_and_nothing_is_stored(
    client, bot, monkeypatch, caplog, django_capture_on_commit_callbacks, error
):
    def refuse(self, *args, **kwargs):
        raise error("value too long for type character varying / invalid input syntax for type json")

    monkeypatch.setattr(TelegramUpdate, "save", refuse)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(client, message("/status"))

    assert response.status_code == 400
    assert response.json() == {"ok": False, "error": "the update can't be stored"}
    assert callbacks == [] and bot.sent_messages == []  # nothing queued
    monkeypatch.undo()
    assert not TelegramUpdate.objects.exists()
    assert error.__name__ in caplog.text


def test_a_database_outage_is_not_disguised_as_a_bad_request(client, bot, monkeypatch):
    """An OperationalError must stay a server error, so that Telegram redelivers the update."""

    def down(self, *args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(TelegramUpdate, "save", down)
    with pytest.raises(OperationalError):
        post(client, message("/status"))


def test_a_normal_update_is_still_accepted_after_refusals(client, bot):
    assert post(client, nested(900, update_id=next_update_id()), raw=True).status_code == 400
    assert post(client, b'{"update_id": 1, "x": 1e400}', raw=True).status_code == 400
    update = message("/status")

    assert post(client, update).status_code == 200
    assert stored(update).payload == update


# --- acceptance ----------------------------------------------------------------------------


def test_an_update_is_stored_processed_and_answered(client, bot, django_capture_on_commit_callbacks):
    update = message("/status")

    response = deliver(client, update, django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    row = stored(update)
    assert (row.status, row.source, row.attempts, row.last_error) == (UpdateStatus.PROCESSED, UpdateSource.WEBHOOK, 1, "")
    assert row.payload == update
    assert row.processed_at is not None
    [reply] = bot.sent_messages
    assert reply["chat_id"] == MASTER and reply["text"].startswith("Running")


def test_the_answer_does_not_wait_for_processing(client, bot):
    """Without the commit hooks run (as inside a request), the update is stored and left to the worker."""
    update = message("/status")

    response = post(client, update)

    assert response.status_code == 200
    assert stored(update).status == UpdateStatus.RECEIVED
    assert bot.sent_messages == []


def test_a_redelivered_update_is_processed_once(client, bot, claude, django_capture_on_commit_callbacks):
    claude.reply_text("Hello, Master.")
    update = message("Hello?")

    first = deliver(client, update, django_capture_on_commit_callbacks)
    second = deliver(client, update, django_capture_on_commit_callbacks)
    third = deliver(client, {**update, "message": {**update["message"], "text": "changed"}},
                    django_capture_on_commit_callbacks)

    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    assert TelegramUpdate.objects.count() == 1
    assert stored(update).payload["message"]["text"] == "Hello?"
    assert len(claude.message_requests) == 1
    assert bot.texts(MASTER) == ["Hello, Master."]
    assert ChatMessage.objects.count() == 2


def test_two_webhooks_in_a_row_each_get_a_fresh_event_loop(client, bot, django_capture_on_commit_callbacks):
    for text in ("/status", "/budget", "/tasks"):
        assert deliver(client, message(text), django_capture_on_commit_callbacks).status_code == 200

    assert TelegramUpdate.objects.filter(status=UpdateStatus.PROCESSED).count() == 3
    assert len(bot.sent_messages) == 3


def test_a_button_tap_goes_the_same_way(client, bot, django_capture_on_commit_callbacks):
    response = deliver(client, tap("nonsense"), django_capture_on_commit_callbacks)

    assert response.status_code == 200
    [answer] = bot.calls("answerCallbackQuery")
    assert answer["text"] == "Unknown action"


def test_an_update_whose_task_could_not_be_queued_waits_for_the_sweep(
    client, bot, monkeypatch, django_capture_on_commit_callbacks
):
    import django_q.tasks

    from telegrambot.updates import updates_retry_due

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    update = message("/status")
    with monkeypatch.context() as patch:
        patch.setattr(django_q.tasks, "async_task", broker_down)
        response = deliver(client, update, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert stored(update).status == UpdateStatus.RECEIVED

    assert updates_retry_due()["processed"] == 0  # not yet: the queued task gets its chance first
    TelegramUpdate.objects.update(next_attempt_at=stored(update).received_at)
    with django_capture_on_commit_callbacks(execute=True):
        assert updates_retry_due()["processed"] == 1

    assert stored(update).status == UpdateStatus.PROCESSED
    assert len(bot.sent_messages) == 1
    assert Notification.objects.count() == 1


# --- characters PostgreSQL refuses -----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("text, kept", [
    ("a\u0000b", "ab"),  # jsonb refuses \u0000, text columns refuse NUL
    ("a\ud800b", "a\ufffdb"),  # a lone surrogate no driver encodes
])
def test_an_update_with_characters_postgres_refuses_is_stored_and_answered(
    client, bot, claude, django_capture_on_commit_callbacks, text, kept,
):
    claude.reply_text("Noted.")
    update = message("placeholder")
    body = json.dumps(update).replace('"placeholder"', json.dumps(text))  # the JSON escape, as Telegram sends it

    response = deliver(client, body, django_capture_on_commit_callbacks, raw=True)

    assert response.status_code == 200
    row = stored(update)
    assert (row.status, row.payload["message"]["text"]) == (UpdateStatus.PROCESSED, kept)
    assert ChatMessage.objects.get(update_id=update["update_id"], direction="in").text == kept
    assert bot.texts(MASTER) == ["Noted."]
