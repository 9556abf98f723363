"""Receiving updates by long polling (when no webhook is used): `manage.py run_bot` runs a
`Poller`.

Each round asks getUpdates for what came (waiting up to the poll timeout), stores every
update through the same path as the webhook (`update_store`, idempotent on update_id),
handles the new ones in order (`update_process`), then confirms them with the next
offset and delivers the outbox, so replies go out even without a worker (once a minute
it also retries waiting updates and delivers due outbox rows, as the worker's schedules
do). Network trouble is logged and retried with backoff; `stop()` (SIGINT/SIGTERM, see
`signals_install`) ends the run after the current update.

Telegram forgets updates only when a later getUpdates carries a higher offset, so before
the run ends the caller confirms what was stored with one more short call (`confirm`:
offset = last + 1, limit 1, no wait); otherwise every cron run would fetch the same
backlog again. An update that cannot be stored although the database works (tried
STORE_ATTEMPTS times) is logged and skipped, so it cannot hold up the ones behind it;
while the database itself is unreachable nothing is skipped.
"""

import asyncio
import logging
import signal
import threading
import time
import warnings
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError
from telegram.warnings import PTBUserWarning

from .application import ALLOWED_UPDATES
from .backoff import backoff_delay, retry_after_seconds
from .bot import DEFAULT_TIMEOUT_SECONDS, BotSession
from .delivery import outbox_deliver
from .models import TelegramUpdate, UpdateSource
from .updates import UpdateInvalid, error_summary, update_process, update_store, update_validate, updates_retry_due

logger = logging.getLogger(__name__)

POLL_TIMEOUT_SECONDS = 25
BACKOFF_START_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
CONFLICT_BACKOFF_SECONDS = 30.0
BATCH_LIMIT = 100
SWEEP_INTERVAL_SECONDS = 60.0
STORE_ATTEMPTS = 3
STORE_RETRY_SECONDS = 0.5


class PollingStopped(Exception):
    """The long poll was cut short by `Poller.stop` (SIGINT/SIGTERM)."""


class Poller:
    """One polling run: the offset reached, the one confirmed to Telegram, and the stop flag."""

    def __init__(self) -> None:
        self.stopping = False
        self.waiting = False  # inside getUpdates' long poll (a stop cancels it)
        self.offset: int | None = None
        self.confirmed: int | None = None  # the offset Telegram was last given

    def run(self, *, timeout: int) -> None:
        """Poll until stopped; a rejected token (InvalidToken) ends the run, anything else
        is logged and waited out."""
        failures = 0
        last_sweep = time.monotonic()
        while not self.stopping:
            try:
                self.round(session_timeout=timeout)
                failures = 0
                if time.monotonic() - last_sweep >= SWEEP_INTERVAL_SECONDS:
                    last_sweep = time.monotonic()
                    self.sweep()
            except PollingStopped:
                break
            except InvalidToken:
                raise
            except RetryAfter as exc:
                self.sleep(retry_after_seconds(exc), "rate limited by Telegram")
            except Conflict as exc:
                logger.error("getUpdates refused (%s): a webhook is set for this bot (`manage.py "
                             "telegram_webhook delete`) or another poller is running", error_summary(exc))
                self.sleep(CONFLICT_BACKOFF_SECONDS, "conflict")
            except TelegramError as exc:  # network trouble, 5xx, timeouts
                logger.warning("getUpdates failed: %s", error_summary(exc))
                failures += 1
                self.sleep(_backoff_seconds(failures), "network error")
            except Exception as exc:  # a bug, or the database away: keep polling, loudly
                logger.exception("Polling round failed (%s)", type(exc).__name__)
                failures += 1
                self.sleep(_backoff_seconds(failures), "unexpected error")

    def round(self, *, session_timeout: int) -> None:
        """One getUpdates call; store and handle what came; deliver the outbox."""
        with BotSession() as session:
            self.waiting = True
            try:
                if self.stopping:
                    raise PollingStopped
                offset = self.offset
                updates = session.call(lambda bot: get_updates(bot, offset=offset, timeout=session_timeout))
            except asyncio.CancelledError:  # the signal handler cancelled the long poll
                raise PollingStopped from None
            finally:
                self.waiting = False
        self.confirmed = offset
        handled = 0
        for payload in updates:
            try:
                update_id = update_validate(payload)
            except UpdateInvalid as exc:
                logger.error("getUpdates returned something that is not an Update (%s); skipped", exc.message)
                continue
            update, created = self.store(payload, update_id=update_id)
            # Confirmed with the next getUpdates: stored now, so never lost (the sweep retries it).
            self.offset = update_id + 1
            if created:
                result = update_process(update_id=update.update_id)
                handled += 1
                logger.info("Update %s: %s", update.update_id, result)
            if self.stopping:
                break
        if handled:
            outbox_deliver()

    def store(self, payload: dict, *, update_id: int) -> tuple[TelegramUpdate | None, bool]:
        """update_store, tried STORE_ATTEMPTS times; (None, False) when the update itself
        cannot be stored (the database answers, this row fails): logged, and skipped by
        the caller rather than blocking every later update. When the database is away
        the error is raised: the round fails and is retried, nothing skipped."""
        for attempt in range(1, STORE_ATTEMPTS + 1):
            try:
                return update_store(payload=payload, source=UpdateSource.POLLING)
            except Exception as exc:
                if not _database_answers():
                    raise
                if attempt == STORE_ATTEMPTS:
                    logger.error("Update %s could not be stored after %d tries (%s); skipped",
                                 update_id, attempt, error_summary(exc), exc_info=exc)
                    return None, False
                logger.warning("Update %s could not be stored (%s); trying again", update_id, error_summary(exc))
                time.sleep(STORE_RETRY_SECONDS * attempt)
        raise AssertionError("unreachable")

    def confirm(self) -> None:
        """Tell Telegram the updates below the offset were received (it forgets them only
        when a getUpdates carries a higher offset): one call, limit 1, no wait; what it
        returns is left for the next run. A failure only means they come again, and
        being stored already they are not handled twice."""
        if self.offset is None or self.offset == self.confirmed:
            return
        offset = self.offset
        try:
            with BotSession() as session:
                session.call(lambda bot: get_updates(bot, offset=offset, timeout=0, limit=1))
        except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 (best effort: never hides how the run ended)
            logger.warning("Could not confirm updates below %s to Telegram (%s); they will be fetched again",
                           offset, error_summary(exc))
            return
        self.confirmed = offset

    def sweep(self) -> None:
        """What the worker's schedules also do, so polling works without a worker: retry
        updates left waiting, deliver the outbox rows now due (both safe to run twice)."""
        retried = updates_retry_due(limit=10, time_budget_seconds=30.0)
        if any(retried.values()):
            logger.info("Update retry sweep: %s", retried)
        outbox_deliver()

    def stop(self) -> None:
        """End the run after the current update; in a long poll there is nothing to finish,
        so it is cancelled and the run ends now (call from the polling thread: a signal)."""
        self.stopping = True
        if self.waiting:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            loop.call_soon_threadsafe(_cancel_all, loop)

    def sleep(self, seconds: float, why: str) -> None:
        logger.info("Polling paused for %.0f s (%s)", seconds, why)
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.5, deadline - time.monotonic()))


def signals_install(poller: Poller) -> Callable[[], None]:
    """SIGINT/SIGTERM stop the poller (main thread only); returns what restores the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, frame: poller.stop())

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


async def get_updates(bot, *, offset: int | None, timeout: int, limit: int | None = None) -> list[dict]:
    """getUpdates, returning the updates' JSON exactly as Telegram sent it (what the
    webhook stores too), not PTB objects."""
    kwargs = {"timeout": timeout, "limit": limit or BATCH_LIMIT, "allowed_updates": ALLOWED_UPDATES}
    if offset is not None:
        kwargs["offset"] = offset
    with warnings.catch_warnings():  # PTB suggests bot.get_updates, which parses the JSON
        warnings.filterwarnings("ignore", category=PTBUserWarning, message=".*Bot.getUpdates.*")
        result = await bot.do_api_request("getUpdates", api_kwargs=kwargs, read_timeout=read_timeout(timeout))
    return list(result or [])


def read_timeout(poll_timeout: int) -> float:
    """The long poll's wait plus the bot's request timeout."""
    return poll_timeout + float(getattr(settings, "TELEGRAM_REQUEST_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))


def _backoff_seconds(failures: int) -> float:
    """1 s, 2 s, 4 s ... at most a minute after `failures` failed rounds in a row."""
    return backoff_delay(attempts=failures, base_seconds=BACKOFF_START_SECONDS,
                         cap_seconds=BACKOFF_MAX_SECONDS).total_seconds()


def _cancel_all(loop) -> None:
    for task in asyncio.all_tasks(loop):
        task.cancel()


def _database_answers() -> bool:
    """Whether the database answers a trivial query on the updates' table."""
    try:
        TelegramUpdate.objects.exists()
    except DatabaseError:
        return False
    return True
