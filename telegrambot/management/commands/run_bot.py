"""Receive Telegram updates by long polling (when no webhook is used).

Each round asks getUpdates for what came (waiting up to --timeout seconds), stores every
update through the same path as the webhook (`update_store`, idempotent on update_id),
handles the new ones in order (`update_process`), then confirms them with the next
offset and delivers the outbox, so replies go out even without a worker (once a minute
it also retries waiting updates and delivers due outbox rows, as the worker's schedules
do). Network trouble is logged and retried with backoff; SIGINT/SIGTERM stop it after
the current update.

Telegram forgets updates only when a later getUpdates carries a higher offset, so before
exiting (after --once, or when stopped) the command confirms what it stored with one
more short call (offset = last + 1, limit 1, no wait); otherwise every cron run would
fetch the same backlog again. An update that cannot be stored although the database
works (tried STORE_ATTEMPTS times) is logged and skipped, so it cannot hold up the ones
behind it; while the database itself is unreachable nothing is skipped.

    manage.py run_bot               poll until stopped
    manage.py run_bot --once        one round, without waiting (for tests and cron)
    manage.py run_bot --if-polling  exit 0 at once when no token is set or TELEGRAM_WEBHOOK_URL
                                    is (what scripts/run-dev.sh starts)
"""

import asyncio
import logging
import signal
import threading
import time
import warnings
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from telegrambot.application import ALLOWED_UPDATES
from telegrambot.bot import BotSession, telegram_configured
from telegrambot.delivery import outbox_deliver
from telegrambot.models import TelegramUpdate, UpdateSource
from telegrambot.updates import (
    UpdateInvalid,
    error_summary,
    update_process,
    update_store,
    update_validate,
    updates_retry_due,
)

logger = logging.getLogger("telegrambot.polling")

POLL_TIMEOUT_SECONDS = 25
BACKOFF_START_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
CONFLICT_BACKOFF_SECONDS = 30.0
BATCH_LIMIT = 100
SWEEP_INTERVAL_SECONDS = 60.0
STORE_ATTEMPTS = 3
STORE_RETRY_SECONDS = 0.5


class _Stop(Exception):
    """The long poll was cut short by SIGINT/SIGTERM."""


class Command(BaseCommand):
    help = "Long-poll Telegram for updates and handle them (when no webhook is set)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one getUpdates round without waiting, then exit")
        parser.add_argument(
            "--if-polling", action="store_true",
            help="exit 0 straight away when there is no bot token or TELEGRAM_WEBHOOK_URL is set",
        )
        parser.add_argument("--timeout", type=int, default=POLL_TIMEOUT_SECONDS,
                            help=f"seconds getUpdates waits for an update (default {POLL_TIMEOUT_SECONDS})")

    def handle(self, *args, once: bool, if_polling: bool, timeout: int, **options):
        if not telegram_configured():
            if if_polling:
                self.stdout.write("Telegram polling not started: TELEGRAM_BOT_TOKEN is not set.")
                return
            raise CommandError("TELEGRAM_BOT_TOKEN is not set")
        if settings.TELEGRAM_WEBHOOK_URL:
            message = ("Telegram polling not started: TELEGRAM_WEBHOOK_URL is set, so updates arrive by "
                       "webhook (unset it and run `manage.py telegram_webhook delete` to poll instead).")
            if if_polling:
                self.stdout.write(message)
                return
            raise CommandError(message)
        self._stopping = False
        self._waiting = False
        self._offset: int | None = None
        self._confirmed: int | None = None  # the offset Telegram was last given
        restore = self._install_signal_handlers()
        try:
            if once:
                try:
                    self._round(session_timeout=0)
                except _Stop:
                    pass
                except TelegramError as exc:
                    raise CommandError(f"getUpdates failed: {error_summary(exc)}") from None
            else:
                self.stdout.write("Polling Telegram for updates; Ctrl-C to stop.")
                self._run(timeout=max(timeout, 0))
        finally:
            restore()
            self._confirm()
        self.stdout.write("Telegram polling stopped.")

    # --- the loop ---------------------------------------------------------------------
    def _run(self, *, timeout: int) -> None:
        backoff = BACKOFF_START_SECONDS
        last_sweep = time.monotonic()
        while not self._stopping:
            try:
                self._round(session_timeout=timeout)
                backoff = BACKOFF_START_SECONDS
                if time.monotonic() - last_sweep >= SWEEP_INTERVAL_SECONDS:
                    last_sweep = time.monotonic()
                    self._sweep()
            except _Stop:
                break
            except InvalidToken as exc:
                raise CommandError(f"Telegram rejected the bot token: {error_summary(exc)}") from None
            except RetryAfter as exc:
                self._sleep(_retry_after_seconds(exc), "rate limited by Telegram")
            except Conflict as exc:
                logger.error("getUpdates refused (%s): a webhook is set for this bot (`manage.py "
                             "telegram_webhook delete`) or another poller is running", error_summary(exc))
                self._sleep(CONFLICT_BACKOFF_SECONDS, "conflict")
            except TelegramError as exc:  # network trouble, 5xx, timeouts
                logger.warning("getUpdates failed: %s", error_summary(exc))
                self._sleep(backoff, "network error")
                backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)
            except Exception as exc:  # a bug, or the database away: keep polling, loudly
                logger.exception("Polling round failed (%s)", type(exc).__name__)
                self._sleep(backoff, "unexpected error")
                backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)

    def _round(self, *, session_timeout: int) -> None:
        """One getUpdates call; store and handle what came; deliver the outbox."""
        with BotSession() as session:
            self._waiting = True
            try:
                if self._stopping:
                    raise _Stop
                offset = self._offset
                updates = session.call(lambda bot: _get_updates(bot, offset=offset, timeout=session_timeout))
            except asyncio.CancelledError:  # the signal handler cancelled the long poll
                raise _Stop from None
            finally:
                self._waiting = False
        self._confirmed = offset
        handled = 0
        for payload in updates:
            try:
                update_id = update_validate(payload)
            except UpdateInvalid as exc:
                logger.error("getUpdates returned something that is not an Update (%s); skipped", exc.message)
                continue
            update, created = self._store(payload, update_id=update_id)
            # Confirmed with the next getUpdates: stored now, so never lost (the sweep retries it).
            self._offset = update_id + 1
            if created:
                result = update_process(update_id=update.update_id)
                handled += 1
                logger.info("Update %s: %s", update.update_id, result)
            if self._stopping:
                break
        if handled:
            outbox_deliver()

    def _store(self, payload: dict, *, update_id: int) -> tuple[TelegramUpdate | None, bool]:
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

    def _confirm(self) -> None:
        """Tell Telegram the updates below the offset were received (it forgets them only
        when a getUpdates carries a higher offset): one call, limit 1, no wait; what it
        returns is left for the next run. A failure only means they come again, and
        being stored already they are not handled twice."""
        if self._offset is None or self._offset == self._confirmed:
            return
        offset = self._offset
        try:
            with BotSession() as session:
                session.call(lambda bot: _get_updates(bot, offset=offset, timeout=0, limit=1))
        except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 (best effort: never hides how the run ended)
            logger.warning("Could not confirm updates below %s to Telegram (%s); they will be fetched again",
                           offset, error_summary(exc))
            return
        self._confirmed = offset

    def _sweep(self) -> None:
        """What the worker's schedules also do, so polling works without a worker: retry
        updates left waiting, deliver the outbox rows now due (both safe to run twice)."""
        retried = updates_retry_due(limit=10, time_budget_seconds=30.0)
        if any(retried.values()):
            logger.info("Update retry sweep: %s", retried)
        outbox_deliver()

    # --- stopping ---------------------------------------------------------------------
    def _install_signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def stop(signum, frame):
            self._stopping = True
            if self._waiting:  # in a long poll: nothing to finish, so cancel it and leave now
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    return
                loop.call_soon_threadsafe(_cancel_all, loop)

        for sig in previous:
            signal.signal(sig, stop)

        def restore():
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore

    def _sleep(self, seconds: float, why: str) -> None:
        logger.info("Polling paused for %.0f s (%s)", seconds, why)
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(min(0.5, deadline - time.monotonic()))


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


async def _get_updates(bot, *, offset: int | None, timeout: int, limit: int | None = None) -> list[dict]:
    """getUpdates, returning the updates' JSON exactly as Telegram sent it (what the
    webhook stores too), not PTB objects."""
    kwargs = {"timeout": timeout, "limit": limit or BATCH_LIMIT, "allowed_updates": ALLOWED_UPDATES}
    if offset is not None:
        kwargs["offset"] = offset
    with warnings.catch_warnings():  # PTB suggests bot.get_updates, which parses the JSON
        warnings.filterwarnings("ignore", category=PTBUserWarning, message=".*Bot.getUpdates.*")
        result = await bot.do_api_request(
            "getUpdates", api_kwargs=kwargs, read_timeout=bot_read_timeout(timeout),
        )
    return list(result or [])


def bot_read_timeout(poll_timeout: int) -> float:
    return poll_timeout + float(getattr(settings, "TELEGRAM_REQUEST_TIMEOUT_SECONDS", 10.0))


def _retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
