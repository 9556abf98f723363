"""Secret scrubbing: a logging filter for every record, and `redact_short` for error text
stored in the database. In the kernel so that any app may use it (it imports no app)."""

import logging

REDACTED = "[redacted]"
_MIN_SECRET_LENGTH = 6  # shorter values would redact ordinary words


def configured_secrets() -> list[str]:
    from django.conf import settings

    if not settings.configured:
        return []
    values = [getattr(settings, name, "") for name in settings.SECRET_SETTING_NAMES]
    # A bot token's part after the colon is the secret half; it can show up on its own.
    values.append((getattr(settings, "TELEGRAM_BOT_TOKEN", "") or "").partition(":")[2])
    return [v for v in values if isinstance(v, str) and len(v) >= _MIN_SECRET_LENGTH]


def redact(text: str, secrets: list[str] | None = None) -> str:
    for secret in configured_secrets() if secrets is None else secrets:
        text = text.replace(secret, REDACTED)
    return text


def redact_short(text: str, *, limit: int) -> str:
    """Secret-free and at most `limit` characters: for error text stored in the database."""
    text = redact(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        secrets = configured_secrets()
        if not secrets:
            return True
        message = record.getMessage()
        if any(secret in message for secret in secrets):
            record.msg, record.args = redact(message, secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        return True
