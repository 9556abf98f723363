"""Receive Telegram updates by long polling (when no webhook is used); the loop is
`telegrambot.polling.Poller`.

    manage.py run_bot               poll until stopped (SIGINT/SIGTERM stop it after the current update)
    manage.py run_bot --once        one round, without waiting (for tests and cron)
    manage.py run_bot --if-polling  exit 0 at once when no token is set or TELEGRAM_WEBHOOK_URL
                                    is (what scripts/run-dev.sh starts)

Before exiting (after --once, or when stopped) what was stored is confirmed to Telegram,
so the next run does not fetch the same backlog again.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from telegram.error import InvalidToken, TelegramError

from telegrambot.bot import telegram_configured
from telegrambot.polling import POLL_TIMEOUT_SECONDS, Poller, PollingStopped, signals_install
from telegrambot.updates import error_summary

WEBHOOK_SET = ("Telegram polling not started: TELEGRAM_WEBHOOK_URL is set, so updates arrive by "
               "webhook (unset it and run `manage.py telegram_webhook delete` to poll instead).")


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
        refusal = self._refusal()
        if refusal:
            if if_polling:
                self.stdout.write(refusal)
                return
            raise CommandError("TELEGRAM_BOT_TOKEN is not set" if not telegram_configured() else refusal)
        poller = Poller()
        restore = signals_install(poller)
        try:
            if once:
                self._once(poller)
            else:
                self.stdout.write("Polling Telegram for updates; Ctrl-C to stop.")
                try:
                    poller.run(timeout=max(timeout, 0))
                except InvalidToken as exc:
                    raise CommandError(f"Telegram rejected the bot token: {error_summary(exc)}") from None
        finally:
            restore()
            poller.confirm()
        self.stdout.write("Telegram polling stopped.")

    def _once(self, poller: Poller) -> None:
        try:
            poller.round(session_timeout=0)
        except PollingStopped:
            pass
        except TelegramError as exc:
            raise CommandError(f"getUpdates failed: {error_summary(exc)}") from None

    def _refusal(self) -> str:
        """Why polling must not start ("" when it may)."""
        if not telegram_configured():
            return "Telegram polling not started: TELEGRAM_BOT_TOKEN is not set."
        return WEBHOOK_SET if settings.TELEGRAM_WEBHOOK_URL else ""
