from django.apps import AppConfig
from django.test.signals import setting_changed

from .bot import bot_settings


def _reset_bot_settings(*, setting: str, **kwargs) -> None:
    if setting.startswith("TELEGRAM_"):
        bot_settings.cache_clear()


class TelegrambotConfig(AppConfig):
    name = "telegrambot"
    verbose_name = "Telegram"

    def ready(self) -> None:
        setting_changed.connect(_reset_bot_settings, dispatch_uid="telegrambot-reset-bot-settings")
        # Connects delivery's receiver of decisions' notification_requeued (the models are
        # loaded only now, so not at the top of this module).
        from . import delivery  # noqa: F401
