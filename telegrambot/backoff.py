"""Waiting after a failure: the one exponential backoff rule of the bot (outbox delivery,
update retries and the poller use it with their own base and cap), and the wait Telegram's
flood control asks for."""

import warnings
from datetime import timedelta

from telegram.error import RetryAfter
from telegram.warnings import PTBDeprecationWarning


def backoff_delay(*, attempts: int, base_seconds: float, cap_seconds: float) -> timedelta:
    """The wait after the `attempts`-th failure in a row: base, 2 x base, 4 x base ... at
    most `cap_seconds` (the first failure, or none, waits `base_seconds`)."""
    exponent = min(max(attempts - 1, 0), 32)  # beyond this the cap is reached anyway
    return timedelta(seconds=min(base_seconds * 2**exponent, cap_seconds))


def retry_after_seconds(exc: RetryAfter) -> float:
    """The seconds a 429 asks to wait, whichever type this PTB version gives."""
    with warnings.catch_warnings():  # int-or-timedelta is deprecated in favour of timedelta
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
