"""Per-bot delivery state (`BotState`), shared by every delivery worker through the database.

Flood control is Telegram's per bot: a 429's retry_after pauses every send of the bot
(`bot_pause`), to any chat, by any worker, until `BotState.paused_until` has passed;
`telegrambot.delivery` checks it when it claims a row and again before each further part.

The per-phase request timeout (connect, write, each read) starts at
TELEGRAM_REQUEST_TIMEOUT_SECONDS and doubles for the bot after each timeout
(`bot_timeout_grow`, up to TIMEOUT_CAP_SECONDS), settling back once answers are quick
(`bot_timeout_settle`): a Telegram slower than the timeout costs one duplicate, not one per
retry. A grown timeout is stored in `BotState.request_timeout`; empty means the configured one.

`BotState` is keyed by the bot's public id (the token's part before the colon), never the
token's secret half.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from .bot import bot_settings
from .models import BotState

TIMEOUT_CAP_SECONDS = 60.0  # the per-phase timeout grows after timeouts up to this


@transaction.atomic
def bot_pause(*, bot_id: str, until: datetime, reason: str = "") -> datetime:
    """No send of this bot, by any worker, before `until` (a pause already longer stays);
    returns when the pause ends."""
    state, _ = BotState.objects.select_for_update().get_or_create(bot_id=bot_id)
    if state.paused_until is None or state.paused_until < until:
        state.paused_until, state.pause_reason = until, reason[:200]
        state.save(update_fields=["paused_until", "pause_reason", "updated_at"])
    return state.paused_until


@transaction.atomic
def bot_timeout_grow(*, bot_id: str, timed_out_after: float) -> float:
    """A request with per-phase timeout `timed_out_after` timed out: the bot's next requests
    get twice that (at most TIMEOUT_CAP_SECONDS); returns the timeout now in force."""
    grown = min(timed_out_after * 2, _timeout_cap())
    state, _ = BotState.objects.select_for_update().get_or_create(bot_id=bot_id)
    if (state.request_timeout or 0) < grown:
        state.request_timeout = grown
        state.save(update_fields=["request_timeout", "updated_at"])
    return state.request_timeout


def bot_timeout_settle(*, bot_id: str, used: float, slowest: float) -> None:
    """A send with timeout `used` succeeded, its slowest request taking `slowest` seconds:
    shrink the grown timeout towards twice that, never below the configured one."""
    base = bot_settings().timeout
    if used <= base:
        return
    settled = max(base, min(used, slowest * 2))
    if settled < used:
        # Only if no other worker changed it meanwhile (a timeout there wins).
        BotState.objects.filter(bot_id=bot_id, request_timeout=used).update(
            request_timeout=None if settled == base else settled, updated_at=timezone.now()
        )


def bot_paused_for(bot_id: str, now: datetime) -> str:
    """Why nothing may be sent now (flood control), or ''."""
    until = BotState.objects.filter(bot_id=bot_id, paused_until__gt=now).values_list("paused_until", flat=True).first()
    return pause_detail(until - now) if until else ""


def pause_detail(left: timedelta) -> str:
    return f"paused by Telegram's flood control for {left.total_seconds():.1f} s more"


def _timeout_cap() -> float:
    return max(TIMEOUT_CAP_SECONDS, bot_settings().timeout)
