"""The Telegram app's own models in the admin: strangers' messages visible, updates read-only."""

import pytest

from telegrambot.models import ChatMessage, TelegramUpdate, UpdateStatus
from telegrambot.services import update_store
from tests.telegrambot._support import STRANGER, configure, handle, message

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot(telegram, claude, settings):
    """Telegram (Master 1001, webhook secret) and Claude configured against the fakes; the Telegram fake."""
    return configure(telegram, settings)


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
