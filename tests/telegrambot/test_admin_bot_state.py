"""Each bot's delivery state in the admin: a flood-control pause and the grown request timeout
are visible to the Master, read-only, under the bot's public id and never its token."""

from datetime import timedelta

import pytest
from django.utils import timezone

from telegrambot.bot import bot_settings
from telegrambot.bot_state import bot_pause, bot_timeout_grow
from telegrambot.models import BotState
from tests.conftest import TEST_BOT_TOKEN

pytestmark = pytest.mark.django_db

BOT_STATES = "/admin/telegrambot/botstate/"


def test_a_paused_bot_is_listed_read_only_without_its_token(admin_client, telegram):
    bot_id = bot_settings().bot_id
    bot_pause(bot_id=bot_id, until=timezone.now() + timedelta(seconds=30), reason="429 on notification #7")
    bot_timeout_grow(bot_id=bot_id, timed_out_after=2)
    state = BotState.objects.get()
    change_url = f"{BOT_STATES}{state.pk}/change/"

    listing = admin_client.get(BOT_STATES)

    assert listing.status_code == 200
    assert bot_id == TEST_BOT_TOKEN.partition(":")[0]
    assert bot_id.encode() in listing.content
    assert b"429 on notification #7" in listing.content
    assert b"4.0" in listing.content  # the request timeout in force, doubled from 2 s
    secret = TEST_BOT_TOKEN.partition(":")[2].encode()
    assert secret not in listing.content
    assert secret not in admin_client.get(change_url).content
    assert admin_client.get(f"{BOT_STATES}add/").status_code == 403
    assert admin_client.post(change_url, {"pause_reason": "edited", "request_timeout": "1"}).status_code == 403
    assert admin_client.post(f"{BOT_STATES}{state.pk}/delete/", {"post": "yes"}).status_code == 403
    state.refresh_from_db()
    assert (state.pause_reason, state.request_timeout) == ("429 on notification #7", 4.0)
