"""Django-Q2 tasks of the Telegram app (kept thin: the work is in the services)."""

from .delivery import outbox_deliver
from .updates import updates_drain, updates_retry_due


def outbox_deliver_task() -> dict:
    """Deliver the due outbox rows; queued by `notification_enqueue` and by the periodic sweep."""
    return outbox_deliver()


def update_process_task(update_id: int) -> str:
    """Handle the stored updates waiting, this one among them, a batch at a time; queued by
    the webhook when the update is committed (a task finding them taken has nothing to do)."""
    report = updates_drain()
    done = ", ".join(f"{count} {outcome}" for outcome, count in report.items() if count)
    return f"update {update_id}: {done or 'skipped'}"


def updates_retry_task() -> dict:
    """The periodic sweep (every minute): retry updates that failed or were never picked up."""
    return updates_retry_due()
