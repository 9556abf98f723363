from django.apps import AppConfig
from django.test.signals import setting_changed


def _reset_client(*, setting: str, **kwargs) -> None:
    if setting.startswith(("ANTHROPIC_", "CLAUDE_", "AGENT_LLM_")):
        from .client import anthropic_client

        anthropic_client.cache_clear()


class BudgetConfig(AppConfig):
    name = "budget"
    verbose_name = "Token budget"

    def ready(self) -> None:
        setting_changed.connect(_reset_client, dispatch_uid="budget-reset-client")
