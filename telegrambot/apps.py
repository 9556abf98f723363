from django.apps import AppConfig
from django.test.signals import setting_changed


def _reset_bot_settings(*, setting: str, **kwargs) -> None:
    if setting.startswith("TELEGRAM_"):
        from .bot import bot_settings
        from .runtime import telegram_runtime_reset

        bot_settings.cache_clear()
        telegram_runtime_reset()  # its Bot was made from the old settings


class TelegrambotConfig(AppConfig):
    name = "telegrambot"
    verbose_name = "Telegram"

    def ready(self) -> None:
        setting_changed.connect(_reset_bot_settings, dispatch_uid="telegrambot-reset-bot-settings")
        # Connects delivery's receiver of decisions' notification_requeued (the models are
        # loaded only now, so not at the top of this module).
        from . import delivery  # noqa: F401
