"""The Telegram app's own models in the admin: strangers' messages visible, updates read-only."""

import pytest

from agentsite.core.clock import utc_now
from telegrambot import admin as telegram_admin
from telegrambot.models import ChatMessage, TelegramUpdate, UpdateStatus
from telegrambot.updates import processing_lease, update_retry, update_store
from tests.telegrambot._support import STRANGER, handle, message

pytestmark = pytest.mark.django_db


def test_strangers_messages_are_listed_and_filterable(admin_client, bot):
    handle(message("let me in", chat_id=STRANGER))
    handle(message("/status"))

    strangers = admin_client.get("/admin/telegrambot/chatmessage/", {"is_master__exact": "0", "direction__exact": "in"})
    everything = admin_client.get("/admin/telegrambot/chatmessage/")

    assert strangers.status_code == everything.status_code == 200
    assert b"let me in" in strangers.content and b"/status" not in strangers.content
    assert b"/status" in everything.content
    row = ChatMessage.objects.filter(chat_id=STRANGER).first()
    assert admin_client.get(f"/admin/telegrambot/chatmessage/{row.pk}/change/").status_code == 200
    assert admin_client.get("/admin/telegrambot/chatmessage/add/").status_code == 403


def test_updates_are_read_only_and_a_failed_one_can_be_retried(admin_client, bot):
    update = {**message("/status"), "message": "broken"}
    update_store(payload=update)
    TelegramUpdate.objects.update(status=UpdateStatus.FAILED, attempts=5, last_error="gave up")
    row = TelegramUpdate.objects.get()

    listing = admin_client.get("/admin/telegrambot/telegramupdate/")
    detail = admin_client.get(f"/admin/telegrambot/telegramupdate/{row.pk}/change/")
    retried = admin_client.post("/admin/telegrambot/telegramupdate/",
                                {"action": "retry_now", "_selected_action": [row.pk]}, follow=True)

    assert listing.status_code == detail.status_code == retried.status_code == 200
    assert b"gave up" in listing.content
    assert b"Queued 1 update(s)" in retried.content
    row.refresh_from_db()
    assert (row.status, row.attempts) == (UpdateStatus.RECEIVED, 0)
    assert admin_client.get("/admin/telegrambot/telegramupdate/add/").status_code == 403


def retry(admin_client, *rows):
    return admin_client.post("/admin/telegrambot/telegramupdate/",
                             {"action": "retry_now", "_selected_action": [row.pk for row in rows]}, follow=True)


def test_retrying_an_update_being_processed_is_refused_with_a_message(admin_client, bot):
    update_store(payload=message("/task Buy milk"))
    claim = utc_now() + processing_lease()
    TelegramUpdate.objects.update(processing_until=claim, attempts=1)
    row = TelegramUpdate.objects.get()

    response = retry(admin_client, row)

    assert response.status_code == 200
    assert b"is being processed right now" in response.content
    assert b"for another try" not in response.content
    row.refresh_from_db()
    assert (row.status, row.attempts, row.processing_until) == (UpdateStatus.RECEIVED, 1, claim)


def test_retrying_an_update_processed_meanwhile_says_so(admin_client, bot, monkeypatch):
    failed, other = message("/status"), message("/budget")
    for update in (failed, other):
        update_store(payload=update)
    TelegramUpdate.objects.update(status=UpdateStatus.FAILED, attempts=5)

    def processed_meanwhile(*, update_id):
        if update_id == failed["update_id"]:  # a worker finished it after the list was read
            TelegramUpdate.objects.filter(update_id=update_id).update(status=UpdateStatus.PROCESSED)
        return update_retry(update_id=update_id)

    monkeypatch.setattr(telegram_admin, "update_retry", processed_meanwhile)

    response = retry(admin_client, *TelegramUpdate.objects.all())

    assert response.status_code == 200
    assert f"Update {failed['update_id']} not retried".encode() in response.content
    assert b"already processed" in response.content
    assert b"Queued 1 update(s)" in response.content
    assert TelegramUpdate.objects.get(update_id=other["update_id"]).status == UpdateStatus.RECEIVED
