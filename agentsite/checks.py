"""Start-up checks: say plainly what will not work with the current configuration."""

from django.conf import settings
from django.core.checks import Warning, register


@register()
def claude_credentials(app_configs, **kwargs):
    if settings.ANTHROPIC_API_KEY or settings.CLAUDE_CODE_OAUTH_TOKEN:
        return []
    return [
        Warning(
            "No Claude credentials: proactive cycles are skipped until one is set.",
            hint="Set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN (environment or .env).",
            id="agentsite.W001",
        )
    ]


@register()
def master_chats(app_configs, **kwargs):
    if settings.MASTER_CHAT_IDS:
        return []
    return [
        Warning(
            "MASTER_CHAT_IDS is empty: no one is the Master on Telegram, so nothing is sent there.",
            hint="Set MASTER_CHAT_IDS to your Telegram chat id(s), comma-separated.",
            id="agentsite.W002",
        )
    ]
