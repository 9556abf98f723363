"""Register, remove or inspect the bot's webhook with Telegram.

    manage.py telegram_webhook set [URL] [--drop-pending]   URL defaults to TELEGRAM_WEBHOOK_URL
    manage.py telegram_webhook delete [--drop-pending]
    manage.py telegram_webhook info

`set` refuses to run without TELEGRAM_WEBHOOK_SECRET (the webhook view would answer 404
anyway): Telegram is given the secret to send back in X-Telegram-Bot-Api-Secret-Token,
and asked only for messages and button taps. Nothing printed ever holds the bot token
or the secret.
"""

from django.conf import settings
from django.core.management.base import CommandError
from telegram.error import TelegramError

from agentsite.core.console import OperatorCommand
from telegrambot.application import ALLOWED_UPDATES
from telegrambot.bot import TelegramNotConfigured, run_with_bot
from telegrambot.updates import error_summary

WEBHOOK_PATH = "/telegram/webhook/"


class Command(OperatorCommand):  # prints only its answer unless -v 2
    help = "Manage the Telegram webhook: set [URL] | delete | info"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        set_ = sub.add_parser("set", help="point Telegram at this server's /telegram/webhook/")
        set_.add_argument("url", nargs="?", default="", help="public https URL (default: TELEGRAM_WEBHOOK_URL)")
        set_.add_argument("--drop-pending", action="store_true", help="discard updates Telegram still holds")
        delete = sub.add_parser("delete", help="remove the webhook (polling works again)")
        delete.add_argument("--drop-pending", action="store_true", help="discard updates Telegram still holds")
        sub.add_parser("info", help="show the webhook Telegram has, pending updates and the last error")

    def handle(self, *args, verb: str, **options):
        try:
            getattr(self, f"_{verb}")(**options)
        except TelegramNotConfigured:
            raise CommandError("TELEGRAM_BOT_TOKEN is not set") from None
        except TelegramError as exc:
            raise CommandError(f"Telegram refused: {error_summary(exc)}") from None

    def _set(self, *, url: str, drop_pending: bool, **options) -> None:
        url = url or settings.TELEGRAM_WEBHOOK_URL
        if not url:
            raise CommandError("Give the webhook URL, or set TELEGRAM_WEBHOOK_URL")
        secret = settings.TELEGRAM_WEBHOOK_SECRET
        if not secret:
            raise CommandError(
                "TELEGRAM_WEBHOOK_SECRET is not set: refusing to register a webhook anyone could post to"
            )
        if not url.startswith("https://"):
            self.stderr.write("Warning: Telegram only delivers to https:// URLs.")
        if not url.rstrip("/").endswith(WEBHOOK_PATH.rstrip("/")):
            self.stderr.write(f"Warning: this server receives updates at {WEBHOOK_PATH}; the URL doesn't end so.")
        run_with_bot(lambda bot: bot.set_webhook(
            url=url, secret_token=secret, allowed_updates=ALLOWED_UPDATES, drop_pending_updates=drop_pending,
        ))
        self.stdout.write(f"Webhook set: {url} (updates: {', '.join(ALLOWED_UPDATES)}; secret token sent)")

    def _delete(self, *, drop_pending: bool, **options) -> None:
        run_with_bot(lambda bot: bot.delete_webhook(drop_pending_updates=drop_pending))
        self.stdout.write("Webhook deleted" + (" and pending updates dropped." if drop_pending else "."))

    def _info(self, **options) -> None:
        info = run_with_bot(lambda bot: bot.get_webhook_info())
        self.stdout.write(f"url: {info.url or '(none: polling)'}")
        self.stdout.write(f"pending updates: {info.pending_update_count}")
        if info.allowed_updates:
            self.stdout.write(f"allowed updates: {', '.join(info.allowed_updates)}")
        if info.last_error_message:
            when = f"{info.last_error_date:%Y-%m-%d %H:%M} UTC: " if info.last_error_date else ""
            self.stdout.write(f"last error: {when}{info.last_error_message}")
        else:
            self.stdout.write("last error: none")
