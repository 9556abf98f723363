"""The update being handled, as the handlers' reply sees it: its `processed` mark is
written inside the reply's own transaction (`update_done_in_transaction`, called by
`telegrambot.messages.reply_send`), so the reply and the mark commit together and the
worker spends no separate write on it.

`update_processing(update)` (entered by `telegrambot.updates` around the handlers) makes
the mark possible; `mark.committed` turns true only once the transaction holding it has
committed (`transaction.on_commit`). Until then, or for an update answered otherwise
(a stranger's note, a tapped button), the worker marks the update itself, as before.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import transaction

from agentsite.core.clock import utc_now
from agentsite.core.context import context_set

from .models import TelegramUpdate, UpdateStatus


@dataclass
class ProcessingMark:
    pk: int
    update_id: int
    written: bool = False
    committed: bool = False

    def _commit(self) -> None:
        self.committed = True


_current: ContextVar[ProcessingMark | None] = ContextVar("telegram_update_processing", default=None)


@contextmanager
def update_processing(update: TelegramUpdate) -> Iterator[ProcessingMark]:
    """While handling `update`: its reply may mark it processed in the reply's transaction."""
    with context_set(_current, ProcessingMark(pk=update.pk, update_id=update.update_id)) as mark:
        yield mark


def update_processed_fields() -> dict:
    """What a processed update's row holds (the one definition)."""
    return {"status": UpdateStatus.PROCESSED, "processed_at": utc_now(), "processing_until": None,
            "next_attempt_at": None, "last_error": ""}


def update_done_in_transaction(*, update_id: int) -> None:
    """Mark the update being handled processed, in the caller's transaction (its reply's);
    nothing when no update with this id is being handled here."""
    mark = _current.get()
    if mark is None or mark.update_id != update_id or mark.written:
        return
    TelegramUpdate.objects.filter(pk=mark.pk).update(**update_processed_fields())
    mark.written = True
    # Rolled back (the reply's transaction failed): the callback is dropped, `committed`
    # stays false, and the worker records the attempt's outcome itself.
    transaction.on_commit(mark._commit)
