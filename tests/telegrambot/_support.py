"""Helpers for the bot's tests: feed updates through the one handling path, read replies."""

import itertools

from telegrambot.delivery import outbox_deliver
from telegrambot.models import TelegramUpdate
from telegrambot.updates import update_process, update_store
from tests.fakes.telegram_api import callback_query_update, message_update

WEBHOOK_SECRET = "test-webhook-secret-0003"
MASTER = 1001
STRANGER = 2002

_update_ids = itertools.count(10_000)


def next_update_id() -> int:
    return next(_update_ids)


def message(text: str, **kwargs) -> dict:
    """A message Update with a fresh update_id."""
    return message_update(text, update_id=kwargs.pop("update_id", None) or next_update_id(), **kwargs)


def tap(data: str, **kwargs) -> dict:
    """A button-tap Update with a fresh update_id."""
    return callback_query_update(data, update_id=kwargs.pop("update_id", None) or next_update_id(), **kwargs)


def handle(payload: dict, *, deliver: bool = True) -> str:
    """Store and process an update as a worker would, then deliver the outbox; returns
    update_process's outcome."""
    update, _ = update_store(payload=payload)
    result = update_process(update_id=update.update_id)
    if deliver:
        outbox_deliver()
    return result


def stored(payload: dict) -> TelegramUpdate:
    return TelegramUpdate.objects.get(update_id=payload["update_id"])
