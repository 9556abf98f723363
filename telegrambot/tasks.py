"""Django-Q2 tasks of the Telegram app (kept thin: the work is in the services)."""

from .delivery import outbox_deliver


def outbox_deliver_task() -> dict:
    """Deliver the due outbox rows; queued by `notification_enqueue` and by the periodic sweep."""
    return outbox_deliver()
