"""Django-Q2 tasks of the Telegram app (kept thin: the work is in the services)."""

from .delivery import outbox_deliver
from .updates import update_process, updates_retry_due


def outbox_deliver_task() -> dict:
    """Deliver the due outbox rows; queued by `notification_enqueue` and by the periodic sweep."""
    return outbox_deliver()


def update_process_task(update_id: int) -> str:
    """Handle one stored update; queued by the webhook when the update is committed."""
    return f"update {update_id}: {update_process(update_id=update_id)}"


def updates_retry_task() -> dict:
    """The periodic sweep (every minute): retry updates that failed or were never picked up."""
    return updates_retry_due()
