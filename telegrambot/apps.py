from django.apps import AppConfig
from django.test.signals import setting_changed


def _reset_bot_settings(*, setting: str, **kwargs) -> None:
    if setting.startswith("TELEGRAM_"):
        from .bot import bot_settings

        bot_settings.cache_clear()


class TelegrambotConfig(AppConfig):
    name = "telegrambot"
    verbose_name = "Telegram"

    def ready(self) -> None:
        setting_changed.connect(_reset_bot_settings, dispatch_uid="telegrambot-reset-bot-settings")
